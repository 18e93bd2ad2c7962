"""Finished declarations, their receipt numbers, and the submission outbox.

The receipt ``{seq:05d}.GD/{year}/{agency}`` is allocated in the same transaction that
stores the declaration, so a number is never used twice nor a declaration stored without
one. Submitting the same draft twice (a retry after a crash) returns the first receipt.

The same transaction writes one outbox item per destination (``review_queue`` always,
``email_copy`` when the citizen asked for a copy, ``agency_endpoint`` when the caller says
so); ``bot/submission.py`` delivers them. An item is ``pending`` until ``delivered``, or
``parked`` after too many failures, where it waits for an operator and is never dropped.
Workers *claim* due items with a lease (one ``UPDATE … RETURNING`` under ``BEGIN
IMMEDIATE``), so two workers, or two ticks of one, never hold the same item at once.

A declaration's answers and its PDF are sealed with the data key (``storage/vault.py``),
bound to its receipt; receipt, agency, status and dates stay in clear for ``/status`` and
the officers, and the BHXH code is also kept as a keyed hash (``bhxh_key``) to find a
citizen's declarations by it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import aiosqlite

from bot.clock import VIETNAM
from storage.db import Database
from storage.vault import Vault

Destination = Literal["review_queue", "email_copy", "agency_endpoint"]
DESTINATIONS: tuple[Destination, ...] = ("review_queue", "email_copy", "agency_endpoint")
#: What ``submit`` enqueues when the caller does not say: no agency endpoint.
DEFAULT_DESTINATIONS: tuple[Destination, ...] = ("review_queue", "email_copy")
STATUSES = ("pending", "delivered", "parked")
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
#: What a purged declaration's data becomes (``DeclarationStore.purge``).
_PURGED = "{}"


class AlreadyPending(Exception):  # noqa: N818 (a refusal, not a fault)
    """A declaration for this BHXH code still waits for the agency's decision: one per code
    is enough, a second would only be sent back by the officers."""

    def __init__(self, pending: StoredDeclaration) -> None:
        super().__init__(pending.receipt)
        self.pending = pending


@dataclass(frozen=True)
class StoredDeclaration:
    receipt: str
    agency_code: str
    status: str
    submitted_at: str
    data: dict[str, Any]
    decision_reason: str | None = None
    user_key: str = ""


def format_receipt(seq: int, year: int, agency_code: str) -> str:
    return f"{seq:05d}.GD/{year}/{agency_code}"


def sealed_for(receipt: str) -> str:
    """What a declaration's data is sealed for (``Vault`` context)."""
    return f"declarations.data:{receipt}"


def document_sealed_for(receipt: str, locale: str) -> str:
    return f"declaration_documents.pdf:{receipt}:{locale}"


def bhxh_key(vault: Vault, data: dict[str, Any]) -> str | None:
    """The keyed hash of the declaration's BHXH code (``None`` without one)."""
    code = str(data.get("bhxh_code") or "").strip()
    return vault.lookup_key("bhxh_code", code) if code else None


def stored_form(vault: Vault, receipt: str, data: dict[str, Any]) -> tuple[bytes, str | None]:
    """A declaration's data as its row holds it: sealed, and the BHXH code's keyed hash."""
    sealed = vault.seal_text(json.dumps(data, ensure_ascii=False), sealed_for(receipt))
    return sealed, bhxh_key(vault, data)


def open_data(vault: Vault, stored: bytes | str, receipt: str) -> dict[str, Any]:
    opened: dict[str, Any] = json.loads(vault.unseal_text(stored, sealed_for(receipt)))
    return opened


class DeclarationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def submit(
        self,
        draft_id: str,
        user_key: str,
        agency_code: str,
        data: dict[str, Any],
        now: datetime,
        *,
        destinations: Collection[str] = DEFAULT_DESTINATIONS,
        again: str | None = None,
    ) -> str:
        """Store the declaration with a new receipt and its outbox items, in one transaction.

        ``destinations`` are those configured (``agency_endpoint`` only with a
        ``SUBMISSION_URL``); the review queue is always one, the e-mail copy only when
        ``data`` has ``wants_email`` and an ``email``. ``again``: the receipt of the
        citizen's rejected declaration this corrects; it is sent again under that receipt
        (a new one only if it can no longer be, e.g. purged meanwhile).
        """
        unknown = set(destinations) - set(DESTINATIONS)
        if unknown:
            raise ValueError(f"unknown outbox destinations: {sorted(unknown)}")
        wanted = [
            d
            for d in DESTINATIONS
            if d == "review_queue"
            or (d in destinations and (d != "email_copy" or _wants_copy(data)))
        ]
        async with self.db.transaction(durable=True) as conn:  # the citizen is told the receipt
            existing = list(
                await conn.execute_fetchall(
                    "SELECT receipt FROM declarations WHERE draft_id = ?", (draft_id,)
                )
            )
            if existing:
                return str(existing[0][0])
            hashed_code = bhxh_key(self.db.vault, data)
            if hashed_code is not None:
                waiting = list(
                    await conn.execute_fetchall(
                        f"SELECT {_COLUMNS} FROM declarations "  # noqa: S608
                        "WHERE bhxh_key = ? AND status = 'submitted' LIMIT 1",
                        (hashed_code,),
                    )
                )
                if waiting:
                    raise AlreadyPending(_declaration(self.db.vault, waiting[0]))
            if again is not None:
                sealed, hashed_code = stored_form(self.db.vault, again, data)
                resent = list(
                    await conn.execute_fetchall(
                        "UPDATE declarations SET draft_id = ?, agency_code = ?, data = ?, "
                        "bhxh_key = ?, submitted_at = ?, status = 'submitted', "
                        "decided_at = NULL, decision_reason = NULL, decided_by = NULL "
                        "WHERE receipt = ? AND user_key = ? AND status = 'rejected' "
                        "AND purged_at IS NULL RETURNING id",
                        (draft_id, agency_code, sealed, hashed_code, now.isoformat())
                        + (again, user_key),
                    )
                )
                if resent:
                    await _queue_deliveries(conn, int(resent[0][0]), wanted, now)
                    return again
            year = now.astimezone(VIETNAM).year  # 03:00 on 1 January in Hà Nội is the new year
            rows = list(
                await conn.execute_fetchall(
                    "INSERT INTO receipt_counters (agency_code, year, last_seq) VALUES (?, ?, 1) "
                    "ON CONFLICT(agency_code, year) DO UPDATE SET last_seq = last_seq + 1 "
                    "RETURNING last_seq",
                    (agency_code, year),
                )
            )
            receipt = format_receipt(int(rows[0][0]), year, agency_code)
            sealed, hashed_code = stored_form(self.db.vault, receipt, data)
            inserted = list(
                await conn.execute_fetchall(
                    "INSERT INTO declarations (draft_id, user_key, receipt, agency_code, data, "
                    "bhxh_key, submitted_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        draft_id,
                        user_key,
                        receipt,
                        agency_code,
                        sealed,
                        hashed_code,
                        now.isoformat(),
                    ),
                )
            )
            await _queue_deliveries(conn, int(inserted[0][0]), wanted, now)
            return receipt

    async def for_user(self, user_key: str) -> list[StoredDeclaration]:
        return await self._select("WHERE user_key = ? ORDER BY id", (user_key,))

    async def pending_for_code(self, bhxh_code: str) -> StoredDeclaration | None:
        """The declaration for this BHXH code still waiting for a decision, if any."""
        key = bhxh_key(self.db.vault, {"bhxh_code": bhxh_code})
        if key is None:
            return None
        found = await self._select(
            "WHERE bhxh_key = ? AND status = 'submitted' ORDER BY id LIMIT 1", (key,)
        )
        return found[0] if found else None

    async def with_bhxh_code(self, bhxh_code: str) -> list[StoredDeclaration]:
        """Every declaration made for this BHXH code, found by its keyed hash."""
        key = bhxh_key(self.db.vault, {"bhxh_code": bhxh_code})
        return await self._select("WHERE bhxh_key = ? ORDER BY id", (key,))

    async def save_document(self, receipt: str, locale: str, pdf: bytes, now: datetime) -> None:
        sealed = self.db.vault.seal(pdf, document_sealed_for(receipt, locale))
        await self.db.write(
            "INSERT OR REPLACE INTO declaration_documents (receipt, locale, pdf, created_at) "
            "VALUES (?, ?, ?, ?)",
            (receipt, locale, sealed, now.isoformat()),
        )

    async def document(self, receipt: str, locale: str) -> bytes | None:
        """The PDF rendered at submission, if it was rendered in ``locale``."""
        rows = await self.db.fetch(
            "SELECT pdf FROM declaration_documents WHERE receipt = ? AND locale = ?",
            (receipt, locale),
        )
        if not rows:
            return None
        return self.db.vault.unseal(rows[0][0], document_sealed_for(receipt, locale))

    async def by_receipt(self, receipt: str) -> StoredDeclaration | None:
        found = await self._select("WHERE receipt = ?", (receipt,))
        return found[0] if found else None

    async def undecided(self) -> list[StoredDeclaration]:
        return await self._select("WHERE status = 'submitted' ORDER BY id", ())

    async def due_for_purge(
        self, decided_before: datetime, limit: int = 200
    ) -> list[StoredDeclaration]:
        """Decided (or expired) before ``decided_before`` and still holding personal data."""
        return await self._select(
            "WHERE decided_at IS NOT NULL AND decided_at <= ? AND purged_at IS NULL "
            "ORDER BY decided_at LIMIT ?",
            (decided_before.isoformat(), limit),
        )

    async def purge(self, receipt: str, now: datetime) -> int:
        """Delete the declaration's personal fields and its PDF, in one transaction; the
        receipt, agency, dates and outcome stay for /status. Deliveries still undelivered
        are dropped with them (there is nothing left to send); returns how many."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE declarations SET data = ?, purged_at = ? WHERE receipt = ?",
                (_PURGED, now.isoformat(), receipt),
            )
            await conn.execute("DELETE FROM declaration_documents WHERE receipt = ?", (receipt,))
            cursor = await conn.execute(
                "DELETE FROM submission_outbox WHERE status != 'delivered' AND declaration_id "
                "IN (SELECT id FROM declarations WHERE receipt = ?)",
                (receipt,),
            )
            return int(cursor.rowcount)

    async def _select(self, where: str, params: tuple[Any, ...]) -> list[StoredDeclaration]:
        rows = await self.db.fetch(f"SELECT {_COLUMNS} FROM declarations {where}", params)  # noqa: S608
        return [_declaration(self.db.vault, r) for r in rows]

    async def decide(
        self,
        conn: aiosqlite.Connection,
        receipt: str,
        status: str,
        reason: str | None,
        now: datetime,
        officer: str | None = None,
    ) -> StoredDeclaration | None:
        """Record the officers' decision (or the expiry) of a declaration still waiting, and
        who took it; ``None`` when there is no such declaration or it was decided already.

        Runs inside the caller's transaction (``conn`` from ``Database.transaction``), which
        also deletes the photos and stores the citizen's notice (``bot/review.py``).
        """
        rows = list(
            await conn.execute_fetchall(
                "UPDATE declarations SET status = ?, decided_at = ?, decision_reason = ?, "  # noqa: S608
                f"decided_by = ? WHERE receipt = ? AND status = 'submitted' RETURNING {_COLUMNS}",
                (status, now.isoformat(), reason, officer, receipt),
            )
        )
        return _declaration(self.db.vault, rows[0]) if rows else None


_COLUMNS = "receipt, agency_code, status, submitted_at, data, decision_reason, user_key"


async def _queue_deliveries(
    conn: aiosqlite.Connection, declaration_id: int, destinations: Collection[str], now: datetime
) -> None:
    """One outbox item per destination, each with its own idempotency key. A declaration
    sent again (``again``) finds its earlier items: they start afresh, as new deliveries
    (the corrected declaration is another message to the agency)."""
    stamp = to_db_time(now)
    await conn.executemany(
        "INSERT INTO submission_outbox (declaration_id, destination, idempotency_key, "
        "next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(declaration_id, destination) DO UPDATE SET status = 'pending', "
        "attempts = 0, idempotency_key = excluded.idempotency_key, "
        "next_attempt_at = excluded.next_attempt_at, claimed_by = NULL, "
        "claimed_until = NULL, last_error = NULL, delivered_at = NULL",
        [(declaration_id, d, str(uuid.uuid4()), stamp, stamp) for d in destinations],
    )


def _declaration(vault: Vault, row: Any) -> StoredDeclaration:
    """A row of ``_COLUMNS``, its personal fields opened."""
    receipt = str(row[0])
    return StoredDeclaration(
        receipt,
        str(row[1]),
        str(row[2]),
        str(row[3]),
        open_data(vault, row[4], receipt),
        row[5],
        str(row[6]),
    )


def _wants_copy(data: dict[str, Any]) -> bool:
    return bool(data.get("wants_email")) and bool(data.get("email"))


def to_db_time(moment: datetime) -> str:
    """UTC in one fixed-width format, so that times compare correctly as text."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def from_db_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


