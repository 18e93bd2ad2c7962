"""The dev outbox: where e-mails and SMS go when no SMTP server or SMS gateway is set,
so nothing is silently dropped and the console can show the one-time code."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from storage.db import Database


@dataclass(frozen=True)
class OutboxMessage:
    channel: str
    recipient: str
    subject: str
    body: str
    created_at: str


class DevOutbox:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def put(
        self, channel: str, recipient: str, subject: str, body: str, now: datetime
    ) -> None:
        await self.db.write(
            "INSERT INTO dev_outbox (channel, recipient, subject, body, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (channel, recipient, subject, body, now.isoformat()),
        )

    async def forget(self, recipients: Iterable[str]) -> None:
        """Delete every message sent to these addresses (erasure, retention)."""
        sql = "DELETE FROM dev_outbox WHERE recipient = ?"
        await asyncio.gather(*(self.db.write(sql, (r,)) for r in set(recipients)))

    async def latest(self, recipient: str | None = None, limit: int = 10) -> list[OutboxMessage]:
        where, params = ("WHERE recipient = ?", (recipient,)) if recipient else ("", ())
        rows = await self.db.fetch(
            f"SELECT channel, recipient, subject, body, created_at FROM dev_outbox {where} "  # noqa: S608
            "ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [OutboxMessage(*(str(v) for v in row)) for row in rows]

    async def since(self, last_id: int) -> tuple[int, list[OutboxMessage]]:
        """Messages after ``last_id``, oldest first, and the id to ask from next time."""
        rows = await self.db.fetch(
            "SELECT id, channel, recipient, subject, body, created_at FROM dev_outbox "
            "WHERE id > ? ORDER BY id",
            (last_id,),
        )
        newest = int(rows[-1][0]) if rows else last_id
        return newest, [OutboxMessage(*(str(v) for v in row[1:])) for row in rows]
