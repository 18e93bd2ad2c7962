"""What the citizen was told stays true after a power cut, a crash, a restart or a block.

Real SQLite files in ``tmp_path``, real processes where processes matter, and the Bot API
emulator where Telegram answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.handlers.registration import deliver_notices
from bot.handlers.render import MAX_TEXT, split_text, utf16_length
from bot.wiring import Components, build
from storage.db import MIGRATIONS, Database
from storage.declarations import DeclarationStore, SubmissionOutbox
from storage.vault import Vault
from tests.conftest import FakeClock, make_settings
from tests.story import Citizen
from tests.test_review import submitted
from tests.test_telegram_e2e import Running, telegram  # noqa: F401 (a fixture)

#: The data key the stores seal personal fields with (a test key, never a real one).
VAULT = Vault(bytes.fromhex("11" * 32))

ROOT = Path(__file__).resolve().parents[1]
SYNCHRONOUS = {"0": "OFF", "1": "NORMAL", "2": "FULL", "3": "EXTRA"}


def photo_files(parts: Components) -> set[str]:
    return {p.stem for p in (parts.settings.vssid_data_dir / "photos").glob("*.bin")}


async def traced(db: Database) -> list[str]:
    """Every statement the connection runs from now on, as SQLite sees it."""
    statements: list[str] = []
    await db.conn.set_trace_callback(statements.append)
    return statements


def old_database(path: Path, version: int, *extra: str) -> None:
    """A database file as an older bot left it: ``version`` migrations applied, WAL on."""
    with sqlite3.connect(path, isolation_level=None) as old:
        old.execute("PRAGMA journal_mode=WAL")
        for script in MIGRATIONS[:version]:
            old.executescript(script)
        old.execute(f"PRAGMA user_version={version}")
        for statement in extra:
            old.execute(statement)
    old.close()


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as other:
        version = int(other.execute("PRAGMA user_version").fetchone()[0])
    other.close()
    return version


# --------------------------------------------------------------- the receipt survives power loss


async def test_a_durable_transaction_syncs_fully_and_the_usual_writes_stay_fast(
    tmp_path: Path,
) -> None:
    db = await Database(tmp_path / "d.sqlite3", VAULT).open()
    try:
        async with db.transaction(durable=True) as conn:
            [(inside,)] = await conn.execute_fetchall("PRAGMA synchronous")
        [(after,)] = await db.fetch("PRAGMA synchronous")
        with pytest.raises(ZeroDivisionError):
            async with db.transaction(durable=True):
                _ = 1 / 0
        [(after_a_failure,)] = await db.fetch("PRAGMA synchronous")
        async with db.transaction() as conn:
            [(usual,)] = await conn.execute_fetchall("PRAGMA synchronous")
    finally:
        await db.close()
    assert SYNCHRONOUS[str(inside)] == "FULL"
    assert [SYNCHRONOUS[str(v)] for v in (after, after_a_failure, usual)] == ["NORMAL"] * 3


async def test_the_commit_that_issues_a_receipt_waits_for_the_disk(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = await Database(tmp_path / "r.sqlite3", VAULT).open()
    try:
        statements = await traced(db)
        receipt = await DeclarationStore(db).submit(
            "draft-1", "tg:1", "03102", {"full_name": "Nguyễn Văn An"}, clock()
        )
        await db.conn.set_trace_callback(None)
    finally:
        await db.close()
    assert receipt.endswith("/03102")
    insert = next(i for i, s in enumerate(statements) if s.startswith("INSERT INTO declarations"))
    begin = max(i for i, s in enumerate(statements[:insert]) if s.startswith("BEGIN"))
    commit = insert + next(i for i, s in enumerate(statements[insert:]) if s == "COMMIT")
    pragmas = [s for s in statements if s.startswith("PRAGMA synchronous")]
    assert pragmas == ["PRAGMA synchronous=FULL", "PRAGMA synchronous=NORMAL"]
    assert statements.index(pragmas[0]) < begin and statements.index(pragmas[1]) > commit


# ------------------------------------------------------- a decision, its photos and its notice


async def test_a_decision_whose_notice_cannot_be_stored_is_not_recorded(
    citizen: Citizen, parts: Components
) -> None:
    receipt = await submitted(citizen)
    photos_before = photo_files(parts)
    assert len(photos_before) == 3
    # The disk fills up just as the notice is written (a trigger makes SQLite refuse it).
    await parts.db.write(
        "CREATE TRIGGER disk_full BEFORE INSERT ON user_notices "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    with pytest.raises(sqlite3.IntegrityError, match="disk is full"):
        await parts.reviews.decide(receipt, "rejected", "Ảnh CCCD bị mờ")
    [declaration] = await parts.service.declarations.for_user(citizen.user_key)
    assert declaration.status == "submitted"  # still waiting: the officer can decide again
    assert photo_files(parts) == photos_before
    assert len(await parts.db.fetch("SELECT id FROM photos")) == 3
    await parts.db.write("DROP TRIGGER disk_full")
    assert await parts.reviews.decide(receipt, "rejected", "Ảnh CCCD bị mờ")
    assert photo_files(parts) == set()
    assert await parts.db.fetch("SELECT id FROM photos") == []
    [notice] = await parts.service.sweep()
    assert "Ảnh CCCD bị mờ" in parts.translator.reply("vi", notice.replies[0])


async def test_photo_files_a_crash_left_without_their_rows_are_removed_at_start_up(
    tmp_path: Path, clock: FakeClock
) -> None:
    parts = await build(make_settings(tmp_path), clock)
    sealer = parts.service.photos.sealer
    kept = sealer.seal(b"a photo still in a draft")
    await parts.service.photos.record(kept, "tg:1", 24, clock())
    orphan = sealer.seal(b"a photo whose row was deleted just before a crash")
    half_written = sealer.folder / "0123abcd.tmp"
    half_written.write_bytes(b"a photo cut off by the crash")
    for path in (sealer.folder / f"{orphan}.bin", half_written):
        stamp = path.stat().st_mtime - 3600  # an hour before it was written: long gone
        os.utime(path, (stamp, stamp))
    just_sealed = sealer.seal(b"another process's photo, its row on the way")
    await parts.close()

    restarted = await build(make_settings(tmp_path), clock)
    try:
        left = sorted(p.name for p in sealer.folder.iterdir())
    finally:
        await restarted.close()
    assert left == sorted([f"{kept}.bin", f"{just_sealed}.bin"])


# ------------------------------------------------------------------------------ foreign keys


async def test_deleting_a_declaration_takes_its_outbox_items_and_queue_entry_with_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    db = await Database(tmp_path / "f.sqlite3", VAULT).open()
    try:
        receipt = await DeclarationStore(db).submit("draft-1", "tg:1", "03102", {}, clock())
        outbox = SubmissionOutbox(db)
        [claimed] = await outbox.claim("worker", clock(), lease=timedelta(minutes=1))
        await outbox.deliver_to_review_queue(claimed.item.id, clock())
        assert await db.fetch("SELECT declaration_id FROM review_queue")
        await db.write("DELETE FROM declarations WHERE receipt = ?", (receipt,))
        left = await db.fetch(
            "SELECT (SELECT count(*) FROM submission_outbox), (SELECT count(*) FROM review_queue)"
        )
    finally:
        await db.close()
    assert [tuple(r) for r in left] == [(0, 0)]


async def test_an_old_database_with_items_of_deleted_declarations_is_consistent_once_opened(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    stamp = "2026-11-23T03:00:00.000000Z"
    old_database(
        path,
        6,  # the bot before foreign keys were enforced
        "INSERT INTO declarations (id, draft_id, user_key, receipt, agency_code, data, "
        "submitted_at) VALUES (1, 'd1', 'tg:1', '00001.GD/2026/03102', '03102', '{}', "
        f"'{stamp}')",
        "INSERT INTO submission_outbox (declaration_id, destination, idempotency_key, "
        f"next_attempt_at, created_at) VALUES (1, 'review_queue', 'k1', '{stamp}', '{stamp}'), "
        f"(2, 'review_queue', 'k2', '{stamp}', '{stamp}')",
        f"INSERT INTO review_queue VALUES (2, '03102', '{stamp}')",
    )
    db = await Database(path).open()
    try:
        [(enforced,)] = await db.fetch("PRAGMA foreign_keys")
        violations = await db.fetch("PRAGMA foreign_key_check")
        items = await db.fetch("SELECT declaration_id FROM submission_outbox")
    finally:
        await db.close()
    assert enforced == 1
    assert violations == []
    assert [r[0] for r in items] == [1]  # the live declaration's item is kept


# ------------------------------------------------------------------- starting on an old file


@contextlib.asynccontextmanager
async def another_writer(path: Path) -> AsyncIterator[None]:
    """A third process holds the write lock while the block starts the bots, and half a
    second more: each has then read all it can read without the lock."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
        await asyncio.sleep(0.5)
    finally:
        holder.execute("COMMIT")
        holder.close()


