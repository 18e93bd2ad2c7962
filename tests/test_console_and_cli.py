"""The console as a citizen uses it (buttons, dragged photos, officers' decisions) and the
command line as an operator uses it (provinces by name, pipes, scan, review, imports)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.console import USER_KEY, run_console, to_event
from bot.flows.agencies import COLUMNS, import_agencies
from bot.flows.events import Event
from bot.flows.places import catalogue
from bot.i18n import Translator
from bot.wiring import Components, build
from storage.declarations import DeclarationStore
from tests.conftest import START, FakeClock, make_settings
from tests.story import CCCD_2021, TYPED_UNTIL_PHONE, Citizen, photo_bytes, qr_photo
from tests.test_operators import (  # noqa: F401 - logging_as_it_was is an autouse fixture
    clear_operator_settings,
    logging_as_it_was,
    operator_env,
)

SAY = Translator()
#: What the citizen types, or a function of what the console printed so far.
Line = str | Callable[[str], str]


async def converse(
    data_dir: Path, clock: FakeClock, lines: Sequence[Line], locale: str = "vi", **options: float
) -> str:
    """Run ``vssid-bot console`` with these lines typed in turn (then ``/quit``); what it
    printed."""
    out = io.StringIO()
    script = iter(lines)

    def read_line() -> str:
        line = next(script, "/quit")
        return (line(out.getvalue()) if callable(line) else line) + "\n"

    settings = make_settings(data_dir, bot_default_locale=locale)
    assert await run_console(settings, read_line, out, clock, **options) == 0
    return out.getvalue()


async def console_conversation(data_dir: Path, clock: FakeClock) -> tuple[str, dict[str, object]]:
    """Where the console's conversation stands: its step and its answers."""
    parts = await build(make_settings(data_dir), clock)
    try:
        conv = await parts.service.conversations.load(USER_KEY)
        assert conv is not None
        return conv.state, dict(conv.answers)
    finally:
        await parts.close()


UNTIL_EMAIL_CHOICE = ("1", *TYPED_UNTIL_PHONE, "0983847986")


# --- the console ---------------------------------------------------------------------------


async def test_the_numbered_buttons_still_work_after_a_wrong_answer(
    tmp_path: Path, clock: FakeClock
) -> None:
    shown = await converse(tmp_path, clock, [*UNTIL_EMAIL_CHOICE, "🤔", "2"])
    state, answers = await console_conversation(tmp_path, clock)
    assert answers["wants_email"] is False and state == "portrait"
    assert SAY.text("vi", "note.email_no") in shown


async def test_after_the_third_wrong_answer_both_the_choices_and_help_are_numbered(
    tmp_path: Path, clock: FakeClock
) -> None:
    shown = await converse(tmp_path, clock, [*UNTIL_EMAIL_CHOICE, "🤔", "🤔", "🤔", "2"])
    state, answers = await console_conversation(tmp_path, clock)
    assert answers["wants_email"] is False and state == "portrait"
    before_help = shown.rpartition(SAY.text("vi", "note.email_no"))[0]
    assert f"[3] {SAY.text('vi', 'btn.help')}" in before_help


async def test_photos_dragged_into_the_terminal_are_taken_quoted_or_as_file_urls(
    tmp_path: Path, clock: FakeClock
) -> None:
    folder = tmp_path / "Ảnh của tôi"
    folder.mkdir()
    photos = []
    for seed, name in enumerate(("chân dung.jpg", "mặt trước.jpg", "mặt sau.jpg"), start=1):
        path = folder / name
        path.write_bytes(photo_bytes(seed=seed))
        photos.append(path)
    portrait, front, back = photos
    dragged = [f"'{portrait}' ", f'"{front}"', back.as_uri()]  # GNOME, Windows, KDE
    shown = await converse(tmp_path / "data", clock, [*UNTIL_EMAIL_CHOICE, "2", *dragged])
    state, answers = await console_conversation(tmp_path / "data", clock)
    assert state == "agency", shown[-1500:]
    assert all(answers.get(field) for field in ("portrait", "id_front", "id_back"))


