"""The time, injectable: tests move a fake clock to reach expiry, lockout and reminders."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

Clock = Callable[[], datetime]
#: Vietnam has one time zone and no daylight saving.
VIETNAM = timezone(timedelta(hours=7), "ICT")


def utc_now() -> datetime:
    return datetime.now(UTC)
