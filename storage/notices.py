"""Messages waiting for users who did not write first: an officer's decision, an expiry.

Kept in SQLite until a channel has delivered them, so a bot that is down when an officer
decides tells the citizen once it is back. A notice the channel keeps refusing (the citizen
blocked the bot) is *parked* after a bounded number of attempts: kept and counted for the
operator, no longer offered to the sweep.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiosqlite

from storage.db import Database


@dataclass(frozen=True)
class PendingNotice:
    id: int
    user_key: str
    key: str
    params: dict[str, Any]


@dataclass(frozen=True)
class FailedNotice:
    """A notice after one more refused attempt."""

    user_key: str
    attempts: int
    parked: bool


class UserNotices:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(
        self,
        user_key: str,
        key: str,
        params: dict[str, Any],
        now: datetime,
        conn: aiosqlite.Connection | None = None,
    ) -> None:
        """Store a notice; with ``conn``, inside the caller's transaction (a decision)."""
        sql = "INSERT INTO user_notices (user_key, key, params, created_at) VALUES (?, ?, ?, ?)"
        row = (user_key, key, json.dumps(params, ensure_ascii=False), now.isoformat())
        if conn is None:
            await self.db.write(sql, row)
        else:
            await conn.execute(sql, row)

    async def forget(self, user_key: str, *, keep_pending: bool) -> None:
        """Delete the user's notices; with ``keep_pending``, those not yet delivered stay
        (the outcome of a declaration the agency keeps is still owed to the user)."""
        await self.db.write(
            "DELETE FROM user_notices WHERE user_key = ? AND (sent_at IS NOT NULL OR NOT ?)",
            (user_key, keep_pending),
        )

    async def forget_about(self, receipt: str) -> None:
        """Delete the notices about one declaration (its retention has ended)."""
        await self.db.write(
            "DELETE FROM user_notices WHERE json_extract(params, '$.receipt') = ?", (receipt,)
        )

    async def pending(self, limit: int = 200, user_key: str | None = None) -> list[PendingNotice]:
        """Not yet delivered, oldest first; only ``user_key``'s when given."""
        rows = await self.db.fetch(
            "SELECT id, user_key, key, params FROM user_notices WHERE sent_at IS NULL "
            "AND parked_at IS NULL AND (? IS NULL OR user_key = ?) ORDER BY id LIMIT ?",
            (user_key, user_key, limit),
        )
        return [PendingNotice(int(r[0]), str(r[1]), str(r[2]), json.loads(r[3])) for r in rows]

    async def mark_sent(self, notice_id: int, now: datetime) -> None:
        await self.db.write(
            "UPDATE user_notices SET sent_at = ? WHERE id = ?", (now.isoformat(), notice_id)
        )

    async def mark_failed(
        self, notice_id: int, error: str, now: datetime, max_attempts: int
    ) -> FailedNotice | None:
        """Count a refused attempt; the ``max_attempts``-th parks the notice. ``None`` when
        the notice is no longer waiting (sent or parked meanwhile)."""
        async with self.db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "UPDATE user_notices SET attempts = attempts + 1, last_error = ?, "
                    "parked_at = CASE WHEN attempts + 1 >= ? THEN ? END "
                    "WHERE id = ? AND sent_at IS NULL AND parked_at IS NULL "
                    "RETURNING user_key, attempts, parked_at",
                    (error[:200], max_attempts, now.isoformat(), notice_id),
                )
            )
        if not rows:
            return None
        user_key, attempts, parked_at = rows[0]
        return FailedNotice(str(user_key), int(attempts), parked_at is not None)

    async def counts(self) -> dict[str, int]:
        """Notices not delivered: still tried (``pending``) and given up on (``parked``)."""
        [(pending, parked)] = await self.db.fetch(
            "SELECT count(*) FILTER (WHERE parked_at IS NULL), "
            "count(*) FILTER (WHERE parked_at IS NOT NULL) "
            "FROM user_notices WHERE sent_at IS NULL"
        )
        return {"pending": int(pending), "parked": int(parked)}
