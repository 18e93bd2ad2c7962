"""What the operator who deploys the bot relies on: it refuses to start when a code could go
nowhere, warns about plain-text transports, never prints the bot token, leaves a quiet
stderr on a clean exit, records which officer decided, prints citizens' data masked and
harmless, and installs from a lock file with hashes."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot import preflight
from bot.__main__ import configure_logging, main
from bot.cli.terminal import printable_json
from bot.console import run_console
from bot.log_redaction import install_redaction
from bot.notify import DeliveryError, Notifier
from bot.settings import Settings
from bot.wiring import Components, build
from storage.db import Database
from storage.declarations import DeclarationStore
from storage.outbox import DevOutbox
from tests.conftest import START, FakeClock, make_settings
from tests.emulator import BotApiEmulator
from tests.servers import HttpSink, free_port, smtp_server
from tests.story import (
    CCCD_2024,
    TYPED_UNTIL_PHONE,
    Citizen,
    fill_until_review,
    photo_bytes,
    qr_photo,
)

ROOT = Path(__file__).resolve().parents[1]
#: Shaped like a real token (id, colon, 35 characters); the emulator knows another one.
WRONG_TOKEN = "7000000001:AAHwrongWrongWrongWrongWrongWrong12"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING) [\w.]+: ")
#: Settings that would change what a child process does if the test machine had them.
OPERATOR_VARIABLES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_API_URL",
    "VSSID_DATA_DIR",
    "VSSID_DATA_KEY",
    "VSSID_DEV_OUTBOX",
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_TLS",
    "SMTP_USER",
    "SMTP_PASSWORD",
    "SMS_GATEWAY_URL",
    "SUBMISSION_URL",
)


def operator_env(**values: str) -> dict[str, str]:
    """The environment a deployed bot gets: this machine's, minus any operator setting,
    plus ``values``."""
    env = {k: v for k, v in os.environ.items() if k.upper() not in OPERATOR_VARIABLES}
    env["PTB_TIMEDELTA"] = "true"
    return {**env, **values}


def clear_operator_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OPERATOR_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """``main`` sets up logging for a process; called in this one, it is put back after."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    httpx_level = logging.getLogger("httpx").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(httpx_level)


# --- no carrier, no start ---------------------------------------------------------------


def test_run_without_sms_gateway_or_smtp_refuses_to_start_and_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clear_operator_settings(monkeypatch)
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", WRONG_TOKEN)
    monkeypatch.setenv("VSSID_DATA_DIR", str(tmp_path / "data"))
    assert main(["run"]) == 2
    said = capsys.readouterr().err
    for setting in ("SMTP_HOST", "SMS_GATEWAY_URL", "VSSID_DEV_OUTBOX=1"):
        assert setting in said
    assert not (tmp_path / "data").exists()  # refused before anything was created


async def test_an_email_without_smtp_is_a_delivery_failure_not_a_dev_outbox_entry(
    tmp_path: Path, sink: HttpSink
) -> None:
    db = await Database(tmp_path / "n.sqlite3").open()
    try:
        only_sms = make_settings(tmp_path, sms_gateway_url=sink.url, vssid_dev_outbox=False)
        notifier = Notifier(only_sms, DevOutbox(db))
        with pytest.raises(DeliveryError, match="SMTP_HOST"):
            await notifier.send("email", "an@example.com", "Mã OTP", "123456", START)
        assert await DevOutbox(db).latest() == []
    finally:
        await db.close()


async def test_a_code_by_sms_without_a_gateway_is_never_said_to_be_sent(
    tmp_path: Path, clock: FakeClock
) -> None:
    port = free_port()
    with smtp_server(port) as inbox:
        settings = make_settings(
            tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_tls="none",
            vssid_dev_outbox=False,
        )
        parts = await build(settings, clock)
        try:
            citizen = Citizen(parts, "tg:9001")
            await fill_until_review(citizen, email="an@example.com")
            await citizen.presses("review:confirm")
            await citizen.presses("otp:via:sms")
            assert citizen.keys == ["otp.send_failed"]
            assert await parts.outbox.latest() == []
            clock.advance(seconds=61)  # past any resend wait
            await citizen.presses("otp:via:email")  # the configured carrier still works
            assert citizen.keys == ["otp.sent_email"]
            assert len(inbox.messages) == 1
        finally:
            await parts.close()