@pytest.mark.parametrize(
    "pasted",
    ["'{path}'", '"{path}" ', "{escaped}", "{uri}", "  {path}  "],
    ids=["single-quotes", "double-quotes-and-space", "backslash-escaped", "file-url", "spaces"],
)
def test_every_way_a_terminal_pastes_a_dragged_file_sends_that_file(
    tmp_path: Path, pasted: str
) -> None:
    path = tmp_path / "thẻ BHYT (1).jpg"
    path.write_bytes(photo_bytes())
    escaped = str(path).replace(" ", "\\ ").replace("(", "\\(").replace(")", "\\)")
    line = pasted.format(path=path, escaped=escaped, uri=path.as_uri())
    event = to_event(line, [])
    assert isinstance(event, Event)
    assert event.kind == "document" and event.data == path.read_bytes()
    assert event.file_name == path.name


def unquoted_path(line: str) -> str:
    return str(Path(line.strip().strip("'")).expanduser())


@pytest.mark.parametrize("locale", ["vi", "en"])
@pytest.mark.parametrize(
    "typed", ["{home}/Ảnh/cccd.jpg", "'{home}/Ảnh/cccd mới.jpg' ", "~/khong-co/cccd.png"]
)
async def test_a_photo_path_that_does_not_exist_is_said_so_and_the_step_goes_on(
    tmp_path: Path, clock: FakeClock, locale: str, typed: str
) -> None:
    line = typed.format(home=tmp_path)
    shown = await converse(tmp_path / "data", clock, ["1", line, "0312345678"], locale)
    said = SAY.text(locale, "console.file_missing", {"path": unquoted_path(line)})
    assert said in shown
    unknown = SAY.text(locale, "err.unknown_command", {"command": "{command}"})
    assert unknown.partition("{command}")[0] not in shown
    state, answers = await console_conversation(tmp_path / "data", clock)
    assert answers["bhxh_code"] == "0312345678" and state == "full_name"


def test_long_or_odd_answers_are_still_answers() -> None:
    for typed in ("Số 5 " + "Lạch Tray " * 40, "Nguyễn\x00Văn An", "O'Brien", "an@gmail.com"):
        event = to_event(typed, [])
        assert isinstance(event, Event) and event.kind == "text" and event.text == typed


def test_commands_are_still_commands() -> None:
    typed = (("/start", "start"), ("/language en", "language"), ("/status ", "status"))
    for line, command in typed:
        event = to_event(line, [])
        assert isinstance(event, Event) and event.command == command


async def waiting_declaration(data_dir: Path, clock: FakeClock) -> str:
    """The console citizen's declaration, submitted and waiting for the officers."""
    parts = await build(make_settings(data_dir), clock)
    try:
        data = {"full_name": "Nguyễn Văn An", "bhxh_code": "0312345678", "locale": "vi"}
        return await DeclarationStore(parts.db).submit("draft-c", USER_KEY, "03102", data, START)
    finally:
        await parts.close()


