"""The one SQLite connection of the process, its settings and its schema migrations.

WAL with ``synchronous=NORMAL`` keeps a write at a fraction of a millisecond while still
surviving a process crash (PERF.md §4); the few commits a citizen is told about (a receipt,
a decision) also survive a power cut: ``transaction(durable=True)`` syncs them to the disk.
Each statement commits on its own (autocommit); multi-statement work goes through
``transaction()``, which also serialises writers so another task's statement cannot slip
into it. Every connection enforces foreign keys.

Group commit: the round trip to aiosqlite's thread, not SQLite, is what a write costs
(PERF.md §4). Statements written while another batch is on its way are sent together:
one transaction with one ``executemany`` per statement text (a failing row rolls it back and
the rows are retried alone, so each caller hears its own result).
Every caller still waits for its own commit, so "written before the reply" holds. Under
load many users' conversation rows share a few trips; alone, a write goes out at once.

Checkpoints (copying the WAL back into the database file, with an fsync) run on a second
connection every second (``CHECKPOINT_EVERY``), beside the writes. SQLite's default runs
one inside whichever commit crosses 1,000 WAL pages, and every user whose write was in that
batch waited for the fsync: at 500 steps/s ``bench/flow.py`` saw p99 answer times of
46–53 ms with it and 23–27 ms without.

A checkpoint beside busy writers never finishes exactly when a write begins, and only then
does SQLite start the WAL file over: under the benchmark's load it grew by ~10 MB a second.
So once it holds more than ``WAL_RESTART_FRAMES``, the checkpointer takes the write lock
for a moment and finishes the job (``RESTART``: only the frames written since its last
pass are left to copy), and the next write starts the file over.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from storage.keyring import wrong_key
from storage.private import private_file, private_folder, tighten
from storage.vault import Vault

#: Numbered migrations, applied in order; never edit one that has shipped, add the next.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE conversations (
        user_key   TEXT PRIMARY KEY,
        state      TEXT NOT NULL,
        data       TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE consents (
        id         INTEGER PRIMARY KEY,
        user_key   TEXT NOT NULL,
        version    TEXT NOT NULL,
        given_at   TEXT NOT NULL
    );
    CREATE TABLE receipt_counters (
        agency_code TEXT NOT NULL,
        year        INTEGER NOT NULL,
        last_seq    INTEGER NOT NULL,
        PRIMARY KEY (agency_code, year)
    );
    CREATE TABLE declarations (
        id           INTEGER PRIMARY KEY,
        draft_id     TEXT NOT NULL UNIQUE,
        user_key     TEXT NOT NULL,
        receipt      TEXT NOT NULL UNIQUE,
        agency_code  TEXT NOT NULL,
        status       TEXT NOT NULL DEFAULT 'submitted',
        data         TEXT NOT NULL,
        submitted_at TEXT NOT NULL
    );
    CREATE INDEX declarations_by_user ON declarations(user_key);
    CREATE TABLE photos (
        id         TEXT PRIMARY KEY,
        user_key   TEXT NOT NULL,
        size       INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX photos_by_user ON photos(user_key);
    CREATE TABLE dev_outbox (
        id         INTEGER PRIMARY KEY,
        channel    TEXT NOT NULL,
        recipient  TEXT NOT NULL,
        subject    TEXT NOT NULL,
        body       TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 2 — the submission outbox (bot/submission.py) and the agency review queue. Times are
    # UTC text in one fixed format ("2026-11-23T03:00:00.000000Z") so they compare as text.
    """
    CREATE TABLE submission_outbox (
        id              INTEGER PRIMARY KEY,
        declaration_id  INTEGER NOT NULL REFERENCES declarations(id) ON DELETE CASCADE,
        destination     TEXT NOT NULL,
        idempotency_key TEXT NOT NULL UNIQUE,
        status          TEXT NOT NULL DEFAULT 'pending',
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        claimed_by      TEXT,
        claimed_until   TEXT,
        last_error      TEXT,
        created_at      TEXT NOT NULL,
        delivered_at    TEXT,
        UNIQUE (declaration_id, destination)
    );
    CREATE INDEX submission_outbox_due ON submission_outbox(status, next_attempt_at);
    CREATE TABLE review_queue (
        declaration_id INTEGER PRIMARY KEY REFERENCES declarations(id) ON DELETE CASCADE,
        agency_code    TEXT NOT NULL,
        queued_at      TEXT NOT NULL
    );
    CREATE INDEX review_queue_by_agency ON review_queue(agency_code, queued_at);
    """,
    # 3 — declarations stored before the outbox existed still reach the review queue (only
    # that destination: an e-mail copy days later would surprise the citizen).
    """
    INSERT INTO submission_outbox (declaration_id, destination, idempotency_key,
        next_attempt_at, created_at)
    SELECT id, 'review_queue',
        lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||
            substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1) ||
            substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6))),
        strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z',
        strftime('%Y-%m-%dT%H:%M:%S', 'now') || '.000000Z'
    FROM declarations
    WHERE id NOT IN (SELECT declaration_id FROM submission_outbox)
    """,
    # 4 — the officers' decision on a declaration, messages waiting for users who did not
    # write first (a decision, an expiry), and the index the reminder sweep reads by.
    """
    ALTER TABLE declarations ADD COLUMN decided_at TEXT;
    ALTER TABLE declarations ADD COLUMN decision_reason TEXT;
    CREATE TABLE user_notices (
        id         INTEGER PRIMARY KEY,
        user_key   TEXT NOT NULL,
        key        TEXT NOT NULL,
        params     TEXT NOT NULL,
        created_at TEXT NOT NULL,
        sent_at    TEXT
    );
    CREATE INDEX user_notices_unsent ON user_notices(sent_at, id);
    CREATE INDEX conversations_by_update ON conversations(updated_at);
    """,
    # 5 — one-time codes sent, per address (an HMAC of it), to throttle across accounts.
    """
    CREATE TABLE otp_sends (
        address TEXT NOT NULL,
        sent_at TEXT NOT NULL
    );
    CREATE INDEX otp_sends_by_address ON otp_sends(address, sent_at);
    """,
    # 6 — the declaration's PDF, rendered once when it is submitted and reused for the copy.
    """
    CREATE TABLE declaration_documents (
        receipt    TEXT PRIMARY KEY,
        locale     TEXT NOT NULL,
        pdf        BLOB NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 7 — code entry locked per address (an HMAC of channel and address) after too many
    # wrong codes, so /cancel and starting again does not lift the lock (bot/flows/otp.py).
    """
    CREATE TABLE otp_locks (
        address      TEXT PRIMARY KEY,
        locked_until TEXT NOT NULL
    );
    """,
    # 8 — retention: when a declaration's personal fields, PDF and photos were deleted
    # (RETENTION_DAYS after its decision or expiry); the sweep finds those due by decided_at.
    """
    ALTER TABLE declarations ADD COLUMN purged_at TEXT;
    CREATE INDEX declarations_to_purge ON declarations(decided_at) WHERE purged_at IS NULL;
    """,
    # 9 — which officer decided (``vssid-bot review … --officer NAME``); NULL for an expiry
    # and for the decisions taken before it was recorded.
    """
    ALTER TABLE declarations ADD COLUMN decided_by TEXT
    """,
    # 10 — foreign keys are enforced from now on (``Database.open``): drop the outbox items
    # and queue entries whose declaration was deleted while they were not, as the declared
    # ON DELETE CASCADE would have.
    """
    DELETE FROM submission_outbox WHERE declaration_id NOT IN (SELECT id FROM declarations);
    DELETE FROM review_queue WHERE declaration_id NOT IN (SELECT id FROM declarations)
    """,
    # 11 — a notice Telegram keeps refusing (the citizen blocked the bot) is tried a bounded
    # number of times, then parked: kept for the operator, no longer retried by the sweep.
    """
    ALTER TABLE user_notices ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE user_notices ADD COLUMN parked_at TEXT;
    ALTER TABLE user_notices ADD COLUMN last_error TEXT
    """,
    # 12 — personal data at rest (storage/vault.py): the data key's check value in ``meta``,
    # and keyed hashes that stand in for sealed fields where rows are looked up by them
    # (the BHXH code of a declaration, the recipient of a dev-outbox message). Rows stored
    # in clear before are sealed in Python at the next start (storage/at_rest.py).
    """
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    ALTER TABLE declarations ADD COLUMN bhxh_key TEXT;
    CREATE INDEX declarations_by_bhxh ON declarations(bhxh_key);
    ALTER TABLE dev_outbox ADD COLUMN recipient_key TEXT;
    CREATE INDEX dev_outbox_by_recipient ON dev_outbox(recipient_key);
    """,
    # 13 — the help desk (bot/helpdesk/): one request per citizen who asked for a person,
    # its forum topic in the staff chat, and an append-only audit of every staff action.
    # ``told_at``: the citizen was told nobody answered in time; ``callback``: '' | 'asking'
    # | 'set', with the phone to call back sealed (storage/vault.py) in ``callback_phone``.
    # ``helpdesk_messages``: which copy is which message, to mirror replies and edits.
    """
    CREATE TABLE helpdesk_requests (
        user_key      TEXT PRIMARY KEY,
        reference     TEXT NOT NULL UNIQUE,
        status        TEXT NOT NULL,
        thread_id     INTEGER,
        requested_at  TEXT NOT NULL,
        taken_by      INTEGER,
        updated_at    TEXT NOT NULL,
        told_at       TEXT,
        callback      TEXT NOT NULL DEFAULT '',
        callback_phone BLOB
    );
    CREATE UNIQUE INDEX helpdesk_by_thread ON helpdesk_requests(thread_id);
    CREATE TABLE helpdesk_audit (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        at         TEXT NOT NULL,
        staff_id   INTEGER NOT NULL,
        action     TEXT NOT NULL,
        reference  TEXT NOT NULL,
        detail     TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE helpdesk_messages (
        user_key            TEXT NOT NULL,
        citizen_message_id  INTEGER NOT NULL,
        staff_message_id    INTEGER NOT NULL,
        PRIMARY KEY (user_key, citizen_message_id)
    );
    CREATE UNIQUE INDEX helpdesk_messages_by_staff ON helpdesk_messages(staff_message_id);
    """,
    # 14 — organisations' registration campaigns (bot/campaigns/): the campaign and its
    # invite token, its roster (each person sealed, found by the keyed hash of the BHXH
    # code) and who opened its invite link (with the keyed hash of the code they typed).
    """
    CREATE TABLE campaigns (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL,
        agency_code TEXT NOT NULL,
        deadline    TEXT NOT NULL,
        coordinator TEXT,
        token       TEXT NOT NULL UNIQUE,
        created_at  TEXT NOT NULL,
        closed_at   TEXT,
        reminded_at TEXT
    );
    CREATE TABLE campaign_roster (
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        bhxh_key    TEXT NOT NULL,
        position    INTEGER NOT NULL,
        person      BLOB NOT NULL,
        PRIMARY KEY (campaign_id, bhxh_key)
    );
    CREATE TABLE campaign_arrivals (
        campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
        user_key    TEXT NOT NULL,
        opened_at   TEXT NOT NULL,
        bhxh_key    TEXT,
        reminded_at TEXT,
        PRIMARY KEY (campaign_id, user_key)
    );
    CREATE INDEX campaign_arrivals_by_user ON campaign_arrivals(user_key);
    """,
    # 15 — guardians who proved their e-mail with a code rather than by their own
    # declaration through the bot (bot/guardians/proof.py): the guardian sealed, when it was
    # proved and last used for a child (the retention sweep counts from ``used_at``).
    """
    CREATE TABLE guardians (
        user_key  TEXT PRIMARY KEY,
        data      BLOB NOT NULL,
        proved_at TEXT NOT NULL,
        used_at   TEXT NOT NULL
    );
    CREATE INDEX guardians_by_use ON guardians(used_at);
    """,
)


