"""The dev outbox: where e-mails and SMS go when no SMTP server or SMS gateway is set,
so nothing is silently dropped and the console can show the one-time code.

Recipient, subject and body are sealed with the data key (the recipient is an address, the
body holds the code); rows are found by a keyed hash of the normalised recipient.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database
from storage.vault import Vault

_SEALED = ("recipient", "subject", "body")


def recipient_key(vault: Vault, recipient: str) -> str:
    """The keyed hash rows are found by: one per address, whatever its case or spaces."""
    return vault.lookup_key("recipient", recipient.strip().casefold())


def _sealed_for(column: str) -> str:
    return f"dev_outbox.{column}"


def stored_form(
    vault: Vault, recipient: str, subject: str, body: str
) -> tuple[bytes, bytes, bytes, str]:
    """A message as its row holds it: the three sealed columns and the recipient's hash."""
    recipient_s, subject_s, body_s = (
        vault.seal_text(value, _sealed_for(column))
        for column, value in zip(_SEALED, (recipient, subject, body), strict=True)
    )
    return recipient_s, subject_s, body_s, recipient_key(vault, recipient)


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
            "INSERT INTO dev_outbox (channel, recipient, subject, body, recipient_key, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?)",
            (channel, *stored_form(self.db.vault, recipient, subject, body), now.isoformat()),
        )

    async def forget(self, recipients: Iterable[str]) -> None:
        """Delete every message sent to these addresses (erasure, retention)."""
        sql = "DELETE FROM dev_outbox WHERE recipient_key = ?"
        keys = {recipient_key(self.db.vault, r) for r in recipients}
        await asyncio.gather(*(self.db.write(sql, (k,)) for k in keys))

    async def latest(self, recipient: str | None = None, limit: int = 10) -> list[OutboxMessage]:
        """The newest messages, to ``recipient`` only if given (any case or spacing)."""
        where, params = "", tuple[str, ...]()
        if recipient:
            where, params = "WHERE recipient_key = ?", (recipient_key(self.db.vault, recipient),)
        rows = await self.db.fetch(
            f"SELECT channel, recipient, subject, body, created_at FROM dev_outbox {where} "  # noqa: S608
            "ORDER BY id DESC LIMIT ?",
            (*params, limit),
        )
        return [self._message(row) for row in rows]

    def _message(self, row: Any) -> OutboxMessage:
        """A row (channel, the sealed columns, created_at) opened."""
        channel, *sealed, created_at = row
        recipient, subject, body = (
            self.db.vault.unseal_text(value, _sealed_for(column))
            for column, value in zip(_SEALED, sealed, strict=True)
        )
        return OutboxMessage(str(channel), recipient, subject, body, str(created_at))

    async def since(self, last_id: int) -> tuple[int, list[OutboxMessage]]:
        """Messages after ``last_id``, oldest first, and the id to ask from next time."""
        rows = await self.db.fetch(
            "SELECT id, channel, recipient, subject, body, created_at FROM dev_outbox "
            "WHERE id > ? ORDER BY id",
            (last_id,),
        )
        newest = int(rows[-1][0]) if rows else last_id
        return newest, [self._message(row[1:]) for row in rows]