async def test_the_console_always_shows_the_code_from_the_dev_outbox(tmp_path: Path) -> None:
    photos = []
    for seed in (1, 2, 3):
        photos.append(tmp_path / f"photo{seed}.jpg")
        photos[-1].write_bytes(photo_bytes(seed=seed))
    out = io.StringIO()
    answers = iter(["1", *TYPED_UNTIL_PHONE, "0983847986", "2", *map(str, photos), "1", "OK"])

    def read_line() -> str:
        line = next(answers, "/quit")
        if line == "OK":  # the confirm button of the review
            line = re.findall(r"\[(\d+)\] ✅ Xác nhận", out.getvalue())[-1]
        return line + "\n"

    settings = make_settings(tmp_path / "data", vssid_dev_outbox=False)  # not opted in
    assert await run_console(settings, read_line, out) == 0
    assert re.search(r"\[dev outbox\] sms tới \+84983847986.*\b\d{6}\b", out.getvalue())


# --- SMTP_TLS and plain-text transports --------------------------------------------------


@pytest.mark.parametrize(
    ("written", "meaning"),
    [("true", "starttls"), ("TRUE", "starttls"), ("false", "none"), ("False", "none")],
)
def test_smtp_tls_also_accepts_true_and_false(
    monkeypatch: pytest.MonkeyPatch, written: str, meaning: str
) -> None:
    monkeypatch.setenv("SMTP_TLS", written)
    assert Settings().smtp_tls == meaning


async def test_smtp_tls_false_talks_plain_smtp_and_true_insists_on_starttls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    db = await Database(tmp_path / "n.sqlite3").open()
    try:
        with smtp_server(port) as inbox:  # a local relay that offers no STARTTLS
            for written in ("false", "true"):
                monkeypatch.setenv("SMTP_TLS", written)
                settings = Settings(smtp_host="127.0.0.1", smtp_port=port)
                notifier = Notifier(settings, DevOutbox(db))
                if written == "false":
                    await notifier.send("email", "an@example.com", "Mã OTP", "123456", START)
                else:
                    with pytest.raises(DeliveryError):
                        await notifier.send("email", "an@example.com", "Mã OTP", "1", START)
        assert [m["To"] for m in inbox.messages] == ["an@example.com"]
    finally:
        await db.close()


def test_plain_text_to_another_host_is_warned_about_but_not_on_loopback(tmp_path: Path) -> None:
    remote = make_settings(
        tmp_path,
        smtp_host="mail.example.org",
        smtp_tls="none",
        sms_gateway_url="http://sms.example.org/send",
        submission_url="http://agency.example.org/in",
        telegram_api_url="http://botapi.example.org",
    )
    warned = "\n".join(preflight.plain_text_transports(remote))
    for name in ("SMTP_TLS", "SMS_GATEWAY_URL", "SUBMISSION_URL", "TELEGRAM_API_URL"):
        assert name in warned
    local = make_settings(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_tls="none",
        sms_gateway_url="http://localhost:8080/send",
        submission_url="http://[::1]:9000/in",
        telegram_api_url="http://127.0.0.1:8081",
    )
    secure = make_settings(
        tmp_path,
        smtp_host="mail.example.org",
        smtp_tls="tls",
        sms_gateway_url="https://sms.example.org/send",
        submission_url="https://agency.example.org/in",
    )
    assert preflight.plain_text_transports(local) == []
    assert preflight.plain_text_transports(secure) == []


# --- the bot process as the operator starts it ---------------------------------------------


@dataclass(frozen=True)
class Exited:
    code: int
    stdout: str
    stderr: str
    cwd: Path


def run_bot(emu: BotApiEmulator, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "bot", "run"],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


