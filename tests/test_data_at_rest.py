"""Personal data at rest: a private data folder, sealed personal fields, a checked data key,
an erasure that leaves nothing in the files, and a CPU worker that knows no secrets.

Each story reads the files as a thief with a copy of the disk would: raw bytes.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unicodedata
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite
import pytest

from bot.__main__ import EXIT_DATA_KEY, main
from bot.console import Console
from bot.cpu_worker import CpuWorker
from bot.declaration_pdf import declaration_filename
from bot.flows.conversation import Conversation
from bot.flows.events import Reply
from bot.i18n import Translator
from bot.wiring import Components, build
from storage.db import MIGRATIONS
from storage.keyring import KEY_FILE, DataKeyError
from storage.photos import PhotoSealer
from tests.conftest import FakeClock, make_settings
from tests.story import CCCD_2021, Citizen, fill_until_review, photo_bytes, qr_photo, submit

PROJECT = Path(__file__).resolve().parent.parent
DATABASE = "vssid.sqlite3"

#: What the typed story (``fill_until_review``) and the card story give, in every spelling
#: the bot might store it in (E.164 and national phone, ISO and Vietnamese birth date).
TYPED_SECRETS = (
    "Nguyễn Văn An",
    "001099012345",
    "0312345678",
    "+84983847986",
    "0983847986",
    "an.nguyen@example.com",
    "Số 5 Lạch Tray",
)
CARD_SECRETS = (
    "Pham Minh Duc",
    "Phạm Minh Đức",
    "031099012345",
    "1999-06-05",
    "05/06/1999",
    "05061999",
    "Đằng Giang",
)


def spellings(secret: str) -> set[bytes]:
    """How a value can sit in a file: UTF-8 (composed and decomposed), JSON-escaped."""
    return {
        secret.encode(),
        unicodedata.normalize("NFD", secret).encode(),
        json.dumps(secret)[1:-1].encode(),
    }


def database_files(data_dir: Path) -> dict[str, bytes]:
    """The bytes of the database and its write-ahead log and shared-memory index."""
    names = (DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm")
    return {name: (data_dir / name).read_bytes() for name in names if (data_dir / name).exists()}


def exposed(files: dict[str, bytes], secrets: Iterable[str]) -> set[tuple[str, str]]:
    """(file, secret) for every secret readable in a file."""
    return {
        (name, secret)
        for name, blob in files.items()
        for secret in secrets
        if any(form in blob for form in spellings(secret))
    }


def as_bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def pieces(sealed: bytes, size: int = 32) -> list[bytes]:
    """A sealed value in pieces: a fragment left in a page is a trace too."""
    return [sealed[i : i + size] for i in range(0, len(sealed) - size + 1, size)]


@asynccontextmanager
async def bot(
    data_dir: Path, clock: FakeClock, key: str | None = "11" * 32
) -> AsyncIterator[Components]:
    parts = await build(make_settings(data_dir, vssid_data_key=key), clock)
    try:
        yield parts
    finally:
        await parts.close()


async def registered(parts: Components, user_key: str) -> str:
    """A citizen who went all the way to a receipt and has the PDF; returns the receipt."""
    citizen = Citizen(parts, user_key)
    await fill_until_review(citizen)
    await submit(citizen)
    await parts.service.drain()  # the PDF is rendered and stored
    [declaration] = await parts.service.declarations.for_user(user_key)
    return declaration.receipt


async def card_draft(parts: Components, user_key: str) -> Citizen:
    """A citizen whose draft holds what their CCCD's QR code says (birth date included)."""
    citizen = Citizen(parts, user_key)
    await citizen.agrees()
    await citizen.says("0312345678")
    await citizen.says("Pham Minh Duc")
    await citizen.presses("name_confirm:keep")  # typed without diacritics, on purpose
    await citizen.sends_photo(qr_photo(CCCD_2021))
    await citizen.presses("id_number:card:yes")
    return citizen


