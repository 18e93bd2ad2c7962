"""One-time codes for the last step of the declaration.

Policy (also in the README): 6 digits from ``secrets``; only an HMAC of the code is kept;
valid 5 minutes; single use; bound to the destination it was sent to (a keyed hash of the
channel and the normalised address), so a code sent to phone A never verifies a declaration
that now says phone B; 5 wrong tries lock entry for 15 minutes, for the conversation and for
the address (the service keeps address locks, so starting again does not lift one); compared
in constant time; a new code to the same destination at most once a minute, and 5 codes an
hour per conversation. A delivery that failed does not count. These are pure functions over
a small JSON-able record so the record can live in the conversation row.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import phonenumbers

CODE_LIFETIME = timedelta(minutes=5)
MAX_WRONG = 5
LOCK_TIME = timedelta(minutes=15)
RESEND_GAP = timedelta(minutes=1)
RESENDS_PER_HOUR = 5

Channel = Literal["email", "sms"]
Outcome = Literal["ok", "wrong", "expired", "locked", "used", "moved", "none"]


def _digest(secret: bytes, salt: str, code: str) -> str:
    return hmac.new(secret, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def normalise_address(channel: Channel, address: str) -> str:
    """One spelling per mailbox or phone: e-mail case-folded (``An.Nguyen@…`` is
    ``an.nguyen@…``: no provider people here use tells the two apart), a phone in E.164
    (``0912…`` is ``+84912…``)."""
    if channel == "email":
        return address.strip().casefold()
    try:
        number = phonenumbers.parse(address, "VN")
    except phonenumbers.NumberParseException:
        return "".join(ch for ch in address if ch.isdigit() or ch == "+")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def destination_key(secret: bytes, channel: Channel, address: str) -> str:
    """Where a code goes, as a keyed hash: what a code is bound to, and what the per-address
    limits and locks count by, without storing the address itself."""
    spelled = f"destination:{channel}:{normalise_address(channel, address)}"
    return hmac.new(secret, spelled.encode(), hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    tries_left: int = 0
    locked_until: datetime | None = None
    #: This try set the lock (the service then keeps it for the address).
    new_lock: bool = False


def locked_until(
    record: dict[str, Any] | None, now: datetime, address_lock: datetime | None = None
) -> datetime | None:
    """The end of the lock on code entry (this conversation's or its address's), if any."""
    ends = [address_lock] if address_lock else []
    if record and record.get("locked_until"):
        ends.append(datetime.fromisoformat(record["locked_until"]))
    end = max(ends, default=None)
    return end if end is not None and end > now else None


def resend_wait(
    record: dict[str, Any] | None,
    now: datetime,
    destination: str,
    address_lock: datetime | None = None,
) -> timedelta:
    """How long the user must wait before another code may go to ``destination`` (zero
    when allowed). The one-minute gap is per destination: a citizen who corrects a mistyped
    phone number gets a code at the new one at once; the hourly cap counts every code."""
    waits = [timedelta(0)]
    lock = locked_until(record, now, address_lock)
    if lock:
        waits.append(lock - now)
    if not record:
        return max(waits)
    sent = [datetime.fromisoformat(s) for s in record.get("sent", [])]
    recent = [s for s in sent if now - s < timedelta(hours=1)]
    if recent and record.get("dest") == destination:
        waits.append(max(recent) + RESEND_GAP - now)
    if len(recent) >= RESENDS_PER_HOUR:
        waits.append(min(recent) + timedelta(hours=1) - now)
    return max(waits)


def bind(record: dict[str, Any] | None, destination: str) -> dict[str, Any] | None:
    """The record once the code's destination is ``destination``: a code sent anywhere
    else is dead (the citizen changed the phone or e-mail, or chose the other channel)."""
    if record and record.get("dest") != destination and record.get("digest"):
        return {**record, "digest": ""}
    return record


def issue(
    record: dict[str, Any] | None, secret: bytes, now: datetime, destination: str
) -> tuple[str, dict[str, Any]]:
    """A fresh code bound to ``destination`` and the record that replaces ``record`` (whose
    send history it keeps)."""
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
        "dest": destination,
        "expires": (now + CODE_LIFETIME).isoformat(),
        "wrong": 0,
        "used": False,
        "locked_until": None,
        "sent": [*history, now.isoformat()],
    }


def withdraw(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """The code just issued never reached the citizen: it is dead and its sending does not
    count, so a retry (or the other channel) is allowed at once."""
    if not record:
        return record
    return {**record, "digest": "", "sent": list(record.get("sent", []))[:-1]}


def verify(
    record: dict[str, Any] | None,
    secret: bytes,
    code: str,
    now: datetime,
    destination: str,
    address_lock: datetime | None = None,
) -> tuple[Verdict, dict[str, Any] | None]:
    """Check ``code`` typed for a declaration whose code goes to ``destination``; returns
    the verdict and the updated record."""
    if not record or "digest" not in record:
        return Verdict("none"), record
    updated = dict(record)
    lock = locked_until(record, now, address_lock)
    if lock:
        return Verdict("locked", locked_until=lock), updated
    if record.get("used"):
        return Verdict("used"), updated
    if record.get("dest", destination) != destination:
        return Verdict("moved"), updated
    unbound = "dest" not in record  # issued before codes were bound: not trusted
    if unbound or not record["digest"] or now >= datetime.fromisoformat(record["expires"]):
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
        return Verdict("locked", locked_until=until, new_lock=True), updated
    return Verdict("wrong", tries_left=MAX_WRONG - wrong), updated
