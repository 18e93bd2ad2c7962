"""Filling the declaration from the QR code of a CCCD/Căn cước or BHYT card.

The service scans the photo (``bot.flows.qr``) and hands the flow a ``reading``: a small
JSON-able dict, so a pending reading can wait in the conversation row while the user
confirms it. These functions are pure; ``RegistrationFlow`` decides what to ask.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

from bot.flows import validators
from bot.flows.cards import id_number_consistency
from bot.flows.qr import CardScan

#: The step at which each card is expected.
CARD_FOR_STEP = {"bhxh_code": "bhyt", "id_number": "cccd"}

#: Cards issued from this day carry the QR on the back (Circular 16/2024), before on the front.
BACK_SIDE_QR_FROM = date(2024, 7, 1)

Reading = dict[str, Any]


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _name(printed: str | None) -> str | None:
    """A card's name held to the rules of a typed one (``validators.full_name``).

    A QR is only as trustworthy as whoever printed it: a name that breaks the rules is
    treated like a field the card does not have, and the citizen is asked to type it.
    """
    checked = validators.full_name(printed) if printed else None
    return checked.value if isinstance(checked, validators.Valid) else None


def reading_from_scan(scan: CardScan) -> Reading:
    """What a scan found, reduced to plain values (text fields already cleaned by
    ``bot.flows.cards``)."""
    if scan.cccd is not None:
        card = scan.cccd
        return {
            "kind": "cccd",
            "id_number": card.id_number,
            "old_id": card.old_id,
            "full_name": _name(card.full_name),
            "birth_date": _iso(card.birth_date),
            "birth_year": card.birth_year,
            "gender": card.gender,
            "address": card.address,
            "issue_date": _iso(card.issue_date),
        }
    if scan.bhyt is not None:
        bhyt = scan.bhyt
        return {
            "kind": "bhyt",
            "bhxh_code": bhyt.bhxh_code,
            "card_number": bhyt.card_number,
            "full_name": _name(bhyt.full_name),
            "birth_date": _iso(bhyt.birth_date),
            "birth_year": bhyt.birth_year,
            "gender": bhyt.gender,
            "issuer": bhyt.issuer,
            "parent_name": bhyt.parent_name,
        }
    return {"kind": scan.kind, "hint": scan.raw_kind_hint, "problem": scan.problem}


def problems(reading: Reading) -> list[str]:
    """Why a CCCD reading cannot be trusted: its number disagrees with its own birth data."""
    if reading.get("kind") != "cccd":
        return []
    return id_number_consistency(
        reading["id_number"], int(reading["birth_year"]), str(reading["gender"])
    )


def qr_side(reading: Reading) -> str:
    """Which ID photo a CCCD QR photo also is: the front of 2021 cards, the back of 2024 ones."""
    issued = reading.get("issue_date")
    if issued and date.fromisoformat(issued) >= BACK_SIDE_QR_FROM:
        return "id_back"
    return "id_front"


def same_name(first: str, second: str) -> bool:
    def key(name: str) -> str:
        return " ".join(unicodedata.normalize("NFC", name).casefold().split())

    return key(first) == key(second)


def shown_date(reading: Reading) -> str:
    """dd/mm/yyyy, or the year alone when the card has only a year."""
    if reading.get("birth_date"):
        return date.fromisoformat(reading["birth_date"]).strftime("%d/%m/%Y")
    return str(reading.get("birth_year") or "—")
