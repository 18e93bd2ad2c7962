"""An organisation runs a registration campaign: roster, invite link, matching, report."""

from __future__ import annotations

import asyncio
import csv
import io
import sqlite3
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from bot.__main__ import main
from bot.campaigns import report as formats
from bot.campaigns.roster import RosterError
from bot.campaigns.service import invite_link
from bot.flows.events import Event
from bot.wiring import Components, build
from storage.campaigns import Campaign
from tests.conftest import FakeClock
from tests.story import TYPED_UNTIL_PHONE, Citizen, photo_bytes, submit

#: The seed's own departments and spellings (seed 003), names made up for the tests.
ROLES = (
    "Giám đốc Sở",
    "Chuyên viên, Văn phòng Sở",
    "Trưởng phòng Tổ chức Cán bộ",
    "Chuyên viên, phòng Tổ chức cán bộ",
    "Kế toán viên, phòng Kế hoạch - Tài chính",
)


def code(n: int) -> str:
    return f"50990{n:05d}"


def person(n: int) -> list[object]:
    return [n, f"Nguyễn Thị Thử {n}", ROLES[n % len(ROLES)], code(n)]


def seed_like_xlsx(path: Path, count: int = 30) -> Path:
    """Titles, then the table with its header repeated on each "page" (every 12 rows), the
    later headers spelt as the seed spells them ("Mã số BHHH", "Mã số BHH")."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["MÃ SỐ BẢO HIỂM XÃ HỘI CỦA CÁN BỘ CÔNG CHỨC CƠ QUAN SỞ"])
    sheet.append([])
    headers = ("Mã số BHXH", "Mã số BHHH", "Mã số BHH")
    for n in range(1, count + 1):
        if (n - 1) % 12 == 0:
            sheet.append(["STT", "Họ và tên", "Chức vụ, phòng ban", headers[(n - 1) // 12 % 3]])
        sheet.append(person(n))
    book.save(path)
    return path


def csv_file(path: Path, rows: list[list[object]]) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


async def campaign_with_roster(parts: Components, tmp_path: Path, count: int = 30) -> Campaign:
    from datetime import date

    campaign = await parts.campaigns.create("Sở GD&ĐT An Giang", "091", date(2026, 12, 8), "777")
    if count:
        roster = seed_like_xlsx(tmp_path / "ds.xlsx", count)
        await parts.campaigns.import_roster(campaign.id, roster)
    return campaign


async def registers(c: Citizen, bhxh_code: str, *, finish: bool) -> None:
    """Consent, the usual answers with this BHXH code, then (``finish``) to the receipt."""
    await c.presses("consent:yes:")
    await c.answers_in_turn(bhxh_code, *TYPED_UNTIL_PHONE[1:], "0983 847 986")
    if not finish:
        return
    await c.presses("email_choice:yes")
    await c.says(f"member{c.user_key[3:]}@example.com")  # one address each: codes are rationed
    for seed in (1, 2, 3):
        await c.sends_photo(photo_bytes(seed=seed))
    await c.presses("agency:pick:")  # the first suggestion
    await submit(c)


async def through_link(
    parts: Components, campaign: Campaign, user_key: str, bhxh_code: str, *, finish: bool
) -> Citizen:
    """A member opens the invite link and registers with this code (to the end or not)."""
    member = Citizen(parts, user_key)
    await member.send(Event.slash("start", f"org_{campaign.token}"))
    await registers(member, bhxh_code, finish=finish)
    return member


# -- the roster file ----------------------------------------------------------------------


async def test_a_roster_laid_out_like_the_seed_is_read_over_its_repeated_headers(
    parts: Components, tmp_path: Path
) -> None:
    campaign = await campaign_with_roster(parts, tmp_path)
    roster = await parts.campaigns.store.roster(campaign.id)
    assert [p.bhxh_code for _, p in roster] == [code(n) for n in range(1, 31)]
    departments = {p.department for _, p in roster}
    assert departments == {  # the seed's two spellings of one department are one
        "Giám đốc Sở",
        "Văn phòng Sở",
        "Phòng Tổ chức Cán bộ",
        "Phòng Kế hoạch - Tài chính",
    }


async def test_headers_without_diacritics_or_broken_over_two_rows_are_recognised(
    parts: Components, tmp_path: Path
) -> None:
    campaign = await campaign_with_roster(parts, tmp_path, count=0)
    rows: list[list[object]] = [
        ["So TT", "Ho va ten", "Chuc vu", "Phong ban", "Ma so"],
        ["", "", "", "", "BHXH"],
        [1, "Trần Văn Một", "Chuyên viên", "Phòng Thanh tra", "5096 010 743"],
        [2, "Lê Thị Hai", "Thanh tra viên", "Phòng Thanh tra", "7798500880"],
    ]
    count = await parts.campaigns.import_roster(campaign.id, csv_file(tmp_path / "a.csv", rows))
    assert count == 2
    roster = await parts.campaigns.store.roster(campaign.id)
    assert [(p.name, p.department, p.bhxh_code) for _, p in roster] == [
        ("Trần Văn Một", "Phòng Thanh tra", "5096010743"),
        ("Lê Thị Hai", "Phòng Thanh tra", "7798500880"),
    ]


async def test_a_bad_row_is_reported_by_its_line_and_nothing_is_half_imported(
    parts: Components, tmp_path: Path
) -> None:
    campaign = await campaign_with_roster(parts, tmp_path, count=3)
    rows: list[list[object]] = [
        ["STT", "Họ và tên", "Chức vụ, phòng ban", "Mã số BHXH"],
        person(1)[:3] + ["5099000009"],
        [2, "Người Mới", "Chuyên viên, Văn phòng Sở", "50990"],
        [3, "", "Tài xế", "5096000073"],
        [4, "Người Trùng", "Tài xế", "5099000009"],
    ]
    with pytest.raises(RosterError) as refused:
        await parts.campaigns.import_roster(campaign.id, csv_file(tmp_path / "bad.csv", rows))
    assert [p.line for p in refused.value.problems] == [3, 4, 5]
    assert "line 2" in refused.value.problems[2].reason
    roster = await parts.campaigns.store.roster(campaign.id)
    assert [p.bhxh_code for _, p in roster] == [code(1), code(2), code(3)]


async def test_importing_again_updates_the_roster_by_bhxh_code(
    parts: Components, tmp_path: Path
) -> None:
    campaign = await campaign_with_roster(parts, tmp_path, count=3)
    rows: list[list[object]] = [
        ["STT", "Họ và tên", "Chức vụ, phòng ban", "Mã số BHXH"],
        [1, "Nguyễn Thị Đổi Tên", "Chuyên viên, phòng Thanh tra", code(2)],
        [2, "Người Thứ Tư", "Tài xế", code(4)],
    ]
    await parts.campaigns.import_roster(campaign.id, csv_file(tmp_path / "again.csv", rows))
    roster = {p.bhxh_code: p for _, p in await parts.campaigns.store.roster(campaign.id)}
    assert set(roster) == {code(1), code(2), code(3), code(4)}
    assert roster[code(2)].name == "Nguyễn Thị Đổi Tên"
    assert roster[code(2)].department == "Phòng Thanh tra"


async def test_the_roster_is_sealed_in_the_database_file(
    parts: Components, tmp_path: Path
) -> None:
    campaign = await campaign_with_roster(parts, tmp_path, count=3)
    await parts.close()
    with sqlite3.connect(parts.settings.database_path) as raw:
        stored = raw.execute(
            "SELECT bhxh_key, person FROM campaign_roster WHERE campaign_id = ?", (campaign.id,)
        ).fetchall()
    assert len(stored) == 3
    for key, sealed in stored:
        assert code(1) not in key and b"Nguy" not in sealed and code(1).encode() not in sealed


async def test_a_roster_name_that_looks_like_a_formula_stays_text_in_the_reports(
    parts: Components, tmp_path: Path
) -> None:
    campaign = await campaign_with_roster(parts, tmp_path, count=0)
    rows: list[list[object]] = [
        ["STT", "Họ và tên", "Chức vụ, phòng ban", "Mã số BHXH"],
        [1, '=HYPERLINK("http://example.com","Bấm")', "Chuyên viên, Văn phòng Sở", code(1)],
    ]
    await parts.campaigns.import_roster(campaign.id, csv_file(tmp_path / "f.csv", rows))
    report = await parts.campaigns.report(campaign)
    sheet = load_workbook(io.BytesIO(formats.as_xlsx(report)))["Văn phòng Sở"]
    cell = sheet.cell(row=2, column=2)
    assert cell.data_type == "s" and str(cell.value).endswith('"Bấm")')
    [_, line] = list(csv.reader(io.StringIO(formats.as_csv(report))))
    assert not line[1].startswith("=")


# -- the member's side --------------------------------------------------------------------


async def test_the_invite_link_greets_with_the_organisation_and_offers_its_agency_first(
    parts: Components, tmp_path: Path
) -> None:
    campaign = await campaign_with_roster(parts, tmp_path, count=3)
    member = Citizen(parts, "tg:2001")
    greeting = await member.send(Event.slash("start", f"org_{campaign.token}"))
    assert "Sở GD&ĐT An Giang" in greeting[0]
    await registers(member, code(1), finish=False)
    await member.presses("email_choice:no")
    for seed in (1, 2, 3):
        await member.sends_photo(photo_bytes(seed=seed))
    first, *others = [b.data for _, b in member.buttons() if b.data.startswith("agency:pick:")]
    assert first == "agency:pick:091"  # An Giang's, though the address is in Hải Phòng
    assert others  # the usual suggestions stay: the member may choose another


async def test_a_typed_code_is_matched_never_revealed(parts: Components, tmp_path: Path) -> None:
    campaign = await campaign_with_roster(parts, tmp_path, count=3)
    member = await through_link(parts, campaign, "tg:2002", code(2), finish=False)
    said = "\n".join(member.history)
    assert "Nguyễn Thị Thử 2" not in said and "Thử" not in said
    report = await parts.campaigns.report(campaign)
    line = next(x for x in report.lines if x.bhxh_code == code(2))
    assert line.status == "in_progress" and line.reached
    assert line.step == await member.state()


async def test_a_rotated_link_no_longer_works_but_registration_goes_on(
    parts: Components, tmp_path: Path
) -> None:
    campaign = await campaign_with_roster(parts, tmp_path, count=3)
    await parts.campaigns.rotate(campaign.id)
    member = Citizen(parts, "tg:2003")
    said = await member.send(Event.slash("start", f"org_{campaign.token}"))
    assert "không còn hiệu lực" in said[0]
    assert member.buttons()  # the consent question follows
    assert await parts.campaigns.store.arrivals(campaign.id) == []
    token = (await parts.campaigns.store.get(campaign.id)).token  # type: ignore[union-attr]
    await parts.campaigns.store.close(campaign.id, parts.campaigns.clock(), purge=False)
    closed = await Citizen(parts, "tg:2005").send(Event.slash("start", f"org_{token}"))
    assert "không còn hiệu lực" in closed[0]


async def test_the_report_shows_exactly_who_registered_through_the_link(
    parts: Components, tmp_path: Path, clock: FakeClock
) -> None:
    campaign = await campaign_with_roster(parts, tmp_path)
    link = f"org_{campaign.token}"
    done, outsider, started = (Citizen(parts, f"tg:30{n}") for n in range(3))
    for member in (done, outsider, started):
        await member.send(Event.slash("start", link))
    await registers(done, code(5), finish=True)
    await registers(outsider, "0312345678", finish=True)
    await registers(started, code(7), finish=False)
    report = await parts.campaigns.report(campaign)
    by_code = {line.bhxh_code: line for line in report.lines if line.on_roster}
    assert by_code[code(5)].status == "submitted" and by_code[code(5)].receipt
    assert by_code[code(7)].status == "in_progress"
    assert [line.status for line in report.not_on_roster()] == ["submitted"]
    assert report.totals() == {"not_started": 28, "in_progress": 1, "submitted": 1}
    assert report.days_left == 15

    text = formats.as_text(report)
    assert code(5) not in text and "509****005" in text
    assert code(5) in formats.as_text(report, full=True)
    rows = list(csv.reader(io.StringIO(formats.as_csv(report))))
    assert len(rows) == 1 + 30 + 1
    book = load_workbook(io.BytesIO(formats.as_xlsx(report)))
    assert book.sheetnames[0] == "Tổng hợp"
    assert len(book.sheetnames) == 1 + 4 + 1  # summary, four departments, not on the roster
    summary = [row for row in book["Tổng hợp"].iter_rows(values_only=True) if row[0]]
    assert ("TỔNG CỘNG", 30, 28, 1, 1, 0, 0, 0) in summary


async def test_a_member_who_deletes_their_data_leaves_no_trace_of_the_link(
    parts: Components, tmp_path: Path
) -> None:
    campaign = await campaign_with_roster(parts, tmp_path, count=3)
    member = await through_link(parts, campaign, "tg:2004", code(1), finish=False)
    await member.command("deletemydata")
    await member.presses("g:erase:yes")
    assert await parts.campaigns.store.arrivals(campaign.id) == []


async def test_the_bundle_holds_the_departments_submitted_declarations_behind_a_cover(
    parts: Components, tmp_path: Path
) -> None:
    from pypdf import PdfReader

    from bot.campaigns.bundle import department_bundle

    campaign = await campaign_with_roster(parts, tmp_path, count=12)
    link = f"org_{campaign.token}"
    first, second, elsewhere = (Citizen(parts, f"tg:40{n}") for n in range(3))
    for member, n in ((first, 1), (second, 6), (elsewhere, 3)):  # 1, 6, 11: Văn phòng Sở
        await member.send(Event.slash("start", link))
        await registers(member, code(n), finish=True)
    report = await parts.campaigns.report(campaign)
    pdf, count = await department_bundle(
        report, "văn phòng sở", parts.service.declarations, parts.service.flow.agencies,
        parts.translator,
    )
    assert count == 2
    pages = PdfReader(io.BytesIO(pdf)).pages
    cover = pages[0].extract_text()
    assert "Nguyễn Thị Thử 6" in cover and "Nguyễn Thị Thử 11" in cover  # 11: not yet
    assert "Nguyễn Thị Thử 3" not in cover  # another department
    rest = "".join(p.extract_text() for p in pages[1:])
    assert rest.index(code(1)) < rest.index(code(6))  # roster order
    assert code(3) not in rest


# -- the coordinator in the chat -----------------------------------------------------------


async def test_remind_reaches_only_the_roster_member_who_started_and_did_not_finish(
    parts: Components, tmp_path: Path, clock: FakeClock
) -> None:
    campaign = await campaign_with_roster(parts, tmp_path, count=10)
    link = f"org_{campaign.token}"
    done, started, outsider = (Citizen(parts, f"tg:50{n}") for n in range(3))
    for member in (done, started, outsider):
        await member.send(Event.slash("start", link))
    await registers(done, code(1), finish=True)
    await registers(started, code(2), finish=False)
    await registers(outsider, "0312345678", finish=False)
    assert await parts.campaigns.remind("999") is None  # not a coordinator
    outcome = await parts.campaigns.remind("777")
    assert outcome is not None
    told, reminders = outcome
    assert [key for key, _ in reminders] == [started.user_key]
    said = parts.translator.reply("vi", reminders[0][1])
    assert "Sở GD&ĐT An Giang" in said and "08/12/2026" in said
    assert "1 người" in parts.translator.reply("vi", told[0])

    clock.advance(hours=2)  # the same day: once a day at most
    again = await parts.campaigns.remind("777")
    assert again is not None and again[1] == []
    assert "hôm nay đã gửi" in parts.translator.reply("vi", again[0][0])
    clock.advance(hours=9)  # 21:00 in Vietnam, the next day not yet begun there
    late = await parts.campaigns.remind("777")
    assert late is not None and late[1] == []
    assert "giờ hành chính" in parts.translator.reply("vi", late[0][0])
    clock.advance(hours=13)  # 10:00 the next morning
    next_day = await parts.campaigns.remind("777")
    assert next_day is not None and [key for key, _ in next_day[1]] == [started.user_key]


async def test_org_shows_the_coordinator_their_campaigns_progress(
    parts: Components, tmp_path: Path
) -> None:
    campaign = await campaign_with_roster(parts, tmp_path, count=10)
    await through_link(parts, campaign, "tg:601", code(4), finish=True)
    assert await parts.campaigns.progress("12345") is None
    replies = await parts.campaigns.progress("777")
    assert replies is not None
    said = parts.translator.reply("vi", replies[0])
    assert "Đã nộp: 1/10" in said and "Chưa bắt đầu: 9" in said and "còn 15 ngày" in said
    assert code(4) not in said


# -- the coordinator's command ------------------------------------------------------------


async def run_cli(argv: list[str]) -> int:
    result: int = await asyncio.to_thread(main, argv)
    return result


async def test_a_coordinator_creates_imports_and_reports_from_the_command_line(
    parts: Components,
    tmp_path: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("VSSID_DATA_DIR", str(parts.settings.vssid_data_dir))
    monkeypatch.setenv("VSSID_DATA_KEY", "11" * 32)
    create = ["org", "create", "--name", "Trường ĐH Thử", "--agency", "091"]
    await parts.close()  # the command opens the database itself
    assert await run_cli([*create, "--deadline", "2099-06-08", "--bot", "vssid_bot"]) == 0
    said = capsys.readouterr().out
    assert "campaign 1:" in said and "https://t.me/vssid_bot?start=org_" in said
    roster = seed_like_xlsx(tmp_path / "ds.xlsx", 30)
    assert await run_cli(["org", "roster", "1", str(roster)]) == 0
    assert "30 people" in capsys.readouterr().out
    reopened = await build(parts.settings, clock)
    try:
        campaign = await reopened.campaigns.store.get(1)
        assert campaign is not None
        member = await through_link(reopened, campaign, "tg:801", code(3), finish=False)
        step = reopened.translator.catalogues["vi"][f"step.{await member.state()}"]
    finally:
        await reopened.close()
    bad = csv_file(tmp_path / "bad.csv", [["STT", "Họ và tên", "Mã số BHXH"], [1, "A B", "12"]])
    assert await run_cli(["org", "roster", "1", str(bad)]) == 2
    assert "bad.csv, line 2" in capsys.readouterr().err
    png = tmp_path / "poster.png"
    assert await run_cli(["org", "qr", "1", "--out", str(png), "--bot", "vssid_bot"]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")
    xlsx = tmp_path / "report.xlsx"
    assert await run_cli(["org", "report", "1", "--format", "xlsx", "--out", str(xlsx)]) == 0
    assert "Tổng hợp" in load_workbook(xlsx).sheetnames
    bundle = tmp_path / "bundle.pdf"
    assert await run_cli(["org", "bundle", "1", "--out", str(bundle)]) == 0
    assert bundle.read_bytes().startswith(b"%PDF")
    assert await run_cli(["org", "bundle", "1", "--department", "Kho", "--out", "x.pdf"]) == 2
    assert "Văn phòng Sở" in capsys.readouterr().err
    assert await run_cli(["org", "report", "1"]) == 0
    listed = capsys.readouterr().out
    assert "chưa bắt đầu" in listed
    assert f"đang khai  {step}" in listed  # the step as the member reads it
    assert await run_cli(["org", "close", "1", "--purge"]) == 2  # deadline not passed
    assert "not passed" in capsys.readouterr().err


async def test_a_campaign_closed_and_purged_after_its_deadline_keeps_no_roster(
    parts: Components,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from datetime import date

    campaign = await parts.campaigns.create("Quận Thử", "091", date(2020, 1, 31), None)
    await parts.campaigns.import_roster(campaign.id, seed_like_xlsx(tmp_path / "ds.xlsx", 5))
    await through_link(parts, campaign, "tg:7001", code(1), finish=False)
    monkeypatch.setenv("VSSID_DATA_DIR", str(parts.settings.vssid_data_dir))
    monkeypatch.setenv("VSSID_DATA_KEY", "11" * 32)
    await parts.close()
    assert await run_cli(["org", "close", str(campaign.id), "--purge"]) == 0
    assert "roster and arrivals deleted" in capsys.readouterr().out
    with sqlite3.connect(parts.settings.database_path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM campaign_roster").fetchone() == (0,)
        assert raw.execute("SELECT COUNT(*) FROM campaign_arrivals").fetchone() == (0,)
        assert raw.execute("SELECT closed_at IS NOT NULL FROM campaigns").fetchone() == (1,)


async def test_the_retention_sweep_purges_a_roster_long_past_its_deadline(
    parts: Components, tmp_path: Path, clock: FakeClock
) -> None:
    campaign = await campaign_with_roster(parts, tmp_path, count=5)  # deadline 2026-12-08
    clock.advance(days=15 + parts.settings.retention_days)  # the deadline + the period, not yet
    await parts.service.sweep()
    assert len(await parts.campaigns.store.roster(campaign.id)) == 5
    clock.advance(days=1)
    await parts.service.sweep()
    assert await parts.campaigns.store.roster(campaign.id) == []
    closed = await parts.campaigns.store.get(campaign.id)
    assert closed is not None and closed.closed_at is not None


def test_the_invite_link_carries_the_token_in_telegrams_start_parameter() -> None:
    link = invite_link("@vssid_bot", "AbC-12_x")
    assert link == "https://t.me/vssid_bot?start=org_AbC-12_x"


# -- end to end over HTTP -----------------------------------------------------------------


async def test_a_campaign_end_to_end_over_telegram(tmp_path: Path, clock: FakeClock) -> None:
    """A 30-person roster from an XLSX like the seed's; three members register through the
    link (one not on the roster) and a fourth only starts; the report and the bundle show
    exactly them; a malformed roster is refused by line; /remind reaches only the fourth."""
    from datetime import date

    from pypdf import PdfReader

    from bot.campaigns.bundle import department_bundle
    from tests.telegram_story import TelegramUser
    from tests.test_telegram_e2e import running_bot

    async with running_bot(tmp_path, clock, sweeps=False) as bot:
        parts = bot.parts
        campaign = await parts.campaigns.create("Sở GD&ĐT", "091", date(2026, 12, 8), "9000")
        xlsx = seed_like_xlsx(tmp_path / "ds.xlsx", 30)
        assert await parts.campaigns.import_roster(campaign.id, xlsx) == 30
        malformed = csv_file(
            tmp_path / "bad.csv",
            [["STT", "Họ và tên", "Chức vụ, phòng ban", "Mã số BHXH"], [1, "A", "B", "123"]],
        )
        with pytest.raises(RosterError, match="line 2"):
            await parts.campaigns.import_roster(campaign.id, malformed)

        async def through_the_link(user_id: int, bhxh: str, *, finish: bool) -> TelegramUser:
            user = bot.user(user_id)
            greeting = await user.says(f"/start org_{campaign.token}")
            assert "Sở GD&ĐT" in greeting
            await user.presses("consent:yes")
            for answer in (bhxh, *TYPED_UNTIL_PHONE[1:]):
                await user.says(answer)
            if not finish:
                return user
            email = f"m{user_id}@example.com"
            await user.shares_phone("+84983847986")
            await user.presses("email_choice:yes")
            await user.says(email)
            for seed in (1, 2, 3):
                await user.sends_photo(photo_bytes(seed=seed))
            await user.presses("agency:pick:091")
            await user.presses("review:confirm")
            await user.presses("otp:via:email")
            assert "số hồ sơ" in await user.says(await bot.code_for(email))
            return user

        await through_the_link(8001, code(1), finish=True)
        await through_the_link(8002, code(6), finish=True)
        await through_the_link(8003, "0312345678", finish=True)  # not on the roster
        await through_the_link(8004, code(11), finish=False)

        report = await parts.campaigns.report(campaign)
        moved = {
            line.bhxh_code or "not on the roster": line.status
            for line in report.lines
            if line.status != "not_started"
        }
        assert moved == {
            code(1): "submitted",
            code(6): "submitted",
            code(11): "in_progress",
            "not on the roster": "submitted",
        }
        pdf, count = await department_bundle(
            report, None, parts.service.declarations, parts.service.flow.agencies, parts.translator
        )
        assert count == 2 and len(PdfReader(io.BytesIO(pdf)).pages) >= 3

        coordinator = bot.user(9000)
        assert "Đã nộp: 2/30" in await coordinator.command("org")
        assert "1 người" in await coordinator.command("remind")

        def reminded(chat: int) -> bool:
            sent = bot.emu.calls("sendMessage")
            return any("nhắc bạn" in str(c.params.get("text")) for c in sent if c.chat_id == chat)

        await bot.emu.wait_for(lambda: reminded(8004), timeout=10)
        assert not any(reminded(chat) for chat in (8001, 8002, 8003))
        stranger = bot.user(8005)
        assert "Sở GD&ĐT" not in await stranger.command("org")  # not a coordinator
