"""Answers that are well-formed but doubtful: asked about once, before they are taken.

An officer would send back, days later, a name without the diacritics the CCCD prints, a
passport number that is not one, an e-mail at ``gmial.com``, or an ID photo of a card with
another number. No validator can refuse these (each may be right), so the citizen is asked,
with buttons, right after the question they answered (the machine's ``doubt`` trigger).
The answer in doubt waits in ``conv.listing["pending"]``; nothing is stored until the
citizen chooses, and going back (``retype``) loses nothing they gave before. Typing instead
of pressing answers the question in doubt again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot.flows import autofill, email_typos, validators
from bot.flows.conversation import Conversation
from bot.flows.events import Button, Event, ParamValue, Reply
from bot.flows.machine import fire
from bot.flows.steps.base import FlowBase
from bot.flows.validators import id_display

Pending = dict[str, Any]
Choice = Callable[[Conversation, Pending, datetime], list[Reply]]

#: The ID photos: a passport has its photo page, a CCCD two sides, one of them with the QR
#: (the front of 2021 cards, the back of 2024 ones). A change of the kind of ID drops
#: them; the QR on one, if the service can read it, is compared with the number typed.
ID_PHOTOS = ("id_front", "id_back")


class DoubtSteps(FlowBase):
    """``name_confirm``, ``passport_confirm``, ``email_confirm`` and ``id_conflict``."""

    # ------------------------------------------------------------------ shared
    def _doubt(self, conv: Conversation, now: datetime, **pending: Any) -> list[Reply]:
        """Hold ``pending`` and ask about it (the current question's ``doubt``)."""
        conv.attempts.pop(conv.state, None)
        conv.listing = {"pending": pending}
        fire(conv, "doubt")
        return self.prompt(conv, now)

    def _back_to_question(
        self, conv: Conversation, now: datetime, note: Reply | None = None
    ) -> list[Reply]:
        """The answer in doubt is not taken: the question it answered, asked again."""
        fire(conv, "retype")  # first: which question depends on what is pending
        conv.listing = {}
        return [*([note] if note else []), *self.prompt(conv, now)]

    def _pending(self, conv: Conversation) -> Pending | None:
        pending = conv.listing.get("pending")
        return pending if isinstance(pending, dict) else None

    def _on_doubt(
        self,
        conv: Conversation,
        event: Event,
        now: datetime,
        choices: dict[str, Choice],
        *,
        text_answers_again: bool = True,
    ) -> list[Reply]:
        """A button of the confirmation, or (``text_answers_again``) a new typed answer."""
        pending = self._pending(conv)
        typed_again = event.kind == "text" and text_answers_again
        if typed_again:
            fire(conv, "retype")
            conv.listing = {}
            replies: list[Reply] = getattr(self, f"_on_{conv.state}")(conv, event, now)
            return replies
        if pending is None:  # nothing to confirm any more: ask the question itself
            return self._back_to_question(conv, now)
        if event.kind != "choice":
            return self._wrong_kind(conv, event, "choice")
        step, _, answer = event.choice.partition(":")
        if step != conv.state or answer not in choices:
            return self._stale(conv, now)
        return choices[answer](conv, pending, now)

    def _ask_doubt(
        self, conv: Conversation, now: datetime, ask: Callable[[Pending], Reply]
    ) -> list[Reply]:
        pending = self._pending(conv)
        if pending is None:
            return self._back_to_question(conv, now)
        return [ask(pending)]

    def _take_id(self, conv: Conversation, number: str, kind: str) -> None:
        """Store the ID number; a change between passport and CCCD drops the ID photos
        taken for the other kind (a passport page is no card front, a card has a back)."""
        answers = conv.answers
        was_passport = conv.has_passport() if answers.get("id_type") else None
        if answers.get("id_number") != number:
            answers.pop("id_verified_by_qr", None)
        answers["id_number"] = number
        answers["id_type"] = kind
        if was_passport is not None and was_passport != conv.has_passport():
            for side in ID_PHOTOS:
                answers.pop(side, None)
            from_card = [k for k in answers.get("from_card", []) if k not in ID_PHOTOS]
            answers["from_card"] = from_card

    # ------------------------------------------------------------------ a name without diacritics
    def _take_name(self, conv: Conversation, name: str, now: datetime) -> list[Reply] | None:
        """``None`` when ``name`` may be taken as it is; else the question about it."""
        asked = conv.answers.get("names_asked", [])
        if not validators.lacks_diacritics(name) or name.casefold() in asked:
            return None
        conv.answers["names_asked"] = [*asked, name.casefold()]  # never asked twice
        return self._doubt(conv, now, name=name)

    def _ask_name_confirm(self, conv: Conversation, now: datetime) -> list[Reply]:
        def ask(pending: Pending) -> Reply:
            name = pending["name"]
            buttons = (
                _choice("name_confirm", "retype", "btn.name_retype"),
                _choice("name_confirm", "keep", "btn.name_keep", name=name),
            )
            return Reply("ask.name_confirm", {"name": name}, buttons=buttons)

        return self._ask_doubt(conv, now, ask)

    def _on_name_confirm(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        def keep(conv: Conversation, pending: Pending, now: datetime) -> list[Reply]:
            conv.answers["full_name"] = pending["name"]
            note = Reply("note.name_kept", {"name": pending["name"]}, edit=True)
            return [note, *self._advance(conv, now)]

        def retype(conv: Conversation, pending: Pending, now: datetime) -> list[Reply]:
            return self._back_to_question(conv, now, Reply("note.name_retype", edit=True))

        return self._on_doubt(conv, event, now, {"keep": keep, "retype": retype})

    # ------------------------------------------------------------------ a passport number
    def _ask_passport_confirm(self, conv: Conversation, now: datetime) -> list[Reply]:
        def ask(pending: Pending) -> Reply:
            buttons = (
                _choice("passport_confirm", "yes", "btn.passport_yes"),
                _choice("passport_confirm", "no", "btn.passport_no"),
            )
            return Reply("ask.passport_confirm", {"number": pending["number"]}, buttons=buttons)

        return self._ask_doubt(conv, now, ask)

    def _on_passport_confirm(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        def yes(conv: Conversation, pending: Pending, now: datetime) -> list[Reply]:
            self._take_id(conv, pending["number"], pending["type"])
            notes = [Reply("note.passport_taken", {"number": pending["number"]}, edit=True)]
            if pending["type"] == "passport_foreign":
                notes.append(Reply("note.passport_foreign"))
            return [*notes, *self._advance(conv, now)]

        def no(conv: Conversation, pending: Pending, now: datetime) -> list[Reply]:
            return self._back_to_question(conv, now, Reply("note.passport_no", edit=True))

        return self._on_doubt(conv, event, now, {"yes": yes, "no": no})

    # ------------------------------------------------------------------ an e-mail provider mistyped
    def _take_email(self, conv: Conversation, address: str, now: datetime) -> list[Reply]:
        """At the e-mail question: store ``address``, or first ask about a likely typo."""
        suggested = email_typos.suggest(address)
        if suggested is not None:
            return self._doubt(conv, now, typed=address, suggested=suggested)
        conv.answers["email"] = address
        return self._advance(conv, now)

    def _ask_email_confirm(self, conv: Conversation, now: datetime) -> list[Reply]:
        def ask(pending: Pending) -> Reply:
            typed, suggested = pending["typed"], pending["suggested"]
            buttons = (
                _choice("email_confirm", "suggested", "btn.email_suggested", email=suggested),
                _choice("email_confirm", "typed", "btn.email_typed", email=typed),
            )
            params: dict[str, ParamValue] = {"typed": typed, "suggested": suggested}
            return Reply("ask.email_confirm", params, buttons=buttons)

        return self._ask_doubt(conv, now, ask)

    def _on_email_confirm(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        def take(key: str) -> Choice:
            def chosen(conv: Conversation, pending: Pending, now: datetime) -> list[Reply]:
                conv.answers["email"] = pending[key]
                note = Reply("note.chosen", {"choice": pending[key]}, edit=True)
                return [note, *self._advance(conv, now)]

            return chosen

        return self._on_doubt(
            conv, event, now, {"suggested": take("suggested"), "typed": take("typed")}
        )

    # ------------------------------------------------------------------ an ID photo of another card
    def _check_card_number(
        self, conv: Conversation, event: Event, now: datetime
    ) -> list[Reply] | None:
        """At an ID photo: ``None`` when its QR (if any) agrees with the ID number typed;
        else the question which number is right, the photo held until it is answered."""
        card = event.card or {}
        number = card.get("id_number") if card.get("kind") == "cccd" else None
        typed = conv.answers.get("id_number")
        if not number or not typed or autofill.problems(card):
            return None  # no card number, or one its own QR contradicts: nothing to compare
        if number == typed:
            conv.answers["id_verified_by_qr"] = True
            return None
        return self._doubt(
            conv, now, slot=conv.state, photo=event.photo_id, card=number, typed=typed
        )

    def _ask_id_conflict(self, conv: Conversation, now: datetime) -> list[Reply]:
        # The citizen's own private chat: the numbers in full, to compare with the card.
        def ask(pending: Pending) -> Reply:
            card, typed = id_display(pending["card"]), id_display(pending["typed"])
            buttons = (
                _choice("id_conflict", "card", "btn.id_number_card", number=card),
                _choice("id_conflict", "typed", "btn.id_number_typed", number=typed),
            )
            return Reply("ask.id_conflict", {"card": card, "typed": typed}, buttons=buttons)

        return self._ask_doubt(conv, now, ask)

    def _on_id_conflict(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        def card(conv: Conversation, pending: Pending, now: datetime) -> list[Reply]:
            self._take_id(conv, pending["card"], "cccd")
            conv.answers["id_verified_by_qr"] = True
            conv.answers[pending["slot"]] = pending["photo"]
            fire(conv, "retype")  # back at the photo it came with, to go on from there
            note = Reply("note.id_from_card", {"number": id_display(pending["card"])}, edit=True)
            return [note, *self._advance(conv, now)]

        def typed(conv: Conversation, pending: Pending, now: datetime) -> list[Reply]:
            note = Reply("note.id_other_card", {"number": id_display(pending["typed"])}, edit=True)
            return self._back_to_question(conv, now, note)

        return self._on_doubt(
            conv, event, now, {"card": card, "typed": typed}, text_answers_again=False
        )


def _choice(step: str, answer: str, label_key: str, **params: ParamValue) -> tuple[Button]:
    """One answer to a confirmation, on a row of its own: its label may hold a whole name,
    number or address."""
    return (Button(f"{step}:{answer}", label_key=label_key, params=params),)
