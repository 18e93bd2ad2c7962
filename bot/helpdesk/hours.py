"""Office hours of the support staff (``STAFF_HOURS``), in Vietnam time.

The format is deliberately tiny — ``"Mon-Fri 07:30-17:00"`` — and parsed by hand: one day
range and one time range is all a provincial office publishes, and a cron or iCal library
would be heavier to configure than the three lines it replaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from bot.clock import VIETNAM

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_HOURS = "Mon-Fri 07:30-17:00"


@dataclass(frozen=True)
class OfficeHours:
    first_day: int  # 0 = Monday
    last_day: int
    opens: time
    closes: time

    @classmethod
    def parse(cls, text: str) -> OfficeHours:
        """``"Mon-Fri 07:30-17:00"``; ``ValueError`` with the reason otherwise."""
        try:
            days, hours = text.split()
            first, _, last = days.lower().partition("-")
            start, end = hours.split("-")
            parsed = cls(
                DAYS.index(first[:3]),
                DAYS.index((last or first)[:3]),
                time.fromisoformat(start),
                time.fromisoformat(end),
            )
        except ValueError as exc:
            raise ValueError(f"STAFF_HOURS must look like {DEFAULT_HOURS!r}: {text!r}") from exc
        if parsed.first_day > parsed.last_day or parsed.opens >= parsed.closes:
            raise ValueError(f"STAFF_HOURS must look like {DEFAULT_HOURS!r}: {text!r}")
        return parsed

    def is_open(self, now: datetime) -> bool:
        local = now.astimezone(VIETNAM)
        return (
            self.first_day <= local.weekday() <= self.last_day
            and self.opens <= local.time() < self.closes
        )

    def next_opening(self, now: datetime) -> datetime:
        """When staff are next at their desks (``now`` itself during office hours)."""
        if self.is_open(now):
            return now
        local = now.astimezone(VIETNAM)
        for ahead in range(8):
            day = (local + timedelta(days=ahead)).date()
            opening = datetime.combine(day, self.opens, VIETNAM)
            if self.first_day <= day.weekday() <= self.last_day and opening > local:
                return opening
        raise AssertionError("a week always holds an opening")  # parse() guarantees one day

    def describe(self) -> str:
        """``T2–T6 07:30–17:00`` — Vietnamese day names, as offices write them."""
        names = ("T2", "T3", "T4", "T5", "T6", "T7", "CN")
        days = names[self.first_day]
        if self.last_day != self.first_day:
            days += f"–{names[self.last_day]}"
        return f"{days} {self.opens:%H:%M}–{self.closes:%H:%M}"