@dataclass(frozen=True)
class OutboxItem:
    """One delivery of one declaration to one destination, as the operator sees it."""

    id: int
    declaration_id: int
    receipt: str
    destination: str
    idempotency_key: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True)
class ClaimedItem:
    """A due item a worker holds until ``lease_until``, with what it needs to deliver it."""

    item: OutboxItem
    user_key: str
    agency_code: str
    submitted_at: datetime
    data: dict[str, Any]
    lease_until: datetime


_ITEM_COLUMNS = (
    "o.id, o.declaration_id, d.receipt, o.destination, o.idempotency_key, o.status, "
    "o.attempts, o.next_attempt_at, o.last_error, o.created_at, o.delivered_at"
)


def _item(row: Any) -> OutboxItem:
    return OutboxItem(
        id=int(row[0]),
        declaration_id=int(row[1]),
        receipt=str(row[2]),
        destination=str(row[3]),
        idempotency_key=str(row[4]),
        status=str(row[5]),
        attempts=int(row[6]),
        next_attempt_at=from_db_time(row[7]) or datetime.min.replace(tzinfo=UTC),
        last_error=None if row[8] is None else str(row[8]),
        created_at=from_db_time(row[9]) or datetime.min.replace(tzinfo=UTC),
        delivered_at=from_db_time(row[10]),
    )


