"""The child's declaration: the adult's steps, asked about the child, with a few of its own.

``ChildFlow`` is ``RegistrationFlow`` with the child's machine (``bot.guardians.machine``):
the BHXH code, the name and its doubt, the portrait, the agency, the review and the code
are answered by the adult's step code. What only a child has is here: the guardian's
relationship, the birth date and its age rules, the gender, the birth certificate (in
place of ID-card photos), and the code going to the guardian's e-mail.

A child's conversation is created for a guardian already identified (``Guardian``); the
guardian's data travel in its answers (``guardian``), so the review, the submission and
the PDF name the guardian as the person declaring.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any, Literal

from bot.flows import autofill
from bot.flows.conversation import REQUIRED_FIELDS, Conversation
from bot.flows.effects import Discard
from bot.flows.events import Button, Event, Msg, ParamValue, Reply
from bot.flows.machine import fire
from bot.flows.registration import RegistrationFlow
from bot.flows.steps.base import button_rows
from bot.flows.validators import Invalid, bhxh_display
from bot.guardians import ages
from bot.guardians.machine import CHILD_EDITABLE, CHILD_QUESTIONS
from bot.masking import mask_email

#: The guardian's relationship to the child, as the seeds list it.
RELATIONSHIPS = ("father", "mother", "grandfather", "grandmother", "other_guardian")
GENDERS = ("male", "female")
#: The declaration's fields for a child, in the order they are asked.
CHILD_FIELDS = (
    "relationship",
    "bhxh_code",
    "full_name",
    "birth_date",
    "gender",
    "portrait",
    "birth_certificate",
    "agency_code",
)
REQUIRED_FIELDS["child"] = CHILD_FIELDS
#: The child's photos: each a step of its own, checked and kept by the service.
CHILD_PHOTOS = ("portrait", "birth_certificate")
#: The step number shown ("bước 3/8").
CHILD_PROGRESS = {state: n for n, state in enumerate(CHILD_QUESTIONS, start=1)} | {
    "name_confirm": 3,
    "id_card_question": 4,
}


@dataclass(frozen=True)
class Guardian:
    """The person declaring for the child: recognised from their own declaration through
    the bot, or proved by a code sent to their e-mail."""

    bhxh_code: str
    full_name: str
    email: str
    phone: str = ""
    province_code: str = ""
    commune_code: str = ""
    #: When the code sent to ``email`` came back (``bot.guardians.proof``); empty for a
    #: guardian recognised by their own declaration. The agency sees which it was.
    proved_at: str = ""


def new_child(guardian_key: str, child_id: str, guardian: Guardian, locale: str) -> Conversation:
    """A child's draft, keyed by guardian and child (``child_key``)."""
    conv = Conversation(user_key=child_key(guardian_key, child_id), kind="child", locale=locale)
    conv.answers = {
        "guardian": asdict(guardian),
        "child_id": child_id,
        # The office is suggested from the guardian's address.
        "province_code": guardian.province_code,
        "commune_code": guardian.commune_code,
    }
    return conv


def child_key(guardian_key: str, child_id: str) -> str:
    """The conversation key of one child's draft: the guardian's key and the child's id."""
    return f"{guardian_key}/child/{child_id}"


_PROOF = "/guardian"


def proof_key(guardian_key: str) -> str:
    """The conversation key of a guardian's proof of their e-mail (``bot.guardians.proof``)."""
    return f"{guardian_key}{_PROOF}"


def guardian_of(key: str) -> str:
    """The guardian's key in a child's conversation key, or in their proof's
    (``bot.guardians.proof.proof_key``); the key itself otherwise."""
    return key.partition("/child/")[0].removesuffix(_PROOF)


