"""One-time codes for the last step of the declaration.

Policy (also in the README): 6 digits from ``secrets``; only an HMAC of the code is kept;
valid 5 minutes; single use; 5 wrong tries lock entry for 15 minutes; compared in constant
time; a new code at most once a minute and 5 times an hour. These are pure functions over
a small JSON-able record so the record can live in the conversation row.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

CODE_LIFETIME = timedelta(minutes=5)
MAX_WRONG = 5
LOCK_TIME = timedelta(minutes=15)
RESEND_GAP = timedelta(minutes=1)
RESENDS_PER_HOUR = 5

Outcome = Literal["ok", "wrong", "expired", "locked", "used", "none"]


def _digest(secret: bytes, salt: str, code: str) -> str:
    return hmac.new(secret, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    tries_left: int = 0
    locked_until: datetime | None = None


def resend_wait(record: dict[str, Any] | None, now: datetime) -> timedelta:
    """How long the user must wait before another code may be sent (zero when allowed)."""
    if not record:
        return timedelta(0)
    waits = [timedelta(0)]
    locked = record.get("locked_until")
    if locked:
        waits.append(datetime.fromisoformat(locked) - now)
    sent = [datetime.fromisoformat(s) for s in record.get("sent", [])]
    recent = [s for s in sent if now - s < timedelta(hours=1)]
    if recent:
        waits.append(max(recent) + RESEND_GAP - now)
    if len(recent) >= RESENDS_PER_HOUR:
        waits.append(min(recent) + timedelta(hours=1) - now)
    return max(waits)


def issue(
    record: dict[str, Any] | None, secret: bytes, now: datetime
) -> tuple[str, dict[str, Any]]:
    """A fresh code and the record that replaces ``record`` (whose send history it keeps)."""
    code = new_code()
    salt = secrets.token_hex(8)
    history = [
        s
        for s in (record or {}).get("sent", [])
        if now - datetime.fromisoformat(s) < timedelta(hours=1)
    ]
    return code, {
        "salt": salt,
        "digest": _digest(secret, salt, code),
        "expires": (now + CODE_LIFETIME).isoformat(),
        "wrong": 0,
        "used": False,
        "locked_until": None,
        "sent": [*history, now.isoformat()],
    }


def verify(
    record: dict[str, Any] | None, secret: bytes, code: str, now: datetime
) -> tuple[Verdict, dict[str, Any] | None]:
    """Check ``code``; returns the verdict and the updated record."""
    if not record or "digest" not in record:
        return Verdict("none"), record
    updated = dict(record)
    locked = record.get("locked_until")
    if locked and now < datetime.fromisoformat(locked):
        return Verdict("locked", locked_until=datetime.fromisoformat(locked)), updated
    if record.get("used"):
        return Verdict("used"), updated
    if not record["digest"] or now >= datetime.fromisoformat(record["expires"]):
        return Verdict("expired"), updated
    expected = record["digest"]
    if hmac.compare_digest(expected, _digest(secret, record["salt"], code)):
        updated["used"] = True
        return Verdict("ok"), updated
    wrong = int(record.get("wrong", 0)) + 1
    updated["wrong"] = wrong
    if wrong >= MAX_WRONG:
        until = now + LOCK_TIME
        updated["locked_until"] = until.isoformat()
        updated["digest"] = ""  # the code is dead: a new one must be asked for after the lock
        return Verdict("locked", locked_until=until), updated
    return Verdict("wrong", tries_left=MAX_WRONG - wrong), updated
