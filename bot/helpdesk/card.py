"""What staff see of a citizen: a masked summary, never an ID or BHXH number in full.

The staff chat is a group: more people read it than the citizen chose to tell. So the
topic name carries initials and the random reference only, and the card masks every value
(ANCHORS lesson 11); photos are said to be there, never copied.
"""

from __future__ import annotations

from bot.flows.conversation import DECLARATION_FIELDS, Conversation
from bot.masking import mask_email, mask_name, mask_number, mask_phone


def masked_value(name: str, value: object) -> str:
    text = str(value)
    if name == "full_name":
        return mask_name(text)
    if name == "phone":
        return mask_phone(text)
    if name == "email":
        return mask_email(text)
    if name in ("bhxh_code", "id_number"):
        return mask_number(text, 0, 3)
    return "✓"  # photos, the address, the agency: given, not shown (they say where one lives)


def filled(conv: Conversation) -> list[tuple[str, str]]:
    """(field, masked value) for every answer the citizen has given so far."""
    return [
        (name, masked_value(name, conv.answers[name]))
        for name in DECLARATION_FIELDS
        if conv.answers.get(name)
    ]


def failures(conv: Conversation) -> list[tuple[str, int]]:
    """Steps the citizen failed at, with how many refused answers."""
    return [(step, count) for step, count in conv.attempts.items() if count > 0]


def topic_name(conv: Conversation | None, reference: str) -> str:
    """``N. V. A. · HT-7KQ2P`` (at most 128 characters, Telegram's limit)."""
    name = str(conv.answers.get("full_name") or "") if conv is not None else ""
    initials = mask_name(name) if name else "?"
    return f"{initials} · {reference}"[:128]
