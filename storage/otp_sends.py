"""One-time codes sent per address, so one address cannot be flooded from many accounts
(one a minute, five an hour: the policy of ``bot.flows.otp``). Addresses are stored as a
keyed hash only."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.flows.otp import RESEND_GAP, RESENDS_PER_HOUR
from storage.db import Database

HOUR = timedelta(hours=1)


class OtpSends:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def wait(self, address: str, now: datetime) -> timedelta:
        """How long this address must wait for its next code (zero when it may have one)."""
        rows = await self.db.fetch(
            "SELECT sent_at FROM otp_sends WHERE address = ? AND sent_at > ? ORDER BY sent_at",
            (address, (now - HOUR).isoformat()),
        )
        sent = [datetime.fromisoformat(str(r[0])) for r in rows]
        waits = [timedelta(0)]
        if sent:
            waits.append(sent[-1] + RESEND_GAP - now)
        if len(sent) >= RESENDS_PER_HOUR:
            waits.append(sent[-RESENDS_PER_HOUR] + HOUR - now)
        return max(waits)

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

    async def record(self, address: str, now: datetime) -> None:
        await asyncio.gather(  # one batch, one wait (storage/db.py)
            self.db.write(
                "INSERT INTO otp_sends (address, sent_at) VALUES (?, ?)",
                (address, now.isoformat()),
            ),
            self.db.write(
                "DELETE FROM otp_sends WHERE sent_at < ?", ((now - 2 * HOUR).isoformat(),)
            ),
        )
