"""The state of one user's registration, as stored between two messages.

It is a plain object that the shared state machine is attached to for the length of one
event; it round-trips through JSON (never pickle) so a row in SQLite is the whole truth.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from bot.flows.effects import Effect

#: Fields of the declaration (mẫu 01) in the order they are asked.
DECLARATION_FIELDS = (
    "bhxh_code",
    "full_name",
    "id_number",
    "province_code",
    "commune_code",
    "street",
    "phone",
    "email",
    "portrait",
    "id_front",
    "id_back",
    "agency_code",
)

#: Each kind of declaration's fields (``Conversation.kind``); ``bot.guardians`` adds the
#: child's.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {"adult": DECLARATION_FIELDS}

#: The declaration's photos, in the order they are asked.
PHOTO_FIELDS = ("portrait", "id_front", "id_back")

#: Answers a finished conversation keeps: enough to show the receipt again, nothing
#: personal (the declaration itself is in the declarations table).
KEPT_AFTER_SUBMIT = ("agency_code", "draft_id")

#: Answers that are addresses a message may have been sent to.
CONTACT_FIELDS = ("phone", "email")

#: Attributes that live only for one event.
_NOT_STORED = frozenset({"user_key", "effects"})

#: Which answer makes a question unnecessary once a card has given it.
_CARD_ANSWERS = {
    "full_name": "full_name",
    "province": "commune_code",
    "commune": "commune_code",
    "street": "street",
    "id_front": "id_front",
    "id_back": "id_back",
    "gender": "gender",  # a child's BHYT card (``bot.guardians``)
}


@dataclass
class Conversation:
    """One registration in progress (or finished) for one user of one channel."""

    user_key: str
    state: str = "consent"
    #: Which declaration this is ("adult", or "child": ``bot.guardians``), hence which
    #: machine moves it (``bot.flows.machine.MACHINES``).
    kind: str = "adult"
    locale: str = "vi"
    answers: dict[str, Any] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    editing: bool = False
    listing: dict[str, Any] = field(default_factory=dict)
    otp: dict[str, Any] | None = None
    consent: dict[str, str] | None = None
    receipt: str | None = None
    created_at: str = ""
    updated_at: str = ""
    reminders: int = 0
    reminded_at: str = ""
    #: Every phone and e-mail the user gave in this draft, also those changed since:
    #: codes may have gone to any of them, and erasure must find those messages.
    contacts: list[str] = field(default_factory=list)
    #: The buttons of the last question asked (``bot.flows.typed_buttons.to_stored``), so
    #: a typed «có», «2» or a button's words can answer it.
    offered: list[dict[str, Any]] = field(default_factory=list)
    #: A guardian's conversation: the key of the draft their messages now answer, a
    #: child's or their proof of their e-mail (``bot.guardians``), or "" for their own.
    active_child: str = ""
    effects: list[Effect] = field(default_factory=list, repr=False)

    # Conditions used by the state machine's transitions (declared by name there).
    def is_editing(self, *_: object) -> bool:
        return self.editing

    def wants_email(self, *_: object) -> bool:
        return bool(self.answers.get("wants_email"))

    def has_street(self, *_: object) -> bool:
        return bool(self.answers.get("street"))

    def has_passport(self, *_: object) -> bool:
        return str(self.answers.get("id_type", "")).startswith("passport")

    def needs_id_front(self, *_: object) -> bool:
        return not self.answers.get("id_front")

    def needs_id_back(self, *_: object) -> bool:
        """A card's back is missing (a passport has none)."""
        return not self.has_passport() and not self.answers.get("id_back")

    def needs_agency(self, *_: object) -> bool:
        return not self.answers.get("agency_code")

    def asks_about_id_card(self, *_: object) -> bool:
        """A child of 14–17 (``bot.guardians.ages.Route.ASK_ID_CARD``) may have a CCCD."""
        return self.answers.get("age_route") == "ask_id_card"

    def doubts_the_front(self, *_: object) -> bool:
        """The ID photo in doubt (``id_conflict``) was sent as the front."""
        return bool(self.listing.get("pending", {}).get("slot") == "id_front")

    # Callbacks named in the machine's data.
    def enter_editing(self, *_: object) -> None:
        self.editing = True

    def leave_editing(self, *_: object) -> None:
        self.editing = False

    def answered_by_card(self, *_: object) -> bool:
        """The current question was already answered from a card's QR: skip it."""
        if self.editing:
            return False
        key = _CARD_ANSWERS.get(self.state)
        return key is not None and key in self.answers.get("from_card", ())

    def missing_fields(self) -> list[str]:
        """Declaration fields still without an answer (the e-mail only if it was wanted)."""
        if self.kind != "adult":
            return [name for name in REQUIRED_FIELDS[self.kind] if not self.answers.get(name)]
        missing = []
        for name in DECLARATION_FIELDS:
            if name == "email" and not self.wants_email():
                continue
            if name == "id_back" and self.has_passport():
                continue
            if not self.answers.get(name):
                missing.append(name)
        return missing

    def note_contacts(self) -> None:
        """Remember the current phone and e-mail among the addresses given."""
        for name in CONTACT_FIELDS:
            value = self.answers.get(name)
            if value and value not in self.contacts:
                self.contacts.append(str(value))

    def contacts_given(self) -> set[str]:
        self.note_contacts()
        return set(self.contacts)

    def holds_finished_answers(self) -> bool:
        """Finished, yet holding answers (a row stored before they were forgotten)."""
        return self.state == "done" and bool(self.answers.keys() - set(KEPT_AFTER_SUBMIT))

    def forget_answers(self) -> None:
        """The declaration is stored: keep only what answers /start and /status."""
        self.answers = {k: v for k, v in self.answers.items() if k in KEPT_AFTER_SUBMIT}
        self.attempts = {}
        self.listing = {}
        self.otp = None
        self.contacts = []
        self.offered = []

    def to_json(self) -> str:
        stored = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _NOT_STORED}
        return json.dumps(stored, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, user_key: str, raw: str) -> Conversation:
        data = json.loads(raw)
        return cls(user_key=user_key, **data)

    def touch(self, now: datetime) -> None:
        stamp = now.isoformat()
        if not self.created_at:
            self.created_at = stamp
        self.updated_at = stamp
