"""Typed answers: BHXH code, name, ID number, street, phone (typed or shared), e-mail."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.clock import VIETNAM
from bot.flows import validators
from bot.flows.conversation import Conversation
from bot.flows.events import Button, Event, Msg, Reply
from bot.flows.machine import fire
from bot.flows.steps.doubts import DoubtSteps

TEXT_VALIDATORS: dict[str, Callable[[str], validators.Result]] = {
    "bhxh_code": validators.bhxh_code,
    "full_name": validators.full_name,
    "street": validators.street,
    "phone": validators.mobile_phone,
    "email": validators.email,
}


#: Answers support staff may correct with /set (``correct``): the typed ones.
CORRECTABLE = (*TEXT_VALIDATORS, "id_number")


class AnswerSteps(DoubtSteps):
    """Each typed answer goes through its validator; a photo here may be a card to read.
    A well-formed answer an officer might still refuse is asked about first (``DoubtSteps``).
    """

    def _on_text_field(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.card is not None or event.choice.startswith(f"{conv.state}:card:"):
            return self._on_card(conv, event, now)
        if event.kind != "text":
            return self._wrong_kind(conv, event, "text")
        result = TEXT_VALIDATORS[conv.state](event.text)
        if isinstance(result, validators.Invalid):
            return self._reject(conv, result.code, dict(result.params))
        if conv.state == "email":
            return self._take_email(conv, result.value, now)
        if conv.state == "full_name" and (doubt := self._take_name(conv, result.value, now)):
            return doubt
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

    def correct(self, conv: Conversation, name: str, text: str, now: datetime) -> Reply:
        """A support person's /set: the same validation as the citizen's answer, never run
        as one (the conversation stays at its step). ``note.corrected`` or the refusal."""
        if name not in CORRECTABLE or conv.consent is None or conv.state in ("done", "submitting"):
            return Reply("err.not_correctable", {"fields": ", ".join(CORRECTABLE)})
        if name == "id_number":
            result = validators.id_number(text, now.astimezone(VIETNAM).date())
        else:
            result = TEXT_VALIDATORS[name](text)
        if isinstance(result, validators.Invalid):
            return Reply(f"err.{result.code}", dict(result.params))
        if name == "id_number":
            if result.extra["type"] != "cccd":  # a passport is the citizen's to confirm
                return Reply("err.not_correctable", {"fields": ", ".join(CORRECTABLE)})
            self._take_id(conv, result.value, "cccd")
        else:
            conv.answers[name] = result.value
        return Reply("note.corrected", {"field": Msg(f"field.{name}")})

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
        kind = result.extra["type"]
        if kind != "cccd":  # a passport is taken once the citizen says it is one
            return self._doubt(conv, now, number=result.value, type=kind)
        self._take_id(conv, result.value, kind)
        return self._advance(conv, now)

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
                fire(conv, "advance")  # to the e-mail step, which this answers
                return self._take_email(conv, result.value, now)
            return self._reject(conv, "expected_choice", {"got": Msg("kind.text")})
        if event.kind != "choice" or not event.choice.startswith("email_choice:"):
            return self._wrong_kind(conv, event, "choice")
        wants = event.choice.endswith(":yes")
        conv.answers["wants_email"] = wants
        if not wants:
            conv.answers.pop("email", None)
        ack = Reply("note.email_yes" if wants else "note.email_no", edit=True)
        return [ack, *self._advance(conv, now)]
