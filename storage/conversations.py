"""Conversation rows: loaded for one event, written through before the reply is sent.

A bounded cache of the *serialised* rows spares the read round trip on the next message
of a recent user (half the per-step cost, PERF.md §4) without keeping live objects around:
every event still gets a fresh ``Conversation`` parsed from JSON, and every change is
written to SQLite before the caller answers the user.

The row's JSON holds everything the citizen answered, so it is sealed with the data key
(``storage/vault.py``). The cache keeps the plaintext: a save pays one AES-GCM (a few µs),
a load pays one only when the row is not cached.
"""

from __future__ import annotations

from collections import OrderedDict

from bot.flows.conversation import Conversation
from storage.db import Database


def sealed_for(user_key: str) -> str:
    """What a conversation row's data is sealed for (``Vault`` context)."""
    return f"conversations.data:{user_key}"


class ConversationStore:
    def __init__(self, db: Database, cache_size: int = 5000) -> None:
        self.db = db
        self.cache_size = cache_size
        self._cache: OrderedDict[str, str] = OrderedDict()

    async def load(self, user_key: str) -> Conversation | None:
        raw = self._cache.get(user_key)
        if raw is None:
            rows = await self.db.fetch(
                "SELECT data FROM conversations WHERE user_key = ?", (user_key,)
            )
            if not rows:
                return None
            raw = self.db.vault.unseal_text(rows[0][0], sealed_for(user_key))
            self._remember(user_key, raw)
        else:
            self._cache.move_to_end(user_key)
        return Conversation.from_json(user_key, raw)

    async def save(self, conv: Conversation) -> None:
        raw = conv.to_json()
        await self.db.write(
            "INSERT INTO conversations (user_key, state, data, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(user_key) DO UPDATE SET state = excluded.state, data = excluded.data, "
            "updated_at = excluded.updated_at",
            (
                conv.user_key,
                conv.state,
                self.db.vault.seal_text(raw, sealed_for(conv.user_key)),
                conv.updated_at,
            ),
        )
        self._remember(conv.user_key, raw)

    async def delete(self, user_key: str) -> None:
        self._cache.pop(user_key, None)
        await self.db.write("DELETE FROM conversations WHERE user_key = ?", (user_key,))

    async def children_of(self, guardian_key: str) -> list[str]:
        """The keys of a guardian's children's drafts (``bot.guardians.flow.child_key``), in
        the order they were begun. ``substr``, not ``LIKE``: a key may hold ``_``."""
        prefix = f"{guardian_key}/child/"
        rows = await self.db.fetch(
            "SELECT user_key FROM conversations WHERE substr(user_key, 1, ?) = ? ORDER BY rowid",
            (len(prefix), prefix),
        )
        return [str(r[0]) for r in rows]

    async def record_consent(self, user_key: str, version: str, given_at: str) -> None:
        await self.db.write(
            "INSERT INTO consents (user_key, version, given_at) VALUES (?, ?, ?)",
            (user_key, version, given_at),
        )

    def forget_cache(self) -> None:
        """Drop cached rows (tests use it to prove the database alone is enough)."""
        self._cache.clear()

    def _remember(self, user_key: str, raw: str) -> None:
        self._cache[user_key] = raw
        self._cache.move_to_end(user_key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def quiet_since(self, cutoff: str, limit: int = 500) -> list[str]:
        """Users whose conversation has not changed since ``cutoff`` (ISO time, UTC).

        A row never touched (``updated_at`` empty: no draft of its own, only a guardian's
        pointer to the draft they fill in, ``bot.guardians``) has nothing due and is left
        out, or such rows, sorted first, would fill every batch."""
        rows = await self.db.fetch(
            "SELECT user_key FROM conversations WHERE updated_at < ? AND updated_at != '' "
            "AND state NOT IN ('done', 'submitting') ORDER BY updated_at LIMIT ?",
            (cutoff, limit),
        )
        return [str(r[0]) for r in rows]

    async def erase_traces(self, user_key: str, *, keep_consents: bool) -> None:
        """Forget a user: the row and, unless a submitted declaration still rests on it, the
        record of their consent."""
        await self.delete(user_key)
        if not keep_consents:
            await self.db.write("DELETE FROM consents WHERE user_key = ?", (user_key,))
