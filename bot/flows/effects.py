"""Work the flow asks for but does not do itself: the machine's callbacks stay synchronous
and free of I/O, and the service performs these after the transition."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class SendCode:
    """Deliver a one-time code by e-mail or SMS; ``destination`` is the keyed hash the code
    is bound to, and what the per-address limits count by (``bot.flows.otp``)."""

    channel: Literal["email", "sms"]
    to: str
    code: str
    destination: str


@dataclass(frozen=True)
class LockAddress:
    """Five wrong codes: keep code entry to this destination (a keyed hash) locked until
    ``until`` for every conversation, so /cancel and starting again does not lift it."""

    destination: str
    until: datetime


@dataclass(frozen=True)
class Submit:
    """Store the finished declaration and allocate its receipt number."""


@dataclass(frozen=True)
class Discard:
    """Delete the draft and its photos (the user cancelled)."""


@dataclass(frozen=True)
class EraseUser:
    """Delete everything held on the user except what the agency must keep (/deletemydata)."""


@dataclass(frozen=True)
class Withdraw:
    """The citizen takes back their declaration ``receipt`` while it still waits for the
    agency (from /status): the service checks it is theirs and still waiting."""

    receipt: str


Effect = SendCode | LockAddress | Submit | Discard | EraseUser | Withdraw