# ---------------------------------------------------------------- a private data folder
@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["umask-022", "umask-000"])
async def test_the_data_folder_and_every_file_the_bot_writes_in_it_are_private_whatever_the_umask(
    tmp_path: Path, clock: FakeClock, umask: int
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    data_dir.chmod(0o755)  # as an operator's first `mkdir data` leaves it
    previous = os.umask(umask)
    try:
        async with bot(data_dir, clock, key=None) as parts:  # the key goes to data.key
            receipt = await registered(parts, "tg:2001")
            pdf = await parts.service.declarations.document(receipt, "vi")
            assert pdf is not None
            exported = Reply(
                "done.pdf",
                {"receipt": receipt},
                document=pdf,
                document_name=declaration_filename(receipt),
            )
            Console(parts, io.StringIO()).show([exported], "vi")  # the console saves it
            written = {p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*")}
            assert {KEY_FILE, DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm"} <= written
            assert any(p.startswith("photos/") and p.endswith(".bin") for p in written)
            assert any(p.startswith("exports/") and p.endswith(".pdf") for p in written)
            modes = {
                p.relative_to(tmp_path).as_posix(): oct(stat.S_IMODE(p.stat().st_mode))
                for p in [data_dir, *data_dir.rglob("*")]
            }
    finally:
        os.umask(previous)
    wrong = {
        name: mode
        for name, mode in modes.items()
        if mode != (oct(0o700) if (tmp_path / name).is_dir() else oct(0o600))
    }
    assert wrong == {}


# ---------------------------------------------------------------- sealed personal fields
async def test_a_copy_of_the_database_files_reveals_none_of_the_citizens_data(
    tmp_path: Path, clock: FakeClock
) -> None:
    data_dir = tmp_path / "data"
    async with bot(data_dir, clock) as parts:
        receipt = await registered(parts, "tg:3001")
        card = await card_draft(parts, "tg:3002")
        # what the files must hide is really there, behind the key
        assert await parts.service.declarations.document(receipt, "vi") is not None
        [code] = await parts.outbox.latest("an.nguyen@example.com", limit=1)
        assert code.recipient == "an.nguyen@example.com"
        draft = json.dumps(await card.answers(), ensure_ascii=False)
        assert "031099012345" in draft and "1999-06-05" in draft
        while_running = database_files(data_dir)
        assert {DATABASE, f"{DATABASE}-wal"} <= set(while_running)
        assert exposed(while_running, TYPED_SECRETS + CARD_SECRETS) == set()
    after_close = database_files(data_dir)  # everything checkpointed into the file
    assert exposed(after_close, TYPED_SECRETS + CARD_SECRETS) == set()


async def test_a_declaration_is_found_by_its_bhxh_code_kept_only_as_a_keyed_hash(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with bot(tmp_path / "a", clock) as parts:
        receipt = await registered(parts, "tg:3101")
        [found] = await parts.service.declarations.with_bhxh_code("0312345678")
        assert found.receipt == receipt and found.data["full_name"] == "Nguyễn Văn An"
        assert await parts.service.declarations.with_bhxh_code("0312345679") == []
        [(hashed,)] = await parts.db.fetch("SELECT bhxh_key FROM declarations")
    async with bot(tmp_path / "b", clock, key="22" * 32) as other:
        await registered(other, "tg:3101")
        [(other_hashed,)] = await other.db.fetch("SELECT bhxh_key FROM declarations")
    assert "0312345678" not in hashed
    assert hashed != other_hashed  # keyed: a list of all codes hashed does not match it


async def test_rows_an_older_version_stored_in_clear_are_sealed_when_the_bot_starts(
    tmp_path: Path, clock: FakeClock
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    now = clock().isoformat()
    answers = {"bhxh_code": "0312345678", "full_name": "Nguyễn Văn An", "phone": "+84983847986"}
    draft = Conversation(
        user_key="tg:5001", state="street", answers=answers, consent={"version": "1", "at": now}
    )
    declared = {**answers, "email": "an.nguyen@example.com", "locale": "vi"}
    async with aiosqlite.connect(data_dir / DATABASE, isolation_level=None) as old:
        for number, script in enumerate(MIGRATIONS[:6], start=1):  # the schema before sealing
            for statement in filter(str.strip, script.split(";")):
                await old.execute(statement)
            await old.execute(f"PRAGMA user_version={number}")
        await old.execute(
            "INSERT INTO conversations VALUES ('tg:5001', 'street', ?, ?)", (draft.to_json(), now)
        )
        await old.execute(
            "INSERT INTO declarations (draft_id, user_key, receipt, agency_code, data, "
            "submitted_at) VALUES ('d1', 'tg:5002', '00001.GD/2026/03102', '03102', ?, ?)",
            (json.dumps(declared, ensure_ascii=False), now),
        )
        await old.execute(
            "INSERT INTO declaration_documents VALUES ('00001.GD/2026/03102', 'vi', ?, ?)",
            ("%PDF-1.7 Nguyễn Văn An 0312345678".encode(), now),
        )
        await old.execute(
            "INSERT INTO dev_outbox (channel, recipient, subject, body, created_at) "
            "VALUES ('email', 'an.nguyen@example.com', 'Mã OTP', 'Mã của Nguyễn Văn An', ?)",
            (now,),
        )
    for _ in range(2):  # sealing once is enough; a second start finds nothing in clear
        async with bot(data_dir, clock) as parts:
            conv = await parts.service.conversations.load("tg:5001")
            assert conv is not None and conv.answers == answers
            [declaration] = await parts.service.declarations.with_bhxh_code("0312345678")
            assert declaration.data == declared
            pdf = await parts.service.declarations.document("00001.GD/2026/03102", "vi")
            assert pdf == "%PDF-1.7 Nguyễn Văn An 0312345678".encode()
            [message] = await parts.outbox.latest("An.Nguyen@example.com ")
            assert message.body == "Mã của Nguyễn Văn An"
        secrets = ("Nguyễn Văn An", "0312345678", "+84983847986", "an.nguyen@example.com")
        assert exposed(database_files(data_dir), secrets) == set()


# ---------------------------------------------------------------- the key is checked
async def test_a_different_data_key_refuses_to_start_and_leaves_the_data_readable(
    tmp_path: Path, clock: FakeClock
) -> None:
    data_dir = tmp_path / "data"
    async with bot(data_dir, clock) as parts:
        await fill_until_review(Citizen(parts, "tg:6001"))
    with pytest.raises(DataKeyError, match="VSSID_DATA_KEY"):
        await build(make_settings(data_dir, vssid_data_key="22" * 32), clock)
    async with bot(data_dir, clock) as parts:  # the right key still reads everything
        assert (await Citizen(parts, "tg:6001").answers())["full_name"] == "Nguyễn Văn An"


async def test_a_wrong_key_on_data_from_before_the_key_check_is_caught_by_the_photos(
    tmp_path: Path, clock: FakeClock
) -> None:
    data_dir = tmp_path / "data"
    async with bot(data_dir, clock) as parts:
        await fill_until_review(Citizen(parts, "tg:6301"))  # three sealed photos
        await parts.db.write("DELETE FROM meta WHERE name = 'key_check'")  # as before it
    with pytest.raises(DataKeyError, match="photos"):
        await build(make_settings(data_dir, vssid_data_key="22" * 32), clock)
    async with bot(data_dir, clock) as parts:  # the wrong key's check value was not stored
        assert (await Citizen(parts, "tg:6301").answers())["full_name"] == "Nguyễn Văn An"


def test_a_malformed_key_is_reported_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("VSSID_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("VSSID_DATA_KEY", "not a key")
    assert main(["console"]) == EXIT_DATA_KEY
    err = capsys.readouterr().err
    assert "VSSID_DATA_KEY" in err and "Traceback" not in err


def vssid_bot(command: str, data_dir: Path, key: str | None) -> subprocess.CompletedProcess[str]:
    """The ``vssid-bot`` command as an operator runs it (a fake token that never gets used)."""
    env = {k: v for k, v in os.environ.items() if k not in ("VSSID_DATA_KEY", "PYTHONPATH")}
    env.update(
        VSSID_DATA_DIR=str(data_dir),
        TELEGRAM_BOT_TOKEN="123456:not-a-real-token",
        TELEGRAM_API_URL="http://127.0.0.1:9",
        VSSID_DEV_OUTBOX="1",
        PYTHONPATH=str(PROJECT),
    )
    if key is not None:
        env["VSSID_DATA_KEY"] = key
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "bot", command],
        env=env,
        cwd=data_dir.parent,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("command", ["run", "console"])
async def test_the_bot_started_with_the_wrong_key_says_so_and_exits_with_an_error(
    tmp_path: Path, clock: FakeClock, command: str
) -> None:
    data_dir = tmp_path / "data"
    async with bot(data_dir, clock) as parts:
        await fill_until_review(Citizen(parts, "tg:6101"))
    ran = await asyncio.to_thread(vssid_bot, command, data_dir, "22" * 32)
    assert ran.returncode != 0
    assert "VSSID_DATA_KEY" in ran.stderr and "Traceback" not in ran.stderr, ran.stderr


async def test_a_deleted_key_file_beside_existing_data_is_not_silently_replaced(
    tmp_path: Path, clock: FakeClock
) -> None:
    data_dir = tmp_path / "data"
    async with bot(data_dir, clock, key=None) as parts:
        await fill_until_review(Citizen(parts, "tg:6201"))
    (data_dir / KEY_FILE).unlink()
    ran = await asyncio.to_thread(vssid_bot, "console", data_dir, None)
    assert ran.returncode != 0
    assert KEY_FILE in ran.stderr and "Traceback" not in ran.stderr, ran.stderr
    assert not (data_dir / KEY_FILE).exists()  # no new key beside data it cannot read
    with pytest.raises(DataKeyError, match=KEY_FILE):
        await build(make_settings(data_dir, vssid_data_key=None), clock)
    assert not (data_dir / KEY_FILE).exists()


# ---------------------------------------------------------------- deleted means gone
@pytest.mark.parametrize(
    ("command", "button", "outbox_goes"),
    [("deletemydata", "g:erase:yes", True), ("cancel", "g:cancel:yes", False)],
)
async def test_an_erased_draft_leaves_no_trace_in_the_database_files(
    tmp_path: Path, clock: FakeClock, command: str, button: str, outbox_goes: bool
) -> None:
    data_dir = tmp_path / "data"
    async with bot(data_dir, clock) as parts:
        citizen = Citizen(parts, "tg:7001")
        await fill_until_review(citizen)
        await citizen.presses("review:confirm")
        await citizen.presses("otp:via:email")  # a code for their address in the dev outbox
        [(draft,)] = await parts.db.fetch(
            "SELECT data FROM conversations WHERE user_key = 'tg:7001'"
        )
        erased = [as_bytes(draft)]
        if outbox_goes:
            for row in await parts.db.fetch("SELECT recipient, body FROM dev_outbox"):
                erased += [as_bytes(value) for value in row]
        assert any(erased[0] in blob for blob in database_files(data_dir).values())

        await citizen.command(command)
        await citizen.presses(button)
        assert await citizen.state() == "(nothing stored)"
        files = database_files(data_dir)  # the bot still runs: nothing left to a later copy
        assert set(files) == {DATABASE, f"{DATABASE}-wal", f"{DATABASE}-shm"}
        traces = {
            (name, index)
            for name, blob in files.items()
            for index, value in enumerate(erased)
            for piece in pieces(value)
            if piece in blob
        }
        assert traces == set()
        assert exposed(files, TYPED_SECRETS) == set()


# ---------------------------------------------------------------- the CPU worker
def stale_spool() -> Path:
    """The RAM folder a killed bot left behind, with a citizen's photo it never handed over."""
    gone = subprocess.run(  # noqa: S603 - our own interpreter, to learn a pid that is gone
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    root = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()  # noqa: S108
    spool = Path(tempfile.mkdtemp(prefix=f"vssid-photos-{int(gone.stdout)}-", dir=root))
    (spool / "tmpphoto").write_bytes(photo_bytes(seed=9))
    return spool


async def test_photo_spools_of_a_killed_bot_are_removed_when_the_bot_starts(
    tmp_path: Path, clock: FakeClock
) -> None:
    spool = stale_spool()
    try:
        async with bot(tmp_path / "data", clock) as parts:
            await parts.service.cpu.start()
            assert not spool.exists()  # before any photo was spooled
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().decode()
    return dict(entry.split("=", 1) for entry in raw.split("\0") if "=" in entry)


async def test_the_cpu_worker_starts_without_the_bots_secrets_in_its_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {
        "TELEGRAM_BOT_TOKEN": "123456:token-for-the-bot-only",
        "SMTP_PASSWORD": "smtp-password-for-the-bot-only",
        "VSSID_DATA_KEY": "ab" * 32,
        "SMS_GATEWAY_URL": "https://user:gateway-secret@sms.example/send",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    kept = {
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        # as under faketime; a faketime run keeps its own values (libfaketime re-reads them)
        "FAKETIME": os.environ.get("FAKETIME", "+0d"),
        "FAKETIME_DONT_FAKE_MONOTONIC": os.environ.get("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
        "TMPDIR": str(tmp_path),
        "HOME": os.environ.get("HOME", str(tmp_path)),
    }
    for name, value in kept.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LD_PRELOAD", os.environ.get("LD_PRELOAD", ""))
    cpu = CpuWorker(Translator(), PhotoSealer(tmp_path / "photos", b"\x11" * 32), workers=1)
    await cpu.start()
    try:
        [pid] = cpu.pids
        environ = environment_of(pid)
        assert not set(secrets) & set(environ)
        assert not [v for v in secrets.values() if v in "".join(environ.values())]
        assert {n: environ.get(n) for n in kept} == kept
        assert {"PATH", "PYTHONPATH", "LD_PRELOAD"} <= set(environ)
        assert await cpu.keep_photo(photo_bytes(seed=4))  # and it still does its work
    finally:
        await cpu.close()
