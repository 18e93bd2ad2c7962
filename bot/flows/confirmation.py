"""The "yes" of a button that deletes something is good for one citizen, for a short while.

A Telegram chat keeps every old message and its buttons, and a modified client can send
any callback data it likes. So a "yes, delete my data" (or "yes, cancel") button carries
when it was offered and a keyed hash binding that moment to the user and the action:
pressed later than ``CONFIRM_WINDOW``, by someone else, or forged, it deletes nothing.
Why a token in the button rather than a note in the conversation: /deletemydata is also
offered to someone with no stored conversation (it was already erased, or never began),
where a note could not be kept; the check stays in the pure flow, so the console gets it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

from bot.flows.sanitize import ascii_digits

CONFIRM_WINDOW = timedelta(minutes=10)
_MAC_HEX = 16  # 64 bits: guessing online, one callback at a time, is hopeless


def _mac(secret: bytes, user_key: str, action: str, issued: int) -> str:
    message = f"confirm|{action}|{user_key}|{issued}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:_MAC_HEX]


def token(secret: bytes, user_key: str, action: str, now: datetime) -> str:
    """What the offered button carries after ``yes:`` (``<unix seconds>:<mac>``)."""
    issued = int(now.timestamp())
    return f"{issued}:{_mac(secret, user_key, action, issued)}"


def accepted(secret: bytes, user_key: str, action: str, pressed: str, now: datetime) -> bool:
    """``pressed`` was offered to ``user_key`` for ``action`` less than the window ago."""
    issued_text, _, mac = pressed.partition(":")
    if not ascii_digits(issued_text) or len(issued_text) > 12 or not mac.isascii():
        return False
    issued = int(issued_text)
    age = now.timestamp() - issued
    if not 0 <= age <= CONFIRM_WINDOW.total_seconds():
        return False
    return hmac.compare_digest(mac, _mac(secret, user_key, action, issued))