class SubmissionOutbox:
    """The outbox items of submitted declarations (written by ``DeclarationStore.submit``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def claim(
        self, worker_id: str, now: datetime, lease: timedelta, limit: int = 20
    ) -> list[ClaimedItem]:
        """Take up to ``limit`` due pending items that no live lease holds, oldest first."""
        stamp, until = to_db_time(now), to_db_time(now + lease)
        async with self.db.transaction() as conn:
            ids = [
                int(r[0])
                for r in await conn.execute_fetchall(
                    "UPDATE submission_outbox SET claimed_by = ?, claimed_until = ? "
                    "WHERE id IN (SELECT id FROM submission_outbox WHERE status = 'pending' "
                    "AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until <= ?) "
                    "ORDER BY next_attempt_at, id LIMIT ?) RETURNING id",
                    (worker_id, until, stamp, stamp, limit),
                )
            ]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            rows = await conn.execute_fetchall(
                f"SELECT {_ITEM_COLUMNS}, d.user_key, d.agency_code, d.submitted_at, d.data "  # noqa: S608
                "FROM submission_outbox o JOIN declarations d ON d.id = o.declaration_id "
                f"WHERE o.id IN ({marks}) ORDER BY o.next_attempt_at, o.id",
                ids,
            )
        lease_until = now + lease
        return [
            ClaimedItem(
                item=_item(r),
                user_key=str(r[11]),
                agency_code=str(r[12]),
                submitted_at=datetime.fromisoformat(str(r[13])),
                data=open_data(self.db.vault, r[14], str(r[2])),
                lease_until=lease_until,
            )
            for r in rows
        ]

    async def mark_delivered(self, item_id: int, now: datetime) -> None:
        """Delivered is final: whoever holds the lease, the item is never sent again."""
        await self.db.write(
            "UPDATE submission_outbox SET status = 'delivered', delivered_at = ?, "
            "claimed_by = NULL, claimed_until = NULL WHERE id = ? AND status != 'delivered'",
            (to_db_time(now), item_id),
        )

    async def deliver_to_review_queue(self, item_id: int, now: datetime) -> None:
        """Put the declaration in the agency review queue and mark the item delivered, at once."""
        stamp = to_db_time(now)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT OR IGNORE INTO review_queue (declaration_id, agency_code, queued_at) "
                "SELECT d.id, d.agency_code, ? FROM submission_outbox o "
                "JOIN declarations d ON d.id = o.declaration_id WHERE o.id = ?",
                (stamp, item_id),
            )
            await conn.execute(
                "UPDATE submission_outbox SET status = 'delivered', delivered_at = ?, "
                "claimed_by = NULL, claimed_until = NULL WHERE id = ? AND status != 'delivered'",
                (stamp, item_id),
            )

    async def mark_failed(
        self, item_id: int, worker_id: str, error: str, retry_at: datetime | None
    ) -> bool:
        """Count a failed attempt; ``retry_at=None`` parks the item. False if the lease was
        lost meanwhile (another worker holds the item now, so its record wins)."""
        status = "parked" if retry_at is None else "pending"
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE submission_outbox SET attempts = attempts + 1, status = ?, "
                "next_attempt_at = COALESCE(?, next_attempt_at), last_error = ?, "
                "claimed_by = NULL, claimed_until = NULL "
                "WHERE id = ? AND claimed_by = ? AND status = 'pending'",
                (status, retry_at and to_db_time(retry_at), error[:500], item_id, worker_id),
            )
            return cursor.rowcount == 1

    async def retry(self, item_id: int, now: datetime) -> bool:
        """Un-park an item (operator): due now, with a fresh count of attempts."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE submission_outbox SET status = 'pending', attempts = 0, "
                "next_attempt_at = ?, claimed_by = NULL, claimed_until = NULL "
                "WHERE id = ? AND status = 'parked'",
                (to_db_time(now), item_id),
            )
            return cursor.rowcount == 1

    async def items(
        self, statuses: Collection[str] = ("pending", "parked"), limit: int = 200
    ) -> list[OutboxItem]:
        wanted = [s for s in STATUSES if s in statuses]
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        rows = await self.db.fetch(
            f"SELECT {_ITEM_COLUMNS} FROM submission_outbox o "  # noqa: S608
            "JOIN declarations d ON d.id = o.declaration_id "
            f"WHERE o.status IN ({marks}) ORDER BY o.id LIMIT ?",
            (*wanted, limit),
        )
        return [_item(r) for r in rows]

    async def for_declaration(self, receipt: str) -> list[OutboxItem]:
        rows = await self.db.fetch(
            f"SELECT {_ITEM_COLUMNS} FROM submission_outbox o "  # noqa: S608
            "JOIN declarations d ON d.id = o.declaration_id WHERE d.receipt = ? ORDER BY o.id",
            (receipt,),
        )
        return [_item(r) for r in rows]

    async def counts(self) -> dict[str, int]:
        rows = await self.db.fetch("SELECT status, COUNT(*) FROM submission_outbox GROUP BY status")
        found = {str(r[0]): int(r[1]) for r in rows}
        return {s: found.get(s, 0) for s in STATUSES}

    async def next_due(self) -> datetime | None:
        """When the earliest pending item falls due (a worker may sleep until then)."""
        rows = await self.db.fetch(
            "SELECT MIN(next_attempt_at) FROM submission_outbox WHERE status = 'pending'"
        )
        return from_db_time(rows[0][0]) if rows and rows[0][0] else None


@dataclass(frozen=True)
class QueuedDeclaration:
    receipt: str
    agency_code: str
    status: str
    queued_at: datetime
    data: dict[str, Any]


class ReviewQueue:
    """What the agency officers see: declarations delivered to the review queue."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def waiting(self, agency_code: str | None = None) -> list[QueuedDeclaration]:
        """Declarations in the queue still ``submitted`` (not yet approved or rejected)."""
        where, params = ("AND q.agency_code = ?", (agency_code,)) if agency_code else ("", ())
        rows = await self.db.fetch(
            "SELECT d.receipt, q.agency_code, d.status, q.queued_at, d.data "  # noqa: S608
            "FROM review_queue q JOIN declarations d ON d.id = q.declaration_id "
            f"WHERE d.status = 'submitted' {where} ORDER BY q.queued_at, q.declaration_id",
            params,
        )
        return [
            QueuedDeclaration(
                str(r[0]),
                str(r[1]),
                str(r[2]),
                from_db_time(r[3]) or datetime.min.replace(tzinfo=UTC),
                open_data(self.db.vault, r[4], str(r[0])),
            )
            for r in rows
        ]