async def test_two_bots_starting_on_an_old_database_at_once_migrate_it_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    old_database(path, 3)
    first, second = Database(path), Database(path)
    async with another_writer(path):
        opening = asyncio.gather(first.open(), second.open(), return_exceptions=True)
    results = await opening
    for db in (first, second):
        await db.close()
    assert [type(r).__name__ for r in results] == ["Database", "Database"], results
    assert user_version(path) == len(MIGRATIONS)


_START_SCRIPT = """
import asyncio, sys
from storage.db import Database

async def main() -> None:
    print("opening", flush=True)
    db = await Database(sys.argv[1]).open()
    await db.close()

asyncio.run(main())
print("opened", flush=True)
"""


async def test_two_processes_starting_on_an_old_database_at_once_migrate_it_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    old_database(path, 3)
    async with another_writer(path):
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-c",
                _START_SCRIPT,
                str(path),
                cwd=ROOT,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            for _ in range(2)
        ]
        for process in processes:
            assert process.stdout is not None
            assert await process.stdout.readline() == b"opening\n"
    try:  # a start that failed and kept its connection open never exits
        outputs = [await asyncio.wait_for(p.communicate(), 30) for p in processes]
    finally:
        for process in processes:
            if process.returncode is None:
                process.kill()
                await process.communicate()
    assert [p.returncode for p in processes] == [0, 0], [err for _, err in outputs]
    assert user_version(path) == len(MIGRATIONS)


