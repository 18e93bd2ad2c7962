"""The database under many users at once: writes share round trips, each still committed."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.db import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    opened = await Database(tmp_path / "t.sqlite3").open()
    await opened.write("CREATE TABLE answers (user_key TEXT PRIMARY KEY, answer TEXT NOT NULL)")
    yield opened
    await opened.close()


def _rows(path: Path) -> dict[str, str]:
    """What another process sees: proof that each write is committed, not only queued."""
    with sqlite3.connect(path) as other:
        return dict(other.execute("SELECT user_key, answer FROM answers").fetchall())


async def test_two_hundred_users_answering_at_once_are_all_committed_when_told_so(
    db: Database, tmp_path: Path
) -> None:
    upsert = (
        "INSERT INTO answers VALUES (?, ?) "
        "ON CONFLICT(user_key) DO UPDATE SET answer = excluded.answer"
    )
    trips = 0
    real = db.conn.executemany

    async def counting(sql: str, rows: list[tuple[str, str]]) -> object:
        nonlocal trips
        trips += 1
        return await real(sql, rows)

    db.conn.executemany = counting  # type: ignore[method-assign]
    await asyncio.gather(*(db.write(upsert, (f"u{i}", f"answer {i}")) for i in range(200)))
    rows = _rows(tmp_path / "t.sqlite3")
    assert rows == {f"u{i}": f"answer {i}" for i in range(200)}
    assert 1 <= trips < 200  # they shared round trips


async def test_a_failing_statement_fails_only_its_own_writer(db: Database, tmp_path: Path) -> None:
    insert = "INSERT INTO answers VALUES (?, ?)"
    await db.write(insert, ("taken", "first"))
    results = await asyncio.gather(
        db.write(insert, ("a", "1")),
        db.write(insert, ("taken", "again")),  # primary key already used
        db.write(insert, ("b", "2")),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], sqlite3.IntegrityError)
    assert _rows(tmp_path / "t.sqlite3") == {"taken": "first", "a": "1", "b": "2"}


async def test_a_write_waits_for_a_transaction_in_progress(db: Database, tmp_path: Path) -> None:
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO answers VALUES ('t', 'in transaction')")
        outside = asyncio.create_task(db.write("UPDATE answers SET answer = 'after' WHERE 1"))
        await asyncio.sleep(0.05)
        assert not outside.done()
    await outside
    assert _rows(tmp_path / "t.sqlite3") == {"t": "after"}


async def test_answers_reach_the_database_file_while_the_bot_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("storage.db.CHECKPOINT_EVERY", 0.05)
    path = tmp_path / "c.sqlite3"
    db = await Database(path).open()
    try:
        await db.write("CREATE TABLE answers (user_key TEXT PRIMARY KEY, answer TEXT NOT NULL)")
        await db.write("INSERT INTO answers VALUES ('u1', 'Nguyễn Văn An')")
        await asyncio.sleep(0.3)
        # immutable=1 reads the database file alone, ignoring the write-ahead log: the row
        # is there only if a checkpoint copied it, with no commit having to do it.
        with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as file_only:
            rows = file_only.execute("SELECT answer FROM answers").fetchall()
        assert rows == [("Nguyễn Văn An",)]
    finally:
        await db.close()
    assert (
        not path.with_name("c.sqlite3-wal").exists()
        or path.with_name("c.sqlite3-wal").stat().st_size == 0
    )


async def test_a_busy_bots_write_ahead_log_is_started_over_and_stays_small(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("storage.db.CHECKPOINT_EVERY", 3600)  # the test calls checkpoint()
    monkeypatch.setattr("storage.db.WAL_RESTART_FRAMES", 100)
    db = await Database(tmp_path / "w.sqlite3").open()
    upsert = "INSERT OR REPLACE INTO answers VALUES (?, ?)"
    stop = asyncio.Event()

    async def citizens_answering() -> None:  # never a pause for SQLite to restart by itself
        n = 0
        while not stop.is_set():
            await asyncio.gather(*(db.write(upsert, (f"u{i}", f"a{n}" * 200)) for i in range(20)))
            n += 1

    try:
        await db.write("CREATE TABLE answers (user_key TEXT PRIMARY KEY, answer TEXT NOT NULL)")
        writing = asyncio.create_task(citizens_answering())
        lengths = []
        for _ in range(12):
            await asyncio.sleep(0.05)
            lengths.append(await db.checkpoint())
        stop.set()
        await writing
        assert max(lengths) > 100  # it did grow past the limit…
        assert any(b < a for a, b in itertools.pairwise(lengths))  # …and was started over
    finally:
        stop.set()
        await db.close()
