"""Guardians who proved their e-mail with a code (``bot.guardians.proof``).

A guardian who registered through the bot is found by their own declaration; one who did
not proves an e-mail, and what they gave (BHXH code, name, phone, e-mail) is kept here so
their next child does not ask again. It is personal data: sealed with the vault, bound to
its row, erased by /deletemydata and by the retention sweep once unused for the retention
period (``used_at``: proved, or last used for a child's declaration).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from storage.db import Database


def sealed_for(user_key: str) -> str:
    """What a guardian record is sealed for: copied to another row, it will not open."""
    return f"guardians.data:{user_key}"


class GuardianRecords:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def save(self, user_key: str, data: dict[str, Any], now: datetime) -> None:
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        stamp = now.isoformat()
        await self.db.write(
            "INSERT INTO guardians (user_key, data, proved_at, used_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(user_key) DO UPDATE SET data = excluded.data, "
            "proved_at = excluded.proved_at, used_at = excluded.used_at",
            (user_key, self.db.vault.seal_text(raw, sealed_for(user_key)), stamp, stamp),
        )

    async def get(self, user_key: str) -> dict[str, Any] | None:
        rows = await self.db.fetch("SELECT data FROM guardians WHERE user_key = ?", (user_key,))
        if not rows:
            return None
        found: dict[str, Any] = json.loads(
            self.db.vault.unseal_text(rows[0][0], sealed_for(user_key))
        )
        return found

    async def touch(self, user_key: str, now: datetime) -> None:
        """Used for a child: the record's purpose goes on from ``now``."""
        await self.db.write(
            "UPDATE guardians SET used_at = ? WHERE user_key = ?", (now.isoformat(), user_key)
        )

    async def forget(self, user_key: str) -> None:
        await self.db.write("DELETE FROM guardians WHERE user_key = ?", (user_key,))

    async def purge_unused(self, cutoff: datetime) -> int:
        """Delete the records not used since ``cutoff``; returns how many."""
        rows = await self.db.fetch(
            "SELECT user_key FROM guardians WHERE used_at < ?", (cutoff.isoformat(),)
        )
        for (user_key,) in rows:
            await self.forget(str(user_key))
        return len(rows)
