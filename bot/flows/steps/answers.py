"""Typed answers: BHXH code, name, ID number, street, phone (typed or shared), e-mail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.clock import VIETNAM
from bot.flows import validators
from bot.flows.conversation import Conversation
from bot.flows.events import Button, Event, Msg, Reply
from bot.flows.machine import fire
from bot.flows.steps.base import (
    FlowBase,
)

TEXT_VALIDATORS: dict[str, Callable[[str], validators.Result]] = {
    "bhxh_code": validators.bhxh_code,
    "full_name": validators.full_name,
    "street": validators.street,
    "phone": validators.mobile_phone,
    "email": validators.email,
}


class AnswerSteps(FlowBase):
    """Each typed answer goes through its validator; a photo here may be a card to read."""

    def _on_text_field(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.card is not None or event.choice.startswith(f"{conv.state}:card:"):
            return self._on_card(conv, event, now)
        if event.kind != "text":
            return self._wrong_kind(conv, event, "text")
        result = TEXT_VALIDATORS[conv.state](event.text)
        if isinstance(result, validators.Invalid):
            return self._reject(conv, result.code, dict(result.params))
        conv.answers[conv.state] = result.value
        notes: list[Reply] = []
        if "from_card" in result.extra:
            notes.append(Reply("note.bhxh_from_card", {"code": result.value}))
        if conv.state == "phone":
            notes.append(
                Reply(
                    "note.phone_saved",
                    {"phone": validators.phone_display(result.value)},
                    keyboard="remove",
                )
            )
        return [*notes, *self._advance(conv, now)]

    _on_bhxh_code = _on_text_field
    _on_full_name = _on_text_field
    _on_street = _on_text_field
    _on_email = _on_text_field

    def _on_id_number(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.card is not None or event.choice.startswith("id_number:card:"):
            return self._on_card(conv, event, now)
        if event.kind != "text":
            return self._wrong_kind(conv, event, "text")
        result = validators.id_number(event.text, now.astimezone(VIETNAM).date())
        if isinstance(result, validators.Invalid):
            return self._reject(conv, result.code, dict(result.params))
        conv.answers["id_number"] = result.value
        conv.answers["id_type"] = result.extra["type"]
        notes = []
        if result.extra["type"] == "passport_foreign":
            notes.append(Reply("note.passport_foreign"))
        return [*notes, *self._advance(conv, now)]

    def _ask_phone(self, conv: Conversation, now: datetime) -> list[Reply]:
        return [self._question(conv, "phone", keyboard="contact")]

    def _on_phone(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind == "contact":
            if not event.contact_is_own:
                return self._reject(conv, "phone_not_own")
            return self._on_text_field(conv, Event.typed(event.text), now)
        return self._on_text_field(conv, event, now)

    def _ask_email_choice(self, conv: Conversation, now: datetime) -> list[Reply]:
        return [
            self._question(
                conv,
                "email_choice",
                buttons=(
                    (
                        Button("email_choice:yes", label_key="btn.yes_email", answer="yes"),
                        Button("email_choice:no", label_key="btn.no_email", answer="no"),
                    ),
                ),
            )
        ]

    def _on_email_choice(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind == "text":
            # Typing the address straight away is the obvious shortcut: take it.
            result = validators.email(event.text)
            if isinstance(result, validators.Valid):
                conv.answers["wants_email"] = True
                conv.answers["email"] = result.value
                fire(conv, "advance")  # to the e-mail step, which is answered already
                return self._advance(conv, now)
            return self._reject(conv, "expected_choice", {"got": Msg("kind.text")})
        if event.kind != "choice" or not event.choice.startswith("email_choice:"):
            return self._wrong_kind(conv, event, "choice")
        wants = event.choice.endswith(":yes")
        conv.answers["wants_email"] = wants
        if not wants:
            conv.answers.pop("email", None)
        ack = Reply("note.email_yes" if wants else "note.email_no", edit=True)
        return [ack, *self._advance(conv, now)]
