"""Work the flow asks for but does not do itself: the machine's callbacks stay synchronous
and free of I/O, and the service performs these after the transition."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class SendCode:
    """Deliver a one-time code by e-mail or SMS."""

    channel: Literal["email", "sms"]
    to: str
    code: str


@dataclass(frozen=True)
class Submit:
    """Store the finished declaration and allocate its receipt number."""


@dataclass(frozen=True)
class Discard:
    """Delete the draft and its photos (the user cancelled)."""


@dataclass(frozen=True)
class EraseUser:
    """Delete everything held on the user except what the agency must keep (/deletemydata)."""


Effect = SendCode | Submit | Discard | EraseUser
