"""Benchmark an organisation's campaign: importing a 5,000-person roster, reporting on it.

What runs: the real wiring (``bot.wiring.build``, SQLite in a temporary data folder, the
vault sealing every roster line), a 5,000-row XLSX laid out like seed 003's table (titles,
then the header repeated every 50 rows, as printed pages), imported with
``CampaignService.import_roster`` (read with openpyxl, every row checked, sealed, one
transaction). Then 5,000 declarations — one per roster person, each sealed as the bot
stores it, with its keyed BHXH hash, and the same people's arrivals by the invite link — are
written straight into the tables (untimed: the registration itself is ``bench/flow.py``'s),
and the report is built (``CampaignService.report``: roster opened, declarations and
arrivals joined by hash) and rendered as XLSX (summary + one sheet per department).

Usage: ``python bench/org.py [--people 5000]``. Last line: ``import_ms=… report_ms=…``
(targets: both under 2,000).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openpyxl import Workbook  # noqa: E402

from bot.campaigns import report as formats  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.wiring import build  # noqa: E402
from storage.declarations import stored_form  # noqa: E402

DEPARTMENTS = [f"phòng Ban Số {n}" for n in range(1, 21)]
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def write_roster(path: Path, people: int) -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["MÃ SỐ BẢO HIỂM XÃ HỘI CỦA CÁN BỘ CÔNG CHỨC"])
    for n in range(1, people + 1):
        if (n - 1) % 50 == 0:
            sheet.append(["STT", "Họ và tên", "Chức vụ, phòng ban", "Mã số BHXH"])
        role = f"Chuyên viên, {DEPARTMENTS[n % len(DEPARTMENTS)]}"
        sheet.append([n, f"Nguyễn Văn Thử {n}", role, f"{5000000000 + n}"])
    book.save(path)


async def main(people: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        settings = Settings(
            vssid_data_dir=data, vssid_data_key="11" * 32, vssid_dev_outbox=True
        )  # type: ignore[call-arg]
        parts = await build(settings, lambda: NOW)
        try:
            roster = data / "roster.xlsx"
            write_roster(roster, people)
            campaign = await parts.campaigns.create("Bench", "091", date(2026, 12, 8), None)
            started = time.perf_counter()
            await parts.campaigns.import_roster(campaign.id, roster)
            import_ms = (time.perf_counter() - started) * 1000

            vault = parts.db.vault
            rows, arrivals = [], []
            for n in range(1, people + 1):
                receipt = f"{n:05d}.GD/2026/091"
                sealed, key = stored_form(
                    vault, receipt, {"bhxh_code": f"{5000000000 + n}", "full_name": f"N {n}"}
                )
                user = f"tg:{100000 + n}"
                status = ("submitted", "approved", "rejected")[n % 3]
                rows.append((f"d{n}", user, receipt, "091", status, sealed, key, NOW.isoformat()))
                arrivals.append((campaign.id, user, NOW.isoformat(), key))
            async with parts.db.transaction() as conn:
                await conn.executemany(
                    "INSERT INTO declarations (draft_id, user_key, receipt, agency_code, status, "
                    "data, bhxh_key, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                await conn.executemany(
                    "INSERT INTO campaign_arrivals (campaign_id, user_key, opened_at, bhxh_key) "
                    "VALUES (?, ?, ?, ?)",
                    arrivals,
                )

            started = time.perf_counter()
            report = await parts.campaigns.report(campaign)
            xlsx = formats.as_xlsx(report)
            report_ms = (time.perf_counter() - started) * 1000
            assert len(report.lines) == people and xlsx
            kb = len(xlsx) // 1024
            print(f"people={people} departments={len(report.departments())} xlsx_kb={kb}")
            print(f"import_ms={import_ms:.0f} report_ms={report_ms:.0f}")
        finally:
            await parts.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5000)
    asyncio.run(main(parser.parse_args().people))
