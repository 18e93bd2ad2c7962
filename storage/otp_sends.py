"""One-time codes sent per address, so one address cannot be flooded from many accounts
(one a minute, five an hour: the policy of ``bot.flows.otp``), and locks on code entry per
address, so five wrong codes lock the address and not only the conversation that typed
them. Addresses are stored as a keyed hash only (``bot.flows.otp.destination_key``)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.flows.otp import RESEND_GAP, RESENDS_PER_HOUR
from storage.db import Database

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Reservation:
    """A send slot held for one address (``slot``), or how long the address must wait."""

    slot: int | None
    wait: timedelta = timedelta(0)


def _wait(sent: list[datetime], now: datetime) -> timedelta:
    """How long an address that got codes at ``sent`` (oldest first) waits for the next."""
    waits = [timedelta(0)]
    if sent:
        waits.append(sent[-1] + RESEND_GAP - now)
    if len(sent) >= RESENDS_PER_HOUR:
        waits.append(sent[-RESENDS_PER_HOUR] + HOUR - now)
    return max(waits)


class OtpSends:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def forget(self, addresses: Iterable[str], now: datetime) -> None:
        """Erasure: delete these addresses' records that no longer count for a limit.

        Those of the last hour stay until it ends (``prune``): they are what holds the
        limits for the address, whoever owns it, and deleting them would let anyone reset
        the limits by cancelling and starting again. They hold a keyed hash, never the
        address."""
        sql = "DELETE FROM otp_sends WHERE address = ? AND sent_at <= ?"
        before = (now - HOUR).isoformat()
        await asyncio.gather(*(self.db.write(sql, (a, before)) for a in set(addresses)))

    async def prune(self, now: datetime) -> None:
        """Delete every record that no longer counts for a limit (the sweep)."""
        await self.db.write("DELETE FROM otp_sends WHERE sent_at <= ?", ((now - HOUR).isoformat(),))

    async def reserve(self, address: str, now: datetime) -> Reservation:
        """Count this address's recent codes and take a slot for the next in one
        transaction (``BEGIN IMMEDIATE``), before sending: of several accounts confirming
        to one address at the same moment, exactly one gets the slot."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "DELETE FROM otp_sends WHERE sent_at < ?", ((now - 2 * HOUR).isoformat(),)
            )
            rows = await conn.execute_fetchall(
                "SELECT sent_at FROM otp_sends WHERE address = ? AND sent_at > ? "
                "ORDER BY sent_at",
                (address, (now - HOUR).isoformat()),
            )
            wait = _wait([datetime.fromisoformat(str(r[0])) for r in rows], now)
            if wait > timedelta(0):
                return Reservation(None, wait)
            cursor = await conn.execute(
                "INSERT INTO otp_sends (address, sent_at) VALUES (?, ?)",
                (address, now.isoformat()),
            )
            return Reservation(cursor.lastrowid)

    async def release(self, reservation: Reservation) -> None:
        """The code could not be delivered: its slot is free again, so a retry (or the
        other channel's code) need not wait."""
        if reservation.slot is not None:
            await self.db.write("DELETE FROM otp_sends WHERE rowid = ?", (reservation.slot,))


class OtpLocks:
    """Code entry locked per address after too many wrong codes, whoever typed them."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def active(self, addresses: Collection[str], now: datetime) -> dict[str, datetime]:
        """The locks still running on any of ``addresses``, with their ends."""
        if not addresses:
            return {}
        marks = ",".join("?" * len(addresses))
        rows = await self.db.fetch(
            f"SELECT address, locked_until FROM otp_locks WHERE address IN ({marks})",  # noqa: S608
            tuple(addresses),
        )
        ends = {str(a): datetime.fromisoformat(str(u)) for a, u in rows}
        return {a: end for a, end in ends.items() if end > now}

    async def lock(self, address: str, until: datetime, now: datetime) -> None:
        await asyncio.gather(  # one batch, one wait (storage/db.py)
            self.db.write(
                "INSERT INTO otp_locks (address, locked_until) VALUES (?, ?) "
                "ON CONFLICT (address) DO UPDATE SET locked_until = "
                "max(locked_until, excluded.locked_until)",
                (address, until.isoformat()),
            ),
            self.db.write("DELETE FROM otp_locks WHERE locked_until < ?", (now.isoformat(),)),
        )
