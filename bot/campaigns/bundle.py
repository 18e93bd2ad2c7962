"""The stack a department prints and gathers: every submitted mẫu 01 in one PDF, in roster
order, behind a cover list of the whole department (who has and who has not submitted)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.campaigns.report import STATUS_WORDS
from bot.campaigns.service import Report
from bot.declaration_pdf import agency_info, render_bundle
from bot.flows.ports import AgencyLike
from bot.i18n import Translator
from storage.declarations import DeclarationStore

HANDED_IN = ("submitted", "approved")


async def department_bundle(
    report: Report,
    department: str | None,
    declarations: DeclarationStore,
    agencies: Any,
    translator: Translator,
) -> tuple[bytes, int]:
    """The PDF and how many declarations it holds (``department`` None: the whole roster;
    matched without regard to case, as the roster's own spellings vary)."""
    wanted = department.casefold() if department else None
    lines = [
        line
        for line in report.lines
        if line.on_roster and (wanted is None or line.department.casefold() == wanted)
    ]
    cover, pages = [], []
    for line in lines:
        status = STATUS_WORDS.get(line.status, line.status)
        stored = None
        if line.status in HANDED_IN and line.receipt:
            stored = await declarations.by_receipt(line.receipt)
        if stored is not None and stored.data.get("full_name"):
            agency: AgencyLike | None = agencies.by_code(stored.agency_code)
            submitted = datetime.fromisoformat(stored.submitted_at)
            pages.append((stored.data, stored.receipt, agency_info(agency), submitted))
            cover.append(f"{line.position}. {line.name} — {line.receipt} — {status}")
        else:
            cover.append(f"{line.position}. {line.name} — {status}")
    c = report.campaign
    title = f"{c.name} — {department or 'tất cả phòng ban'} — {len(pages)}/{len(lines)} tờ khai"
    return render_bundle(title, cover, pages, "vi", translator), len(pages)
