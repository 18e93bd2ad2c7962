"""When an unfinished declaration is reminded of, and when it expires.

The portal deletes an e-declaration not followed up within 10 days (seed notice 001); a
draft here lives 10 days from its start. Users who go quiet are reminded after 1, 3 and 8
days of silence, at most once a day and only in the daytime in Vietnam. The decision is a
pure function of the stored row and the time, so a restart loses no reminder: the sweep
simply finds the same rows due again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from bot.clock import VIETNAM
from bot.flows.conversation import Conversation

DRAFT_LIFETIME = timedelta(days=10)
REMIND_AFTER = (timedelta(days=1), timedelta(days=3), timedelta(days=8))
MIN_GAP = timedelta(days=1)
DAYTIME = range(8, 20)  # 08:00–19:59 Vietnam time
#: States of a conversation that is still a draft.
FINISHED = frozenset({"done", "submitting", "cancelled"})

Action = Literal["expire", "remind"]


def expires_at(conv: Conversation) -> datetime:
    return datetime.fromisoformat(conv.created_at) + DRAFT_LIFETIME


def due(conv: Conversation, now: datetime) -> Action | None:
    if conv.state in FINISHED or not conv.created_at:
        return None
    if now >= expires_at(conv):
        return "expire"
    if conv.reminders >= len(REMIND_AFTER):
        return None
    silence = now - datetime.fromisoformat(conv.updated_at)
    if silence < REMIND_AFTER[conv.reminders]:
        return None
    if conv.reminded_at and now - datetime.fromisoformat(conv.reminded_at) < MIN_GAP:
        return None
    if now.astimezone(VIETNAM).hour not in DAYTIME:
        return None
    return "remind"


def oldest_silence_worth_a_look(now: datetime) -> datetime:
    """Rows untouched since before this moment may need a reminder or expiry."""
    return now - min(REMIND_AFTER)
