"""Organisations' registration campaigns: the campaign, its roster, who opened its link.

A roster person (name, position, department, BHXH code) is personal data: sealed with the
vault like a declaration, bound to its campaign and row, and found only by the keyed hash
of the BHXH code (``bhxh_key``, the same hash the declarations carry, so a declaration is
matched to its roster line without opening either). ``close --purge`` deletes the roster
and the arrivals; the campaign row (name, agency, dates) stays as the record of it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database
from storage.vault import Vault


@dataclass(frozen=True)
class Campaign:
    id: int
    name: str
    agency_code: str
    deadline: str  # YYYY-MM-DD, a date in Vietnam
    coordinator: str | None
    token: str
    created_at: str
    closed_at: str | None
    reminded_at: str | None


@dataclass(frozen=True)
class RosterPerson:
    """One roster line as imported (``position`` is its order in the file)."""

    position: int
    name: str
    role: str
    department: str
    bhxh_code: str


@dataclass(frozen=True)
class Arrival:
    """Someone who opened the invite link; ``bhxh_key`` once they typed a code."""

    user_key: str
    opened_at: str
    bhxh_key: str | None
    reminded_at: str | None


@dataclass(frozen=True)
class DeclarationFact:
    """What a report needs of a declaration: no personal field is opened for it."""

    receipt: str
    user_key: str
    bhxh_key: str | None
    status: str
    submitted_at: str


_CAMPAIGN = (
    "id, name, agency_code, deadline, coordinator, token, created_at, closed_at, reminded_at"
)


def _campaign(row: Any) -> Campaign:
    return Campaign(int(row[0]), *(None if v is None else str(v) for v in row[1:]))  # type: ignore[arg-type]


def roster_context(campaign_id: int, bhxh_key: str) -> str:
    """What a roster line is sealed for: copied to another campaign or line, it won't open."""
    return f"campaign_roster:{campaign_id}:{bhxh_key}"


def code_key(vault: Vault, bhxh_code: str) -> str:
    """The keyed hash a BHXH code is found by (the declarations' ``bhxh_key`` too)."""
    return vault.lookup_key("bhxh_code", bhxh_code)


class CampaignStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        name: str,
        agency_code: str,
        deadline: str,
        coordinator: str | None,
        token: str,
        now: datetime,
    ) -> Campaign:
        async with self.db.transaction() as conn:
            rows = list(
                await conn.execute_fetchall(
                    "INSERT INTO campaigns (name, agency_code, deadline, coordinator, token, "  # noqa: S608
                    f"created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING {_CAMPAIGN}",
                    (name, agency_code, deadline, coordinator, token, now.isoformat()),
                )
            )
        return _campaign(rows[0])

    async def get(self, campaign_id: int) -> Campaign | None:
        rows = await self.db.fetch(
            f"SELECT {_CAMPAIGN} FROM campaigns WHERE id = ?",  # noqa: S608
            (campaign_id,),
        )
        return _campaign(rows[0]) if rows else None

    async def by_token(self, token: str) -> Campaign | None:
        rows = await self.db.fetch(f"SELECT {_CAMPAIGN} FROM campaigns WHERE token = ?", (token,))  # noqa: S608
        return _campaign(rows[0]) if rows else None

    async def of_coordinator(self, coordinator: str) -> list[Campaign]:
        rows = await self.db.fetch(
            f"SELECT {_CAMPAIGN} FROM campaigns WHERE coordinator = ? AND closed_at IS NULL "  # noqa: S608
            "ORDER BY id",
            (coordinator,),
        )
        return [_campaign(r) for r in rows]

    async def set_token(self, campaign_id: int, token: str) -> None:
        await self.db.write("UPDATE campaigns SET token = ? WHERE id = ?", (token, campaign_id))

    async def replace_roster(self, campaign_id: int, people: Sequence[RosterPerson]) -> int:
        """Insert or update every line by BHXH code, in one transaction: a failure leaves
        the roster as it was. Lines already there and absent from ``people`` are kept."""
        vault = self.db.vault
        rows = []
        for person in people:
            key = code_key(vault, person.bhxh_code)
            plain = json.dumps(
                {
                    "name": person.name,
                    "role": person.role,
                    "department": person.department,
                    "bhxh_code": person.bhxh_code,
                },
                ensure_ascii=False,
            )
            sealed = vault.seal_text(plain, roster_context(campaign_id, key))
            rows.append((campaign_id, key, person.position, sealed))
        async with self.db.transaction(durable=True) as conn:
            await conn.executemany(
                "INSERT INTO campaign_roster (campaign_id, bhxh_key, position, person) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(campaign_id, bhxh_key) DO UPDATE SET "
                "position = excluded.position, person = excluded.person",
                rows,
            )
        return len(rows)

    async def roster(self, campaign_id: int) -> list[tuple[str, RosterPerson]]:
        """``(bhxh_key, person)`` in roster order, opened."""
        vault = self.db.vault
        rows = await self.db.fetch(
            "SELECT bhxh_key, position, person FROM campaign_roster WHERE campaign_id = ? "
            "ORDER BY position",
            (campaign_id,),
        )
        found = []
        for key, position, sealed in rows:
            fields = json.loads(vault.unseal_text(sealed, roster_context(campaign_id, key)))
            found.append((str(key), RosterPerson(int(position), **fields)))
        return found

    async def on_roster(self, campaign_id: int, bhxh_key: str) -> bool:
        rows = await self.db.fetch(
            "SELECT 1 FROM campaign_roster WHERE campaign_id = ? AND bhxh_key = ?",
            (campaign_id, bhxh_key),
        )
        return bool(rows)

    async def arrive(self, campaign_id: int, user_key: str, now: datetime) -> None:
        await self.db.write(
            "INSERT INTO campaign_arrivals (campaign_id, user_key, opened_at) VALUES (?, ?, ?) "
            "ON CONFLICT(campaign_id, user_key) DO NOTHING",
            (campaign_id, user_key, now.isoformat()),
        )

    async def latest_arrival(self, user_key: str) -> Campaign | None:
        """The open campaign whose link this user opened last."""
        rows = await self.db.fetch(
            f"SELECT {', '.join('c.' + c.strip() for c in _CAMPAIGN.split(','))} "  # noqa: S608
            "FROM campaign_arrivals a JOIN campaigns c ON c.id = a.campaign_id "
            "WHERE a.user_key = ? AND c.closed_at IS NULL ORDER BY a.opened_at DESC LIMIT 1",
            (user_key,),
        )
        return _campaign(rows[0]) if rows else None

    async def typed_code(self, campaign_id: int, user_key: str, bhxh_key: str) -> None:
        await self.db.write(
            "UPDATE campaign_arrivals SET bhxh_key = ? WHERE campaign_id = ? AND user_key = ?",
            (bhxh_key, campaign_id, user_key),
        )

    async def arrivals(self, campaign_id: int) -> list[Arrival]:
        rows = await self.db.fetch(
            "SELECT user_key, opened_at, bhxh_key, reminded_at FROM campaign_arrivals "
            "WHERE campaign_id = ? ORDER BY opened_at",
            (campaign_id,),
        )
        return [Arrival(str(r[0]), str(r[1]), r[2], r[3]) for r in rows]

    async def declarations(self, campaign_id: int) -> list[DeclarationFact]:
        """Declarations of the roster's codes, or of anyone who came through the link,
        oldest first (a later one replaces an earlier one in the report)."""
        rows = await self.db.fetch(
            "SELECT receipt, user_key, bhxh_key, status, submitted_at FROM declarations "
            "WHERE bhxh_key IN (SELECT bhxh_key FROM campaign_roster WHERE campaign_id = ?) "
            "OR user_key IN (SELECT user_key FROM campaign_arrivals WHERE campaign_id = ?) "
            "ORDER BY id",
            (campaign_id, campaign_id),
        )
        return [DeclarationFact(str(r[0]), str(r[1]), r[2], str(r[3]), str(r[4])) for r in rows]

    async def states(self, user_keys: Sequence[str]) -> dict[str, str]:
        """The step each of these users' conversation is at (its state, kept in clear)."""
        found: dict[str, str] = {}
        chunk = 500  # below SQLite's limit on bound parameters
        for start in range(0, len(user_keys), chunk):
            part = list(user_keys[start : start + chunk])
            marks = ", ".join("?" * len(part))
            rows = await self.db.fetch(
                f"SELECT user_key, state FROM conversations WHERE user_key IN ({marks})",  # noqa: S608
                part,
            )
            found.update((str(k), str(s)) for k, s in rows)
        return found

    async def mark_reminded(
        self, campaign_id: int, user_keys: Sequence[str], now: datetime
    ) -> None:
        stamp = now.isoformat()
        async with self.db.transaction() as conn:
            await conn.execute(
                "UPDATE campaigns SET reminded_at = ? WHERE id = ?", (stamp, campaign_id)
            )
            await conn.executemany(
                "UPDATE campaign_arrivals SET reminded_at = ? WHERE campaign_id = ? "
                "AND user_key = ?",
                [(stamp, campaign_id, k) for k in user_keys],
            )

    async def close(self, campaign_id: int, now: datetime, *, purge: bool) -> None:
        async with self.db.transaction(durable=True) as conn:
            await conn.execute(
                "UPDATE campaigns SET closed_at = COALESCE(closed_at, ?) WHERE id = ?",
                (now.isoformat(), campaign_id),
            )
            if purge:
                await conn.execute(
                    "DELETE FROM campaign_roster WHERE campaign_id = ?", (campaign_id,)
                )
                await conn.execute(
                    "DELETE FROM campaign_arrivals WHERE campaign_id = ?", (campaign_id,)
                )

    async def ended_with_roster(self, deadline_before: str) -> list[int]:
        """Open or closed campaigns whose deadline is before this date and which still hold
        a roster or arrivals (the retention sweep purges them)."""
        rows = await self.db.fetch(
            "SELECT id FROM campaigns c WHERE deadline < ? AND ("
            "EXISTS (SELECT 1 FROM campaign_roster r WHERE r.campaign_id = c.id) OR "
            "EXISTS (SELECT 1 FROM campaign_arrivals a WHERE a.campaign_id = c.id))",
            (deadline_before,),
        )
        return [int(r[0]) for r in rows]

    async def forget_user(self, user_key: str) -> None:
        """/deletemydata: the user's trace of having opened any invite link goes."""
        await self.db.write("DELETE FROM campaign_arrivals WHERE user_key = ?", (user_key,))