@dataclass
class _Write:
    sql: str
    params: tuple[Any, ...]
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


CHECKPOINT_EVERY = 1.0  # seconds between passive WAL checkpoints
WAL_RESTART_FRAMES = 16_000  # ~64 MB of 4 KB pages: then the WAL is started over
WAL_KEPT_BYTES = 64 * 1024 * 1024  # a WAL file started over is cut back to this size


async def _stop(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait for it, unless its event loop is already gone
    (the CLI may close the database in a fresh loop)."""
    if task is None or task.done():
        return
    task.cancel()
    if task.get_loop() is asyncio.get_running_loop():
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Database:
    """Owns the aiosqlite connection; repositories borrow it, and its ``vault`` to seal the
    personal fields they write.

    Opened with a vault, the database is checked against the data key: the first start
    stores the key's check value, a later start with another key is refused
    (``DataKeyError``). The files are the owner's only (storage/private.py), deleted rows
    are overwritten (``secure_delete``), and ``forget()`` clears the write-ahead log after
    an erasure.
    """

    def __init__(self, path: Path | str, vault: Vault | None = None) -> None:
        self.path = str(path)
        self._vault = vault
        self._conn: aiosqlite.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._queued: list[_Write] = []
        self._queue_filled = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        self._forgetting: asyncio.Future[bool] | None = None

    @property
    def conn(self) -> aiosqlite.Connection:
        if self._conn is None:
            raise RuntimeError("Database.open() was not called")
        return self._conn

    @property
    def vault(self) -> Vault:
        if self._vault is None:
            raise RuntimeError("this Database was opened without the data key")
        return self._vault

    async def open(self) -> Database:
        try:
            await self._open()
        except BaseException:
            # A failed start lets go of the file: an open connection's thread would also
            # keep the process from exiting.
            await self.close(tidy=False)
            raise
        return self

    async def _open(self) -> None:
        if self.path != ":memory:":
            # SQLite gives the WAL and shared-memory files the database file's mode.
            file = Path(self.path)
            private_folder(file.parent)
            private_file(file)
            for suffix in ("-wal", "-shm"):
                tighten(file.with_name(file.name + suffix))
        self._conn = await _connect(self.path)
        await self._conn.execute("PRAGMA journal_mode=WAL")
        await self._conn.execute("PRAGMA synchronous=NORMAL")
        await self.migrate()
        if self._vault is not None:
            await self._check_key(self._vault.check_value)
        if self.path != ":memory:":
            await self._conn.execute("PRAGMA wal_autocheckpoint=0")  # see the module notes
            await self._conn.execute(f"PRAGMA journal_size_limit={WAL_KEPT_BYTES}")
            self._checkpointer = await _connect(self.path)
            self._checkpoints = asyncio.create_task(self._checkpoint_forever())

    async def _check_key(self, check_value: str) -> None:
        """Store the key's check value at the first start; refuse any other key later."""
        async with self.transaction() as conn:
            rows = list(
                await conn.execute_fetchall("SELECT value FROM meta WHERE name = 'key_check'")
            )
            if not rows:
                await conn.execute(
                    "INSERT INTO meta (name, value) VALUES ('key_check', ?)", (check_value,)
                )
                return
        if not hmac.compare_digest(str(rows[0][0]), check_value):
            raise wrong_key(f"the personal data in {self.path}")

    async def _checkpoint_forever(self) -> None:
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY)
            await self.checkpoint()

    async def checkpoint(self) -> int:
        """Copy the WAL into the database file; start it over when it has grown long.
        Returns the WAL's length in frames before this pass."""
        checkpointer = self._checkpointer
        if checkpointer is None:
            return 0
        # PASSIVE never blocks the writers; what it cannot copy now waits for next time.
        [(_, frames, _)] = await checkpointer.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        if frames > WAL_RESTART_FRAMES:
            async with self._write_lock:
                await checkpointer.execute_fetchall("PRAGMA wal_checkpoint(RESTART)")
        return int(frames)

    async def forget(self) -> bool:
        """After an erasure: copy the write-ahead log into the database file and cut it to
        nothing, so the erased rows' old versions are gone from the files, not only from
        the tables (``secure_delete`` has overwritten them in the pages). Under the write
        lock, so no new frame slips in. False when SQLite could not finish (a reader held
        on for longer than the busy timeout); the next erasure or ``close`` finishes it.
        """
        if self.path == ":memory:":
            return True
        # Erasures asking at once share one pass: every write takes the write lock, so a
        # pass not finished yet comes after their rows were deleted.
        forgetting = self._forgetting
        if (
            forgetting is None
            or forgetting.done()
            or forgetting.get_loop() is not asyncio.get_running_loop()
        ):
            forgetting = self._forgetting = asyncio.ensure_future(self._truncate_wal())
        return await asyncio.shield(forgetting)

    async def _truncate_wal(self) -> bool:
        conn = self._checkpointer or self.conn
        async with self._write_lock:
            [(busy, _, _)] = await conn.execute_fetchall("PRAGMA wal_checkpoint(TRUNCATE)")
        return not busy

    async def close(self, *, tidy: bool = True) -> None:
        """Stop the background tasks and close both connections; ``tidy`` first copies the
        WAL into the database file."""
        writer, self._writer = self._writer, None
        checkpoints, self._checkpoints = self._checkpoints, None
        await _stop(writer)
        await _stop(checkpoints)
        if self._checkpointer is not None:
            await self._checkpointer.close()
            self._checkpointer = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                if tidy and self.path != ":memory:":  # everything in the database file
                    await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                await conn.close()

    async def migrate(self) -> int:
        """Apply the migrations this database has not seen; returns its schema version.

        The version is read inside the migration's own ``BEGIN IMMEDIATE``: two processes
        starting at once on an old file take turns, and the second finds the work done
        (read before the lock, both would apply it and the second would fail).
        """
        while True:
            async with self.transaction() as conn:
                rows = await conn.execute_fetchall("PRAGMA user_version")
                version = int(next(iter(rows))[0])
                if version >= len(MIGRATIONS):
                    return version
                for statement in filter(str.strip, MIGRATIONS[version].split(";")):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version={version + 1}")

    async def fetch(self, sql: str, params: Iterable[Any] = ()) -> list[Any]:
        return list(await self.conn.execute_fetchall(sql, tuple(params)))

    async def write(self, sql: str, params: Iterable[Any] = ()) -> None:
        """One statement, kept out of any transaction in progress; returns once it is
        committed (possibly in one round trip with other users' statements).

        Statements issued at the same moment (``asyncio.gather``) share a batch and may be
        applied in any order: await one before issuing a statement that depends on it, or
        use ``transaction()``.
        """
        item = _Write(sql, tuple(params))
        self._queued.append(item)
        self._queue_filled.set()
        writer = self._writer
        if writer is None or writer.done() or writer.get_loop() is not asyncio.get_running_loop():
            # First write, or a new event loop (the CLI closes the bot in a fresh one).
            self._queue_filled = asyncio.Event()
            self._queue_filled.set()
            self._writer = asyncio.create_task(self._write_batches())
        await item.done

    async def _write_batches(self) -> None:
        """The one task that sends queued statements, a batch per round trip."""
        while True:
            await self._queue_filled.wait()
            self._queue_filled.clear()
            batch, self._queued = self._queued, []
            async with self._write_lock:
                await self._apply(batch)

    async def _apply(self, batch: list[_Write]) -> None:
        if len(batch) == 1:
            await self._one_by_one(batch)
            return
        groups = [
            list(items)
            for _, items in itertools.groupby(sorted(batch, key=lambda w: w.sql), lambda w: w.sql)
        ]
        try:
            await self.conn.execute("BEGIN IMMEDIATE")
            for items in groups:
                await self.conn.executemany(items[0].sql, [w.params for w in items])
            await self.conn.execute("COMMIT")
        except Exception:
            # One row failed and the batch was rolled back: run the rows one at a time,
            # so each caller hears its own result.
            if self.conn.in_transaction:
                await self.conn.execute("ROLLBACK")
            await self._one_by_one(batch)
            return
        for item in batch:
            _settle(item, None)

    async def _one_by_one(self, items: list[_Write]) -> None:
        for item in items:
            try:
                await self.conn.execute(item.sql, item.params)
            except Exception as exc:
                _settle(item, exc)
            else:
                _settle(item, None)

    @asynccontextmanager
    async def transaction(self, *, durable: bool = False) -> AsyncIterator[aiosqlite.Connection]:
        """Statements that commit together, other writers kept out meanwhile.

        ``durable`` commits with ``synchronous=FULL``: the commit returns once the WAL is on
        the disk, so a power cut right after cannot take it back. For the commits someone is
        told about (a receipt, an officer's decision); the rest keep ``NORMAL``, which can
        lose the last commits to a power cut (never to a crash) but spares each an fsync.
        SQLite cannot change it inside a transaction, hence around it, under the lock.
        """
        async with self._write_lock:
            conn = self.conn
            if durable:
                await conn.execute("PRAGMA synchronous=FULL")
            try:
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                except BaseException:
                    await conn.execute("ROLLBACK")
                    raise
                await conn.execute("COMMIT")
            finally:
                if durable:
                    await conn.execute("PRAGMA synchronous=NORMAL")


async def _connect(path: str) -> aiosqlite.Connection:
    """A connection with the settings every one of ours has: wait for a busy writer rather
    than fail, enforce the declared foreign keys (their ON DELETE CASCADE included), which
    SQLite leaves off unless each connection asks, and overwrite deleted rows in the pages
    (``secure_delete``), so an erasure is gone from the file, not only from the table."""
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        await conn.execute("PRAGMA busy_timeout=5000")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA secure_delete=ON")
    except BaseException:
        await conn.close()
        raise
    return conn


def _settle(item: _Write, error: BaseException | None) -> None:
    if item.done.done():  # the caller was cancelled while waiting
        return
    if error is None:
        item.done.set_result(None)
    else:
        item.done.set_exception(error)
