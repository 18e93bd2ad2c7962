"""Who registers a child: the age rules, counted in Vietnam's calendar.

A birthday begins at midnight in Hanoi, not in UTC: at 00:30 on a child's 18th birthday
in Vietnam it is still the day before in UTC, and the child is 18 already. The time comes
from the injected clock (``bot.clock``), so tests can stand on any day.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import Enum

from bot.clock import VIETNAM
from bot.flows.validators import Invalid, Result, Valid

#: The oldest birth year accepted; earlier is a typo, refused with that reason.
EARLIEST_YEAR = 1900
#: From this age a citizen registers themself.
ADULT_AGE = 18
#: From this age a child may hold a CCCD/Căn cước (issued from 14), and with one
#: registers themself.
ID_CARD_AGE = 14

# Day, month, year separated by slashes, dashes, dots or spaces, as parents type them.
_DATE = re.compile(r"^\s*(\d{1,2})\s*[/.\- ]\s*(\d{1,2})\s*[/.\- ]\s*(\d{4})\s*$")


class Route(Enum):
    """Who goes on with the registration, decided by the child's age."""

    #: 18 or over: the person registers themself.
    ADULT = "adult"
    #: 14–17: asked whether the child has a CCCD/Căn cước (with one, they register themself).
    ASK_ID_CARD = "ask_id_card"
    #: Under 14: the guardian registers the child.
    GUARDIAN = "guardian"


def today_in_vietnam(now: datetime) -> date:
    return now.astimezone(VIETNAM).date()


def age_on(born: date, today: date) -> int:
    """Whole years lived. By hand rather than with a library: one comparison of (month,
    day) pairs, and a child born on 29 February is a year older on 1 March."""
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def route(born: date, now: datetime) -> Route:
    age = age_on(born, today_in_vietnam(now))
    if age >= ADULT_AGE:
        return Route.ADULT
    if age >= ID_CARD_AGE:
        return Route.ASK_ID_CARD
    return Route.GUARDIAN


def birth_date(text: str, now: datetime) -> Result:
    """A date of birth typed dd/mm/yyyy (any of / - . or spaces), stored as ISO."""
    match = _DATE.match(text)
    if match is None:
        return Invalid("birth_format")
    day, month, year = (int(part) for part in match.groups())
    try:
        born = date(year, month, day)
    except ValueError:
        return Invalid("birth_no_such_day")
    today = today_in_vietnam(now)
    if born > today:
        return Invalid("birth_future", {"today": today.strftime("%d/%m/%Y")})
    if born.year < EARLIEST_YEAR:
        return Invalid("birth_too_old", {"year": EARLIEST_YEAR})
    return Valid(born.isoformat())
