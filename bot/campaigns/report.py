"""A campaign's progress as text, CSV or XLSX (what a finance office sends on).

Operator-facing (the coordinator's terminal or file): BHXH codes are masked unless
``full`` is asked for; names are shown, since chasing people by name is the point. The
XLSX has a summary sheet and one sheet per department, in roster order.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from typing import Any

from bot.campaigns.service import STATUSES, Report, ReportLine
from bot.masking import mask_number

HEADERS = ("STT", "Họ và tên", "Chức vụ", "Phòng ban", "Mã số BHXH", "Trạng thái", "Bước",
           "Số biên nhận", "Đã liên hệ bot")
STATUS_WORDS = {
    "not_started": "chưa bắt đầu",
    "in_progress": "đang khai",
    "submitted": "đã nộp",
    "approved": "đã duyệt",
    "rejected": "bị từ chối",
    "expired": "hết hạn",
}
NOT_ON_ROSTER = "không có trong danh sách"
#: Names a conversation's state for the report ("full_name" → "Họ và tên"); by default
#: the state itself.
StepName = Callable[[str], str]


def _same(state: str) -> str:
    return state


def _cells(line: ReportLine, *, full: bool, step_name: StepName = _same) -> list[str | int]:
    code = line.bhxh_code if full else mask_number(line.bhxh_code)
    status = STATUS_WORDS.get(line.status, line.status)
    if not line.on_roster:
        return ["", "", "", NOT_ON_ROSTER, "", status, "", line.receipt, "có"]
    reached = "có" if line.reached else "chưa"
    step = step_name(line.step) if line.step else ""
    return [line.position, line.name, line.role, line.department, code, status, step,
            line.receipt, reached]


def _summary(report: Report) -> list[list[str | int]]:
    rows: list[list[str | int]] = [["Phòng ban", "Tổng", *(STATUS_WORDS[s] for s in STATUSES)]]
    for department in [*report.departments(), None]:
        totals = report.totals(department)
        label = department if department is not None else "TỔNG CỘNG"
        rows.append([label, sum(totals.values()), *(totals.get(s, 0) for s in STATUSES)])
    rows.append([NOT_ON_ROSTER, len(report.not_on_roster())])
    return rows


def _heading(report: Report) -> str:
    c = report.campaign
    left = report.days_left
    when = f"còn {left} ngày" if left >= 0 else f"đã quá hạn {-left} ngày"
    return f"{c.name} — cơ quan BHXH {c.agency_code} — hạn {c.deadline} ({when})"


def as_text(report: Report, *, full: bool = False, step_name: StepName = _same) -> str:
    out = [_heading(report), ""]
    for line in report.lines:
        cells = _cells(line, full=full, step_name=step_name)
        out.append("  ".join(str(c) for c in cells if c != ""))
    out.append("")
    for row in _summary(report):
        out.append("  ".join(str(c) for c in row))
    return "\n".join(out) + "\n"


#: What makes a spreadsheet read a cell as a formula (OWASP's "CSV injection" list).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: str | int) -> str | int:
    """A roster name like ``=HYPERLINK(…)`` stays text when the CSV is opened in a
    spreadsheet: a leading apostrophe, as OWASP recommends."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def as_csv(report: Report, *, full: bool = False, step_name: StepName = _same) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADERS)
    for line in report.lines:
        writer.writerow([_inert(c) for c in _cells(line, full=full, step_name=step_name)])
    return buffer.getvalue()


_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")


def _sheet_title(name: str, taken: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of ``[]:*?/\\``, unique."""
    base = _SHEET_FORBIDDEN.sub(" ", name).strip()[:28] or "Phòng ban"
    title, n = base, 2
    while title.casefold() in taken:
        title, n = f"{base} {n}", n + 1
    taken.add(title.casefold())
    return title


def _append(sheet: Any, rows: Iterable[Iterable[str | int]]) -> None:
    """Every text is written as a string cell: openpyxl would store one starting with "="
    as a formula (a roster name like ``=HYPERLINK(…)``), and Excel would run it."""
    from openpyxl.cell import WriteOnlyCell

    for row in rows:
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value)
            if isinstance(value, str):
                cell.data_type = "s"
            cells.append(cell)
        sheet.append(cells)


def as_xlsx(report: Report, *, full: bool = False, step_name: StepName = _same) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    taken = {"tổng hợp"}
    summary = book.create_sheet("Tổng hợp")
    _append(summary, [[_heading(report)], [], *_summary(report)])
    by_department: dict[str, list[ReportLine]] = {}
    for line in report.lines:
        key = line.department if line.on_roster else NOT_ON_ROSTER
        by_department.setdefault(key, []).append(line)
    for department, lines in by_department.items():
        sheet = book.create_sheet(_sheet_title(department, taken))
        _append(sheet, [HEADERS, *(_cells(line, full=full, step_name=step_name) for line in lines)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