class ChildFlow(RegistrationFlow):
    """The adult's flow, moved by the child's machine and asking about the child."""

    progress = CHILD_PROGRESS
    total_steps = len(CHILD_QUESTIONS)

    # The adult's questions, worded about the child.
    question_prefix = "child.ask."

    # ------------------------------------------------------------------ relationship
    def _ask_relationship(self, conv: Conversation, now: datetime) -> list[Reply]:
        buttons = [
            Button(f"relationship:{r}", label_key=f"relationship.{r}") for r in RELATIONSHIPS
        ]
        return [self._question(conv, "relationship", buttons=button_rows(buttons, 2))]

    def _on_relationship(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        return self._on_choice(conv, event, now, "relationship", RELATIONSHIPS)

    # ------------------------------------------------------------------ birth date and age
    def _on_birth_date(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind != "text":
            return self._wrong_kind(conv, event, "text")
        result = ages.birth_date(event.text, now)
        if isinstance(result, Invalid):
            return self._reject(conv, result.code, dict(result.params))
        return self._take_birth_date(conv, result.value, now)

    def _take_birth_date(self, conv: Conversation, born: str, now: datetime) -> list[Reply]:
        """Typed or read from the child's BHYT card, a birth date decides who registers."""
        conv.answers["birth_date"] = born
        route = ages.route(date.fromisoformat(born), now)
        conv.answers["age_route"] = route.value
        if route is ages.Route.ADULT:
            return self._registers_themself(conv, Reply("child.adult_registers_themself"))
        return self._advance(conv, now)

    def _apply_card(
        self, conv: Conversation, reading: dict[str, Any], now: datetime
    ) -> list[Reply]:
        """The adult's card autofill, then what a child's card adds: the birth date (with
        its age rules) and gender, and the parent it names, checked against the guardian."""
        replies = super()._apply_card(conv, reading, now)
        notes = self._parent_note(conv, reading)
        born = reading.get("birth_date")
        if not (born and conv.state == "birth_date"):
            return [*replies[:1], *notes, *replies[1:]]
        if reading.get("gender"):
            conv.answers["from_card"] = sorted({*conv.answers.get("from_card", ()), "gender"})
        # The birth date question, just asked by the adult's autofill, is answered by the card.
        return [*replies[:-1], *notes, *self._take_birth_date(conv, str(born), now)]

    def _parent_note(self, conv: Conversation, reading: dict[str, Any]) -> list[Reply]:
        """New cards name a parent: say so when it is not the guardian declaring."""
        parent = reading.get("parent_name")
        guardian = str(conv.answers["guardian"].get("full_name") or "")
        if not parent or not guardian or autofill.same_name(str(parent), guardian):
            return []
        return [Reply("child.parent_differs", {"card": str(parent), "guardian": guardian})]

    def _ask_id_card_question(self, conv: Conversation, now: datetime) -> list[Reply]:
        buttons = (
            (
                Button("id_card_question:yes", label_key="btn.child_has_id_card", answer="yes"),
                Button("id_card_question:no", label_key="btn.child_no_id_card", answer="no"),
            ),
        )
        return [self._question(conv, "id_card_question", buttons=buttons)]

    def _on_id_card_question(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind != "choice" or not event.choice.startswith("id_card_question:"):
            return self._wrong_kind(conv, event, "choice")
        if event.choice.endswith(":yes"):
            reply = Reply("child.has_id_card_registers_themself", edit=True)
            return self._registers_themself(conv, reply)
        return self._advance(conv, now)

    def _registers_themself(self, conv: Conversation, reason: Reply) -> list[Reply]:
        """Old enough, or with a CCCD: the child registers themself (the adult flow, with
        their own Telegram); this draft and what it held are dropped."""
        fire(conv, "registers_themself")
        conv.effects.append(Discard())
        return [reason]

    # ------------------------------------------------------------------ gender
    def _ask_gender(self, conv: Conversation, now: datetime) -> list[Reply]:
        buttons = (tuple(Button(f"gender:{g}", label_key=f"gender.{g}") for g in GENDERS),)
        return [self._question(conv, "gender", buttons=buttons)]

    def _on_gender(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        return self._on_choice(conv, event, now, "gender", GENDERS)

    def _on_choice(
        self, conv: Conversation, event: Event, now: datetime, step: str, options: tuple[str, ...]
    ) -> list[Reply]:
        """A question answered by one of ``options``' buttons."""
        if event.kind != "choice" or not event.choice.startswith(f"{step}:"):
            return self._wrong_kind(conv, event, "choice")
        picked = event.choice.removeprefix(f"{step}:")
        if picked not in options:
            return self._stale(conv, now)
        conv.answers[step] = picked
        return self._advance(conv, now)

    # ------------------------------------------------------------------ photos
    _on_birth_certificate = RegistrationFlow._on_photo_step

    def photo_slot(self, conv: Conversation) -> str | None:
        return conv.state if conv.state in CHILD_PHOTOS else None

    def reads_id_photo(self, conv: Conversation) -> bool:
        return False  # a birth certificate has no QR to compare with a typed number

    # ------------------------------------------------------------------ review and code
    def _summary(self, conv: Conversation) -> dict[str, ParamValue]:
        a = conv.answers
        guardian = a.get("guardian", {})
        missing: ParamValue = Msg("review.missing")
        received: ParamValue = Msg("review.photo_received")
        agency = self._agency(conv)
        born = a.get("birth_date")
        return {
            "guardian": guardian.get("full_name", ""),
            "relationship": Msg(f"relationship.{a['relationship']}")
            if a.get("relationship")
            else missing,
            "bhxh_code": bhxh_display(a["bhxh_code"]) if a.get("bhxh_code") else missing,
            "full_name": a.get("full_name") or missing,
            "birth_date": date.fromisoformat(born).strftime("%d/%m/%Y") if born else missing,
            "gender": Msg(f"gender.{a['gender']}") if a.get("gender") else missing,
            "portrait": received if a.get("portrait") else missing,
            "birth_certificate": received if a.get("birth_certificate") else missing,
            "agency": f"[{agency.code}] {agency.name}" if agency else missing,
            "email": guardian.get("email", ""),
        }

    def declared(self, conv: Conversation) -> dict[str, Any]:
        """A child's declaration says so, with the guardian's data and relationship, for
        the agency's queue and payload; its copy goes to the guardian's e-mail."""
        email = str(conv.answers["guardian"]["email"])
        return {**super().declared(conv), "kind": "child", "email": email, "wants_email": True}

    def document_caption(self, conv: Conversation, receipt: str) -> Reply:
        """Each child's PDF arrives in the guardian's chat, beside her own and her other
        children's: its caption names the child."""
        name = str(conv.answers.get("full_name", ""))
        return Reply("child.pdf", {"receipt": receipt, "name": name})

    def _receipt(self, conv: Conversation, *, fresh: bool) -> list[Reply]:
        """The adult's receipt, naming the child."""
        first, *rest = super()._receipt(conv, fresh=fresh)
        key = "child.receipt" if fresh else "child.already"
        name = str(conv.answers.get("full_name", ""))
        params = {**first.params, "name": name}
        another = ((Button("child:start", label_key="btn.register_another_child"),),)
        if not rest:
            return [Reply(key, params, buttons=another)]
        return [Reply(key, params), Reply("child.next_steps", rest[0].params, buttons=another)]

    def _ask_agency(self, conv: Conversation, now: datetime) -> list[Reply]:
        """A guardian proved by e-mail gave no address to suggest an office from: the
        office is searched by the province's or the office's name."""
        if conv.answers.get("province_code") or conv.answers.get("agency_code"):
            return super()._ask_agency(conv, now)
        return [self._question(conv, "agency", key="child.ask.agency_search")]

    def _editable(self, conv: Conversation) -> list[str]:
        return list(CHILD_EDITABLE)

    def _ask_review(self, conv: Conversation, now: datetime) -> list[Reply]:
        [summary] = super()._ask_review(conv, now)
        return [Reply("child.review.summary", summary.params, buttons=summary.buttons)]

    def _code_destination(self, conv: Conversation) -> tuple[Literal["email", "sms"], str, str]:
        """The code goes to the guardian's e-mail (seeds: «OTP gửi về email của cha/mẹ»)."""
        email = str(conv.answers["guardian"]["email"])
        return "email", email, mask_email(email)

    def code_destinations(self, conv: Conversation) -> list[str]:
        return [self._destination(conv)] if conv.state in ("review", "otp") else []