async def finish(process: subprocess.Popen[bytes], cwd: Path) -> Exited:
    """Wait off the loop: the emulator must keep answering the bot meanwhile."""
    try:
        out, err = await asyncio.to_thread(process.communicate, timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        out, err = await asyncio.to_thread(process.communicate)
    return Exited(process.returncode, out.decode(), err.decode(), cwd)


@pytest.fixture(scope="module")
def rejected_start(tmp_path_factory: pytest.TempPathFactory) -> Exited:
    """``vssid-bot run`` with a token the Bot API answers 401 to, plain-text carriers to
    other hosts and the default data folder, in a folder of its own."""
    cwd = tmp_path_factory.mktemp("operator")

    async def start() -> Exited:
        async with BotApiEmulator() as emu:
            env = operator_env(
                TELEGRAM_BOT_TOKEN=WRONG_TOKEN,
                TELEGRAM_API_URL=emu.root_url,
                VSSID_DATA_KEY="33" * 32,
                SMTP_HOST="mail.example.org",
                SMTP_TLS="none",
                SMS_GATEWAY_URL="http://sms.example.org/send",
                SUBMISSION_URL="http://agency.example.org/in",
            )
            return await finish(run_bot(emu, cwd, env), cwd)

    return asyncio.run(start())


def test_a_rejected_token_is_said_in_one_line_and_never_printed(rejected_start: Exited) -> None:
    printed = rejected_start.stdout + rejected_start.stderr
    secret = WRONG_TOKEN.split(":", 1)[1]
    assert WRONG_TOKEN not in printed and secret not in printed
    assert rejected_start.code == 2
    assert "Traceback" not in printed
    [said] = [line for line in rejected_start.stderr.splitlines() if not LOG_LINE.match(line)]
    assert "TELEGRAM_BOT_TOKEN" in said and "@BotFather" in said


def test_plain_text_transports_are_warned_about_when_the_bot_starts(
    rejected_start: Exited,
) -> None:
    warnings = [line for line in rejected_start.stderr.splitlines() if " WARNING " in line]
    for name in ("SMTP_TLS=none", "SMS_GATEWAY_URL", "SUBMISSION_URL"):
        assert any(name in line for line in warnings), name
    assert not any("TELEGRAM_API_URL" in line for line in warnings)  # the emulator: loopback


def test_run_logs_the_absolute_data_folder_it_uses(rejected_start: Exited) -> None:
    data = (rejected_start.cwd / "data").resolve()  # VSSID_DATA_DIR unset: ./data
    assert any(str(data) in line for line in rejected_start.stderr.splitlines())
    assert data.is_dir()


def test_the_token_and_its_url_form_are_redacted_from_every_log_record() -> None:
    stream = io.StringIO()
    configure_logging(stream)
    install_redaction([WRONG_TOKEN])
    log = logging.getLogger("bot.test")
    log.warning("calling %s/getMe", f"https://api.telegram.org/bot{WRONG_TOKEN}")
    log.warning("another bot's URL: https://api.telegram.org/bot123456789:%s/getMe", "A" * 35)
    try:
        raise RuntimeError(f"The token `{WRONG_TOKEN}` was rejected by the server.")
    except RuntimeError:
        log.exception("start failed")
    logged = stream.getvalue()
    assert WRONG_TOKEN not in logged and WRONG_TOKEN.split(":")[1] not in logged
    assert "A" * 35 not in logged
    assert logged.count("[redacted]") >= 3 and "start failed" in logged and "RuntimeError" in logged


async def test_httpx_request_lines_do_not_carry_the_token() -> None:
    stream = io.StringIO()
    configure_logging(stream)
    install_redaction([WRONG_TOKEN])
    logging.getLogger("httpx").setLevel(logging.INFO)  # as an operator debugging would
    try:
        async with BotApiEmulator() as emu, httpx.AsyncClient() as client:
            answer = await client.post(f"{emu.root_url}/bot{WRONG_TOKEN}/getMe")
    finally:
        logged = stream.getvalue()
    assert answer.status_code == 401
    assert "getMe" in logged and "401" in logged and WRONG_TOKEN not in logged


async def test_a_clean_exit_of_the_bot_leaves_only_log_lines_on_stderr(tmp_path: Path) -> None:
    async with BotApiEmulator() as emu:
        env = operator_env(
            TELEGRAM_BOT_TOKEN=emu.token,
            TELEGRAM_API_URL=emu.root_url,
            VSSID_DATA_DIR=str(tmp_path / "data"),
            VSSID_DATA_KEY="44" * 32,
            VSSID_DEV_OUTBOX="1",  # no carrier: the opt-in lets it start
        )
        bot = run_bot(emu, tmp_path, env)
        try:
            await emu.wait_until_polling(timeout=30)
        finally:
            bot.send_signal(signal.SIGTERM)
            exited = await finish(bot, tmp_path)
    assert exited.code == 0
    strays = [line for line in exited.stderr.splitlines() if not LOG_LINE.match(line)]
    assert strays == []
    assert "leaked" not in exited.stderr
    assert "dev outbox" in exited.stderr  # the opt-in is said at start


@pytest.fixture
def card_photo(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "the-card.jpg"
    path.write_bytes(qr_photo(CCCD_2024))
    yield path


def test_a_scan_from_the_command_line_leaves_stderr_empty(card_photo: Path) -> None:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "bot", "scan", str(card_photo)],
        cwd=card_photo.parent,
        env=operator_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and '"kind": "cccd"' in done.stdout
    assert done.stderr == ""


WORKER_SCRIPT = """
import asyncio, sys
from pathlib import Path
from bot.cpu_worker import CpuWorker
from bot.i18n import Translator
from storage.photos import PhotoSealer

async def main() -> None:
    folder = Path(sys.argv[1])
    cpu = CpuWorker(Translator(), PhotoSealer(folder / "photos", bytes(32)), workers=1)
    await cpu.start()
    print((await cpu.scan_card((folder / "the-card.jpg").read_bytes())).kind)
    await cpu.close()

asyncio.run(main())
"""


def test_the_cpu_worker_starts_reads_a_card_and_stops_with_stderr_empty(
    card_photo: Path,
) -> None:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", WORKER_SCRIPT, str(card_photo.parent)],
        cwd=ROOT,
        env=operator_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.strip() == "cccd"
    assert done.stderr == ""


# --- the officers' command line -----------------------------------------------------------

ESCAPES = "\x1b]0;pwned\x07\x1b[2J"


def bhxh_code_of(user_key: str) -> str:
    """tg:1 → 0312345671: one BHXH code per test user, all alike but the last digits."""
    digits = "".join(filter(str.isdigit, user_key))
    return "0312345678"[: 10 - len(digits)] + digits


async def stored_declaration(parts: Components, full_name: str, user_key: str) -> str:
    """A declaration waiting for the officers; each user has a BHXH code of their own (one
    declaration per code may wait at a time)."""
    data = {
        "full_name": full_name,
        "bhxh_code": bhxh_code_of(user_key),
        "id_number": "001099012345",
        "phone": "+84983847986",
        "locale": "vi",
    }
    return await DeclarationStore(parts.db).submit(
        f"draft-{user_key}", user_key, "03102", data, START
    )


async def officer(argv: list[str]) -> int:
    """The command runs its own event loop: call it from a thread, as a terminal would."""
    result: int = await asyncio.to_thread(main, argv)
    return result


@pytest.fixture
def officer_env(parts: Components, monkeypatch: pytest.MonkeyPatch) -> None:
    clear_operator_settings(monkeypatch)
    monkeypatch.setenv("VSSID_DATA_DIR", str(parts.settings.vssid_data_dir))
    monkeypatch.setenv("VSSID_DATA_KEY", "11" * 32)


async def test_a_decision_records_the_officer_who_made_it(
    parts: Components, officer_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    approved = await stored_declaration(parts, "Nguyễn Văn An", "tg:1")
    rejected = await stored_declaration(parts, "Lê Thị Mai", "tg:2")
    await parts.close()  # the command opens the database itself
    with pytest.raises(SystemExit) as refused:
        await officer(["review", "approve", approved])
    assert refused.value.code == 2 and "--officer" in capsys.readouterr().err
    assert await officer(["review", "approve", approved, "--officer", "Trần Thị Bình"]) == 0
    assert "Trần Thị Bình" in capsys.readouterr().out
    rejecting = ["review", "reject", rejected, "--officer", "Võ Minh", "--reason", "Thiếu ảnh"]
    assert await officer(rejecting) == 0
    with sqlite3.connect(parts.settings.database_path) as db:
        rows = db.execute("SELECT receipt, status, decided_by FROM declarations ORDER BY id")
        assert list(rows) == [
            (approved, "approved", "Trần Thị Bình"),
            (rejected, "rejected", "Võ Minh"),
        ]


async def test_the_review_list_masks_numbers_and_the_name_unless_full(
    parts: Components, officer_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = await stored_declaration(parts, "Nguyễn Văn An", "tg:1")
    await parts.close()
    assert await officer(["review", "list"]) == 0
    masked = capsys.readouterr().out
    assert receipt in masked
    for shown in ("Nguyễn Văn An", bhxh_code_of("tg:1"), "001099012345", "+84983847986"):
        assert shown not in masked
    assert "031****671" in masked and "001******345" in masked and "+8498****986" in masked
    assert "N. V. A." in masked
    assert await officer(["review", "list", "--full"]) == 0
    full = capsys.readouterr().out
    for shown in ("Nguyễn Văn An", bhxh_code_of("tg:1"), "001099012345", "+84983847986"):
        assert shown in full


async def test_a_name_with_terminal_escapes_prints_harmlessly_in_the_review_list(
    parts: Components, officer_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    await stored_declaration(parts, f"{ESCAPES}Nguyễn\u202eVăn An", "tg:1")
    await stored_declaration(parts, f"\x9b31m{ESCAPES}", "tg:2")
    await parts.close()
    for argv in (["review", "list"], ["review", "list", "--full"]):
        assert await officer(argv) == 0
        printed = capsys.readouterr().out
        assert not any(ord(c) < 0x20 and c != "\n" for c in printed), repr(printed)
        assert "\x7f" not in printed and "\x9b" not in printed and "\u202e" not in printed
    assert r"\x1b]0;pwned\x07\x1b[2J" in printed and r"\u202e" in printed and r"\x9b" in printed


async def test_an_outbox_error_with_terminal_escapes_prints_harmlessly(
    parts: Components, officer_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = await stored_declaration(parts, "Nguyễn Văn An", "tg:1")
    await parts.db.write(
        "UPDATE submission_outbox SET status = 'parked', last_error = ?",
        (f"agency answered 502: {ESCAPES}",),
    )
    await parts.close()
    assert await officer(["outbox"]) == 0
    printed = capsys.readouterr().out
    assert receipt in printed and r"502: \x1b]0;pwned\x07\x1b[2J" in printed
    assert "\x1b" not in printed and "\x07" not in printed


def test_a_qr_code_with_terminal_escapes_prints_harmlessly_from_scan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hostile = "001099012345||Nguyễn\u202eVăn An|01011999|Nam|Hà Nội\x9b2J|01012021"
    photo = tmp_path / "hostile.jpg"
    photo.write_bytes(qr_photo(hostile))
    assert main(["scan", str(photo)]) == 0
    printed = capsys.readouterr().out
    assert printed.endswith("\n") and all(c.isprintable() for c in printed[:-1]), repr(printed)
    assert json.loads(printed)["file"] == str(photo)  # still one JSON object a line
    hostile_fields = {"full_name": "Nguyễn\u202eVăn An", "address": "Hà Nội\x9b2J\U000e0001"}
    escaped = printable_json(json.dumps(hostile_fields, ensure_ascii=False))
    assert escaped.isprintable() and json.loads(escaped) == hostile_fields  # nothing lost


# --- a reproducible install ----------------------------------------------------------------


def lock_entries() -> dict[str, list[tuple[str, str, list[str]]]]:
    """``requirements.lock`` as {name: [(version, marker, hashes)]}."""
    text = (ROOT / "requirements.lock").read_text().replace("\\\n", " ")
    entries: dict[str, list[tuple[str, str, list[str]]]] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        found = re.match(r"([A-Za-z0-9_.\-]+)==(\S+)\s*(?:;\s*([^-]*?))?\s*(--hash.*)?$", line)
        assert found, f"not a pinned line: {line}"
        name, version, marker, hashes = found.groups()
        sha = re.findall(r"--hash=sha256:([0-9a-f]{64})", hashes or "")
        entries.setdefault(canonicalize_name(name), []).append((version, marker or "", sha))
    return entries


def runtime_requirements() -> list[Requirement]:
    """pyproject's dependencies, plus what the extras they ask for add."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    for requirement in list(wanted):
        for extra in requirement.extras:
            for line in metadata.requires(requirement.name) or []:
                added = Requirement(line)
                if added.marker and added.marker.evaluate({"extra": extra}):
                    added.marker = None
                    wanted.append(added)
    return wanted


def test_every_runtime_dependency_is_pinned_in_the_lock_with_hashes() -> None:
    lock = lock_entries()
    assert all(hashes for pins in lock.values() for _, _, hashes in pins)  # --require-hashes
    for requirement in runtime_requirements():
        pins = lock.get(canonicalize_name(requirement.name))
        assert pins, f"{requirement.name} is not in requirements.lock"
        for version, _, hashes in pins:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{requirement.name}=={version} does not satisfy {requirement}"
            )
            assert hashes
    readme = (ROOT / "README.md").read_text()
    assert "pip install --require-hashes -r requirements.lock" in readme
