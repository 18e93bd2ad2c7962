"""Help-desk rows: a citizen's request for a person, its staff-chat topic, the audit trail.

Nothing personal is stored here beyond the chat key every table uses: the reference shown
to staff is random, and topic names and cards are built (masked) when they are sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Database

#: Statuses in which the citizen is waiting for, or talking to, a person.
OPEN = ("waiting", "human")


@dataclass(frozen=True)
class HelpRequest:
    user_key: str
    reference: str
    status: str  # waiting | human | released | resolved | withdrawn
    thread_id: int | None
    requested_at: str
    taken_by: int | None
    told_at: str | None = None
    callback: str = ""  # '' | 'asking' (a phone is awaited) | 'set'

    @property
    def is_open(self) -> bool:
        return self.status in OPEN


@dataclass(frozen=True)
class AuditEntry:
    at: str
    staff_id: int
    action: str
    reference: str
    detail: str


_COLUMNS = "user_key, reference, status, thread_id, requested_at, taken_by, told_at, callback"


def _request(row: tuple[object, ...]) -> HelpRequest:
    user_key, reference, status, thread_id, requested_at, taken_by, told_at, callback = row
    return HelpRequest(
        str(user_key),
        str(reference),
        str(status),
        None if thread_id is None else int(str(thread_id)),
        str(requested_at),
        None if taken_by is None else int(str(taken_by)),
        None if told_at is None else str(told_at),
        str(callback),
    )


def _sealed_for(user_key: str) -> str:
    return f"helpdesk_requests.callback_phone:{user_key}"


class HelpRequests:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def of_user(self, user_key: str) -> HelpRequest | None:
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM helpdesk_requests WHERE user_key = ?",  # noqa: S608
            (user_key,),
        )
        return _request(rows[0]) if rows else None

    async def of_thread(self, thread_id: int) -> HelpRequest | None:
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM helpdesk_requests WHERE thread_id = ?",  # noqa: S608
            (thread_id,),
        )
        return _request(rows[0]) if rows else None

    async def open_since(self) -> list[HelpRequest]:
        """Open requests, the longest waiting first."""
        rows = await self.db.fetch(
            f"SELECT {_COLUMNS} FROM helpdesk_requests WHERE status IN (?, ?) "  # noqa: S608
            "ORDER BY requested_at, reference",
            OPEN,
        )
        return [_request(r) for r in rows]

    async def save(self, request: HelpRequest, now: str) -> None:
        await self.db.write(
            "INSERT INTO helpdesk_requests (user_key, reference, status, thread_id, "
            "requested_at, taken_by, updated_at, told_at, callback) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(user_key) DO UPDATE SET status = excluded.status, "
            "thread_id = excluded.thread_id, requested_at = excluded.requested_at, "
            "taken_by = excluded.taken_by, updated_at = excluded.updated_at, "
            "told_at = excluded.told_at, callback = excluded.callback",
            (
                request.user_key,
                request.reference,
                request.status,
                request.thread_id,
                request.requested_at,
                request.taken_by,
                now,
                request.told_at,
                request.callback,
            ),
        )

    async def keep_phone(self, user_key: str, phone: str) -> None:
        """The number the citizen left for a call back, sealed like every personal field."""
        sealed = self.db.vault.seal_text(phone, _sealed_for(user_key))
        await self.db.write(
            "UPDATE helpdesk_requests SET callback_phone = ? WHERE user_key = ?",
            (sealed, user_key),
        )

    async def phone(self, user_key: str) -> str | None:
        rows = await self.db.fetch(
            "SELECT callback_phone FROM helpdesk_requests WHERE user_key = ?", (user_key,)
        )
        if not rows or rows[0][0] is None:
            return None
        return self.db.vault.unseal_text(rows[0][0], _sealed_for(user_key))

    async def forget(self, user_key: str) -> None:
        """/deletemydata: the request goes; the audit keeps only the random reference."""
        await self.db.write("DELETE FROM helpdesk_requests WHERE user_key = ?", (user_key,))
        await self.db.write("DELETE FROM helpdesk_messages WHERE user_key = ?", (user_key,))

    async def link(self, user_key: str, citizen_message_id: int, staff_message_id: int) -> None:
        """A message and its copy on the other side (either way round)."""
        await self.db.write(
            "INSERT OR REPLACE INTO helpdesk_messages (user_key, citizen_message_id, "
            "staff_message_id) VALUES (?, ?, ?)",
            (user_key, citizen_message_id, staff_message_id),
        )

    async def in_topic(self, user_key: str, citizen_message_id: int) -> int | None:
        """The staff-chat side of a message of the citizen's chat."""
        rows = await self.db.fetch(
            "SELECT staff_message_id FROM helpdesk_messages "
            "WHERE user_key = ? AND citizen_message_id = ?",
            (user_key, citizen_message_id),
        )
        return int(rows[0][0]) if rows else None

    async def in_chat(self, user_key: str, staff_message_id: int) -> int | None:
        """The citizen's-chat side of a staff-chat message, if it belongs to this citizen
        (a reply can never point into another citizen's chat)."""
        rows = await self.db.fetch(
            "SELECT citizen_message_id FROM helpdesk_messages "
            "WHERE user_key = ? AND staff_message_id = ?",
            (user_key, staff_message_id),
        )
        return int(rows[0][0]) if rows else None

    async def audit(self, entry: AuditEntry) -> None:
        await self.db.write(
            "INSERT INTO helpdesk_audit (at, staff_id, action, reference, detail) "
            "VALUES (?, ?, ?, ?, ?)",
            (entry.at, entry.staff_id, entry.action, entry.reference, entry.detail),
        )

    async def audit_trail(self, limit: int = 500) -> list[AuditEntry]:
        rows = await self.db.fetch(
            "SELECT at, staff_id, action, reference, detail FROM helpdesk_audit "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [AuditEntry(str(a), int(s), str(x), str(r), str(d)) for a, s, x, r, d in rows]