@pytest.fixture
def officer_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The officers' terminal: the same data folder and key as the console's."""
    clear_operator_settings(monkeypatch)
    monkeypatch.setenv("VSSID_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VSSID_DATA_KEY", "11" * 32)
    return tmp_path


def approved_text(receipt: str) -> str:
    return SAY.text("vi", "decision.approved", {"receipt": receipt, "reason": ""})


async def test_a_decision_taken_while_the_console_is_open_is_shown_without_typing(
    officer_env: Path, clock: FakeClock
) -> None:
    receipt = await waiting_declaration(officer_env, clock)
    told = approved_text(receipt)

    def officer_approves_then_citizen_waits(shown: str) -> str:
        # In the officer's terminal, while the citizen's console waits for a line.
        assert main(["review", "approve", receipt, "--officer", "Trần Thị Bình"]) == 0
        deadline = time.monotonic() + 20
        while told not in shown and time.monotonic() < deadline:
            time.sleep(0.02)
            shown = output.getvalue()
        return "/quit"

    output = io.StringIO()
    lines = iter([officer_approves_then_citizen_waits])

    def read_line() -> str:
        line = next(lines, "/quit")
        return (line(output.getvalue()) if callable(line) else line) + "\n"

    settings = make_settings(officer_env)
    assert await run_console(settings, read_line, output, clock, notice_every=0.05) == 0
    assert output.getvalue().count(told) == 1
    again = await converse(officer_env, clock, [])
    assert told not in again  # told once: the notice is marked delivered


async def test_a_decision_taken_while_the_console_was_closed_is_shown_when_it_opens(
    officer_env: Path, clock: FakeClock
) -> None:
    receipt = await waiting_declaration(officer_env, clock)
    reason = "Ảnh CCCD bị mờ"
    rejecting = ["review", "reject", receipt, "--officer", "Võ Minh", "--reason", reason]
    assert await asyncio.to_thread(main, rejecting) == 0
    shown = await converse(officer_env, clock, [], notice_every=3600)
    told = SAY.text("vi", "decision.rejected", {"receipt": receipt, "reason": reason})
    assert told in shown


async def test_the_console_does_not_consume_what_is_owed_to_telegram_users(
    officer_env: Path, clock: FakeClock
) -> None:
    parts = await build(make_settings(officer_env), clock)
    data = {"full_name": "Lê Thị Mai", "bhxh_code": "0312345679", "locale": "vi"}
    receipt = await DeclarationStore(parts.db).submit("draft-t", "tg:42", "03102", data, START)
    await parts.reviews.decide(receipt, "approved", officer="Võ Minh")
    await parts.close()
    shown = await converse(officer_env, clock, [], notice_every=3600)
    assert receipt not in shown
    parts = await build(make_settings(officer_env), clock)
    try:
        [owed] = await parts.service.sweep()
        assert owed.user_key == "tg:42" and owed.replies[0].key == "decision.approved"
    finally:
        await parts.close()


# --- operators -----------------------------------------------------------------------------


def listed(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["agencies", "list", *argv])
    printed = capsys.readouterr()
    return code, printed.out, printed.err


@pytest.mark.parametrize(
    "province", ["031", "31", "Hai Phong", "Hải Phòng", "TP Hải Phòng", "thành phố hải phòng"]
)
def test_agencies_of_a_province_are_listed_by_code_or_by_name(
    officer_env: Path, capsys: pytest.CaptureFixture[str], province: str
) -> None:
    code, out, _ = listed(capsys, "--province", province)
    lines = out.splitlines()
    assert code == 0 and lines
    assert all(line.startswith("[031") for line in lines), out
    assert any(line.startswith("[03102]") for line in lines)


@pytest.mark.parametrize("province", ["Atlantis", "99", "0"])
def test_a_province_that_matches_nothing_is_said_so(
    officer_env: Path, capsys: pytest.CaptureFixture[str], province: str
) -> None:
    code, out, err = listed(capsys, "--province", province)
    assert code == 2 and out == ""
    assert f"no province matches {province!r}" in err


def test_a_province_name_that_matches_several_lists_them(
    officer_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = listed(capsys, "--province", "hai")
    assert code == 2 and out == ""
    assert "31 Hải Phòng" in err and "19 Thái Nguyên" in err


def many_agencies(data_dir: Path, csv_path: Path) -> None:
    """Ninety offices a province: a listing far longer than a pipe holds."""
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for province in catalogue().provinces():
            for n in range(10, 100):
                name = f"BHXH cơ sở thử nghiệm số {n}"
                address = f"Số {n} đường Thử Nghiệm, {province.name}"
                code = f"0{province.code}{n}"
                writer.writerow((code, name, province.code, "", address, "", "yes", "no"))
    import_agencies(csv_path, data_dir)


def test_a_listing_piped_into_head_ends_quietly(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    many_agencies(data_dir, tmp_path / "many.csv")
    env = operator_env(VSSID_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
    listing = subprocess.Popen(  # noqa: S603 - `vssid-bot agencies list | head -1`
        [sys.executable, "-m", "bot", "agencies", "list"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert listing.stdout is not None and listing.stderr is not None
    head = subprocess.run(  # noqa: S603
        ["head", "-1"],  # noqa: S607
        stdin=listing.stdout,
        capture_output=True,
        timeout=60,
        check=True,
    )
    listing.stdout.close()
    err = listing.stderr.read().decode()
    listing.stderr.close()
    assert listing.wait(timeout=60) in (0, 141), err
    assert head.stdout.decode().startswith("[0")
    assert err == ""


CCCD_WRONG_YEAR = CCCD_2021.replace("|05061999|", "|05061998|")  # the number says 1999


async def test_scan_reports_an_id_that_does_not_match_the_birth_date_as_the_bot_does(
    tmp_path: Path, citizen: Citizen, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "cccd.jpg"
    photo.write_bytes(qr_photo(CCCD_WRONG_YEAR))
    assert await asyncio.to_thread(main, ["scan", str(photo)]) == 1
    scanned = json.loads(capsys.readouterr().out)
    assert scanned["kind"] == "cccd" and scanned["fields"]["id_number"] == "031099012345"
    assert scanned["problem"] == "card_inconsistent"
    assert scanned["checks"] == ["birth_year_mismatch"]
    await citizen.agrees()
    await citizen.answers_in_turn("0312345678", "Phạm Minh Đức")
    await citizen.sends_photo(photo.read_bytes())
    assert f"err.{scanned['problem']}" in citizen.keys  # the bot refuses it the same way


async def test_scan_of_a_consistent_card_reports_no_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photo = tmp_path / "cccd.jpg"
    photo.write_bytes(qr_photo(CCCD_2021))
    assert await asyncio.to_thread(main, ["scan", str(photo)]) == 0
    scanned = json.loads(capsys.readouterr().out)
    assert scanned["problem"] is None and scanned["checks"] == []


@pytest.mark.parametrize("reason", ["", "   ", "\t\n"])
async def test_a_rejection_without_a_reason_is_refused_and_nothing_is_decided(
    officer_env: Path, clock: FakeClock, capsys: pytest.CaptureFixture[str], reason: str
) -> None:
    receipt = await waiting_declaration(officer_env, clock)
    rejecting = ["review", "reject", receipt, "--officer", "Võ Minh", "--reason", reason]
    with pytest.raises(SystemExit) as refused:
        await asyncio.to_thread(main, rejecting)
    assert refused.value.code == 2 and "--reason" in capsys.readouterr().err
    with sqlite3.connect(officer_env / "vssid.sqlite3") as db:
        [(status,)] = db.execute("SELECT status FROM declarations WHERE receipt = ?", (receipt,))
    assert status == "submitted"


async def test_an_agencies_import_is_offered_by_the_running_bot_without_a_restart(
    parts: Components,
    citizen: Citizen,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await citizen.agrees()
    await citizen.answers_in_turn(*TYPED_UNTIL_PHONE, "0983 847 986")
    await citizen.presses("email_choice:no")
    for seed in (1, 2, 3):
        await citizen.sends_photo(photo_bytes(seed=seed))
    assert await citizen.state() == "agency"
    assert not any("03150" in label for label, _ in citizen.buttons())
    [gia_vien] = catalogue().find_communes("31", "gia vien", limit=1)
    new_office = tmp_path / "new-office.csv"
    new_office.write_text(
        ",".join(COLUMNS) + "\n"
        f"03150,BHXH cơ sở Gia Viên,31,{gia_vien.code},Số 1 Lạch Tray,,yes,no\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("VSSID_DATA_DIR", str(parts.settings.vssid_data_dir))
    assert main(["agencies", "import", str(new_office)]) == 0  # while the bot runs
    clock.advance(minutes=1, seconds=1)
    await citizen.command("start")
    assert any("[03150] BHXH cơ sở Gia Viên" in label for label, _ in citizen.buttons())


async def test_a_hand_edited_directory_that_no_longer_loads_leaves_the_last_good_one(
    parts: Components, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    directory = parts.service.flow.agencies
    assert directory.by_code("03102") is not None
    (parts.settings.vssid_data_dir / "agencies.csv").write_text("code,name\n031,\n")
    clock.advance(minutes=1, seconds=1)
    with caplog.at_level("ERROR"):
        assert directory.by_code("03102") is not None
    assert any("agencies.csv" in r.getMessage() for r in caplog.records)