def _sqlite_threads() -> int:
    return sum("_connection_worker_thread" in t.name for t in threading.enumerate())


async def test_a_start_that_fails_to_migrate_closes_its_connection(tmp_path: Path) -> None:
    path = tmp_path / "odd.sqlite3"
    # Someone created by hand a table that migration 4 creates: that migration fails.
    old_database(path, 3, "CREATE TABLE user_notices (id INTEGER PRIMARY KEY)")
    before = _sqlite_threads()
    db = Database(path)
    with pytest.raises(sqlite3.OperationalError, match="already exists"):
        await db.open()
    for _ in range(100):  # the connection's thread ends just after close() returns
        if _sqlite_threads() == before:
            break
        await asyncio.sleep(0.01)
    assert _sqlite_threads() == before
    with pytest.raises(RuntimeError):
        _ = db.conn
    assert user_version(path) == 3  # the failed migration left nothing half done


# ------------------------------------------------------------------------- the receipt's year


async def test_a_declaration_at_3am_on_new_years_day_in_vietnam_is_numbered_in_the_new_year(
    tmp_path: Path,
) -> None:
    db = await Database(tmp_path / "y.sqlite3", VAULT).open()
    try:
        store = DeclarationStore(db)
        new_years_eve = datetime(2026, 12, 31, 16, 59, tzinfo=UTC)  # 23:59 in Hà Nội
        new_years_day = datetime(2026, 12, 31, 20, 0, tzinfo=UTC)  # 03:00 in Hà Nội
        late = await store.submit("draft-1", "tg:1", "03102", {}, new_years_eve)
        early = await store.submit("draft-2", "tg:2", "03102", {}, new_years_day)
    finally:
        await db.close()
    assert late == "00001.GD/2026/03102"
    assert early == "00001.GD/2027/03102"


# --------------------------------------------------------------- notices that Telegram refuses


def test_a_long_text_is_cut_at_line_and_word_boundaries_within_telegrams_limit() -> None:
    paragraph = "Lý do: " + " ".join(["ảnh CCCD bị mờ, xin chụp lại 😀"] * 60)
    text = "\n\n".join([paragraph] * 8)
    parts = split_text(text)
    assert len(parts) > 1
    assert all(0 < utf16_length(p) <= MAX_TEXT for p in parts)
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())  # nothing lost
    assert all(p.endswith("😀") for p in parts[:-1])  # never in the middle of a word
    one_word = "x" * (MAX_TEXT * 2 + 5)
    assert "".join(split_text(one_word)) == one_word
    assert split_text("Xin chào") == ["Xin chào"]


async def _rejected_over_telegram(running: Running, user_id: int, reason: str) -> str:
    """A citizen of chat ``user_id`` submitted earlier; an officer rejects it."""
    citizen = Citizen(running.parts, f"tg:{user_id}")
    receipt = await submitted(citizen)
    running.emu.add_private_chat(user_id)
    assert await running.parts.reviews.decide(receipt, "rejected", reason)
    return receipt


async def test_a_rejection_with_a_very_long_reason_reaches_the_citizen_in_several_messages(
    telegram: Running,  # noqa: F811 (the imported fixture)
) -> None:
    reason = " ".join(f"Mục {n}: ảnh mặt trước CCCD bị lóa, không đọc được số." for n in range(150))
    receipt = await _rejected_over_telegram(telegram, 7401, reason)
    await deliver_notices(telegram.app.bot, telegram.parts)
    shown = [m.text or "" for m in telegram.emu.messages(7401)]
    assert len(shown) > 1 and all(utf16_length(t) <= MAX_TEXT for t in shown)
    joined = " ".join(" ".join(shown).split())
    assert receipt in joined and "Mục 149: ảnh mặt trước" in joined
    assert await telegram.parts.service.sweep() == []  # delivered: not sent again


async def test_a_notice_to_a_citizen_who_blocked_the_bot_is_tried_a_few_times_then_parked(
    telegram: Running,  # noqa: F811 (the imported fixture)
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli.outbox import print_notice_counts
    from bot.service import NOTICE_ATTEMPTS

    await _rejected_over_telegram(telegram, 7402, "Thiếu ảnh")
    telegram.emu.block_bot(7402)
    for _ in range(NOTICE_ATTEMPTS + 3):  # sweeps, every 5 minutes in the running bot
        await deliver_notices(telegram.app.bot, telegram.parts)
    refused = [c for c in telegram.emu.calls("sendMessage") if c.chat_id == 7402]
    assert len(refused) == NOTICE_ATTEMPTS
    assert all(c.status == 403 for c in refused)
    counts = await telegram.parts.reviews.notices.counts()
    assert counts == {"pending": 0, "parked": 1}
    assert "parked" in caplog.text and "7402" not in caplog.text
    await print_notice_counts(telegram.parts.db)
    assert "notices: pending 0, parked 1" in capsys.readouterr().out


async def test_a_citizen_who_unblocks_the_bot_soon_still_gets_the_notice(
    telegram: Running,  # noqa: F811 (the imported fixture)
) -> None:
    await _rejected_over_telegram(telegram, 7403, "Thiếu ảnh")
    telegram.emu.block_bot(7403)
    await deliver_notices(telegram.app.bot, telegram.parts)
    telegram.emu.unblock_bot(7403)
    await deliver_notices(telegram.app.bot, telegram.parts)
    assert "Thiếu ảnh" in (telegram.emu.last_message(7403).text or "")
    assert await telegram.parts.reviews.notices.counts() == {"pending": 0, "parked": 0}

