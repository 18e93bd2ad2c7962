"""The adult registration conversation: what each step accepts and what it answers.

``RegistrationFlow.handle`` takes a conversation attached to nothing, an ``Event`` and the
time, moves the shared state machine (``bot.flows.machine``) and returns ``Reply`` values.
It does no I/O: work such as sending a code or storing the declaration is queued on
``conversation.effects`` for the service to perform. Every input, at every step, gets an
answer; a rejected answer never loses what the user gave before.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from functools import partial
from typing import Any

from bot.clock import VIETNAM
from bot.flows import autofill, confirmation, otp, typed_buttons
from bot.flows.conversation import PHOTO_FIELDS, Conversation
from bot.flows.effects import Discard, EraseUser, Submit, Withdraw
from bot.flows.events import Button, Event, Msg, ParamValue, Reply
from bot.flows.machine import attached, fire
from bot.flows.sanitize import visible
from bot.flows.steps.address import AddressSteps
from bot.flows.steps.agency import AgencySteps
from bot.flows.steps.answers import AnswerSteps
from bot.flows.steps.base import (
    COMMANDS,
    HOTLINE,
    MAX_MESSAGE,
    one_row,
)
from bot.flows.steps.cards import CardSteps
from bot.flows.steps.code import CodeSteps
from bot.flows.steps.consent import ConsentSteps
from bot.flows.steps.doubts import ID_PHOTOS
from bot.flows.steps.finish import FinishSteps
from bot.flows.steps.photos import PHOTO_STEPS, PhotoSteps
from bot.flows.steps.review import ReviewSteps

#: Steps whose question is answered by a button, never by free text: there a typed number
#: means the button with that number. At every other step a number is a typed answer
#: (a code, a phone, a house number) and only yes/no words and a button's own words are
#: taken, and only for a yes/no question or the language choice.
BUTTON_STEPS = frozenset({"consent", "email_choice", "review", "done"})


#: What a stored declaration holds beside the answers (``RegistrationService._submit``).
_NOT_ANSWERS = ("consent", "locale", "draft_id", "resubmit_of")

class RegistrationFlow(
    ConsentSteps,
    AnswerSteps,
    CardSteps,
    AddressSteps,
    PhotoSteps,
    AgencySteps,
    ReviewSteps,
    CodeSteps,
    FinishSteps,
):
    """Channel-free logic of the VssID registration declaration (mẫu 01)."""

    #: The flow ends in a declaration (one per BHXH code may wait for the agency); a
    #: guardian's proof of their e-mail (``bot.guardians.proof``) does not.
    declares = True

    # ------------------------------------------------------------------ entry points
    def handle(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        """Answer one event; the machine is attached only for its duration."""
        if conv.holds_finished_answers():
            conv.forget_answers()  # a row finished before answers were forgotten at submission
        event = _without_invisibles(event)
        with attached(conv):
            replies = self._dispatch(conv, self._typed_choice(conv, event, now), now)
            remember_offered(conv, replies)
            return replies

    def _dispatch(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind == "command":
            return self._command(conv, event, now)
        if event.kind == "choice" and event.choice.startswith("g:"):
            return self._global_choice(conv, event.choice[2:], now)
        if event.kind == "text" and len(event.text) > MAX_MESSAGE:
            return self._reject(conv, "too_long", {"max": MAX_MESSAGE})
        step = getattr(self, f"_on_{conv.state}")
        replies: list[Reply] = step(conv, event, now)
        return replies

    def typed_choice(self, conv: Conversation, event: Event, now: datetime) -> Event:
        """``_typed_choice`` for a question asked outside the flow (``bot.guardians``)."""
        return self._typed_choice(conv, _without_invisibles(event), now)

    def _typed_choice(self, conv: Conversation, event: Event, now: datetime) -> Event:
        """A text that answers the buttons on screen («có», «2», a button's words) becomes
        the press of that button; any other text stays a typed answer."""
        if event.kind != "text" or len(event.text) > MAX_MESSAGE:
            return event
        on_buttons = conv.state in BUTTON_STEPS
        if conv.offered:
            offered = typed_buttons.from_stored(conv.offered)
        elif on_buttons:  # before consent nothing is stored: the question is the consent's
            offered = [b for r in self.prompt(conv, now) for row in r.buttons for b in row]
        else:
            return event
        closed = any(b.answer for b in offered) or all(b.data.startswith("g:") for b in offered)
        if not (on_buttons or closed):
            return event
        label = partial(self.labels, conv.locale)
        choice = typed_buttons.choose(event.text, offered, label, numbers=on_buttons)
        if choice is None:
            return event
        if conv.state == "consent" and choice.startswith("consent:yes:"):
            # Consent carries the language in its data, since nothing is stored before it.
            choice = f"consent:yes:{typed_buttons.language_of(event.text) or conv.locale}"
        return dataclasses.replace(event, kind="choice", choice=choice)

    def photo_slot(self, conv: Conversation) -> str | None:
        """The photo the current step waits for, so the service checks and stores it first."""
        return conv.state if conv.state in PHOTO_STEPS else None

    def reads_id_photo(self, conv: Conversation) -> bool:
        """The photo the current step waits for is an ID photo whose QR, if any, the service
        also reads, so the flow can check it against the ID number typed.

        Not once the number is proved by a card QR (read at the ID question, or on the
        other side's photo: a card carries one QR, on the front of 2021 cards and on the
        back of 2024 ones), nor for a passport, which has no CCCD QR: each read costs the
        CPU worker ~3 ms (``bot/flows/qr.py``, ``scan_card(quick=True)``)."""
        return (
            conv.state in ID_PHOTOS
            and not conv.answers.get("id_verified_by_qr")
            and not conv.has_passport()
        )

    def card_slot(self, conv: Conversation) -> str | None:
        """The card whose QR the current step can read from a photo ("bhyt" or "cccd")."""
        return autofill.CARD_FOR_STEP.get(conv.state)

    def declared(self, conv: Conversation) -> dict[str, Any]:
        """The declaration as stored and sent to the agency: the answers."""
        return {k: v for k, v in conv.answers.items() if k not in ("draft_id", "resubmit_of")}

    def document_caption(self, conv: Conversation, receipt: str) -> Reply:
        """The caption of the declaration's PDF, which follows the receipt."""
        return Reply("done.pdf", {"receipt": receipt})

    def after_submit(self, conv: Conversation, receipt: str, now: datetime) -> list[Reply]:
        """The declaration is stored under ``receipt``: close the conversation."""
        with attached(conv):
            conv.receipt = receipt
            fire(conv, "submitted")
            replies = self._receipt(conv, fresh=True)
        conv.forget_answers()
        return replies

    def already_pending(
        self, conv: Conversation, receipt: str, submitted_on: str, *, own: bool
    ) -> list[Reply]:
        """The BHXH code already has a declaration waiting for the agency (found by the
        service before the code is sent, or when storing): nothing is stored twice, the
        answers stay, and the conversation is back at the review. The citizen who made it
        hears its receipt and what to do; anyone else only that one is being processed."""
        with attached(conv):
            conv.otp = otp.withdraw(conv.otp)
            fire(conv, "held_back")
        if own:
            return [Reply("pending.own", {"receipt": receipt, "date": submitted_on})]
        return [Reply("pending.other", {"hotline": HOTLINE})]

    def _withdraw_choice(
        self, conv: Conversation, action: str, receipt: str, signed: str, now: datetime
    ) -> list[Reply]:
        """/status offers "withdraw" on a declaration still waiting; the "yes" is signed for
        this citizen and this receipt (``bot.flows.confirmation``), and the service checks
        once more that the declaration is theirs and still waiting."""
        purpose = f"withdraw:{receipt}"
        if action == "withdraw":
            token = confirmation.token(self.otp_secret, conv.user_key, purpose, now)
            return [
                one_row(
                    "withdraw.confirm",
                    Button(
                        f"g:withdrawyes:{receipt}:{token}",
                        label_key="btn.withdraw_yes",
                        answer="yes",
                    ),
                    Button("g:withdrawno", label_key="btn.cancel_no", answer="no"),
                )
            ]
        if action == "withdrawno":
            return [Reply("withdraw.kept", edit=True)]
        if not confirmation.accepted(self.otp_secret, conv.user_key, purpose, signed, now):
            return [Reply("err.confirm_expired", {"command": "/status"}, edit=True)]
        conv.effects.append(Withdraw(receipt))
        return []  # the service says whether it was withdrawn

    def _command(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        command = event.command
        if command in ("start", "register"):  # /register: the word citizens look for
            return self._start(conv, now)
        if command == "cancel":
            if conv.consent is None:
                return [Reply("cancel.nothing")]
            return [
                one_row(
                    "cancel.confirm",
                    self._confirm_button(conv, "cancel", "btn.cancel_yes", now),
                    Button("g:cancel:no", label_key="btn.cancel_no", answer="no"),
                )
            ]
        if command == "status":
            return self._status(conv)
        if command == "language":
            return [
                one_row(
                    "language.choose",
                    Button("g:lang:vi", label="Tiếng Việt"),
                    Button("g:lang:en", label="English"),
                )
            ]
        if command == "help":
            return [self._help(conv)]
        if command == "deletemydata":
            return [
                one_row(
                    "erase.confirm",
                    self._confirm_button(conv, "erase", "btn.erase_yes", now),
                    Button("g:erase:no", label_key="btn.cancel_no", answer="no"),
                )
            ]
        return [Reply("err.unknown_command", {"command": "/" + command[:30], "commands": COMMANDS})]

    def reopen(
        self, conv: Conversation, data: dict[str, Any], receipt: str, now: datetime
    ) -> list[Reply]:
        """A declaration the agency sent back, to correct and send again under ``receipt``:
        its answers come back (not its photos: they were deleted with the decision)."""
        kept = {k: v for k, v in data.items() if k not in (*PHOTO_FIELDS, *_NOT_ANSWERS)}
        conv.answers = {**kept, "resubmit_of": receipt, "draft_id": None}
        conv.attempts, conv.listing, conv.otp, conv.receipt = {}, {}, None, None
        with attached(conv):
            fire(conv, "fix")
            return [Reply("fix.start", {"receipt": receipt}), *self.prompt(conv, now)]

    def expired(self, conv: Conversation) -> list[Reply]:
        """The draft reached its 10 days: the service deletes it; this is what the user hears."""
        with attached(conv):
            fire(conv, "cancel")
        conv.effects.append(Discard())
        return [Reply("draft.expired", {"hotline": HOTLINE})]

    def reminder(self, conv: Conversation, expires: datetime) -> list[Reply]:
        day = expires.astimezone(VIETNAM).strftime("%d/%m/%Y")
        missing = len(conv.missing_fields())
        return [
            Reply(
                "draft.reminder",
                {"step": Msg(f"step.{conv.state}"), "count": missing, "date": day},
                buttons=((Button("g:resume", label_key="btn.resume"),),),
            )
        ]

    def _start(self, conv: Conversation, now: datetime) -> list[Reply]:
        if conv.state == "consent":
            return self.prompt(conv, now)
        if conv.state in ("done",):
            return self._receipt(conv, fresh=False)
        if conv.state == "submitting":
            conv.effects.append(Submit())
            return []
        return [Reply("start.resume"), *self.prompt(conv, now)]

    def _status(self, conv: Conversation) -> list[Reply]:
        if conv.consent is None:
            return [Reply("status.not_started")]
        if conv.state in ("done", "submitting"):
            return self._receipt(conv, fresh=False)
        missing = conv.missing_fields()
        summary: ParamValue = (
            Msg("status.nothing_missing")
            if not missing
            else Msg("status.missing_count", {"count": len(missing)})
        )
        return [
            Reply("status.in_progress", {"step": Msg(f"step.{conv.state}"), "missing": summary}),
            *(Reply("status.missing_item", {"field": Msg(f"field.{name}")}) for name in missing),
        ]

    def _confirm_button(
        self, conv: Conversation, action: str, label_key: str, now: datetime
    ) -> Button:
        """A "yes" that deletes: it carries who it was offered to, and when."""
        signed = confirmation.token(self.otp_secret, conv.user_key, action, now)
        return Button(f"g:{action}:yes:{signed}", label_key=label_key, answer="yes")

    def _global_choice(self, conv: Conversation, choice: str, now: datetime) -> list[Reply]:
        action, _, arg = choice.partition(":")
        arg, _, signed = arg.partition(":")
        if (
            action in ("cancel", "erase")
            and arg == "yes"
            and not confirmation.accepted(self.otp_secret, conv.user_key, action, signed, now)
        ):
            command = "/cancel" if action == "cancel" else "/deletemydata"
            expired = Reply("err.confirm_expired", {"command": command}, edit=True)
            return [expired, *self.prompt(conv, now)]
        if action in ("withdraw", "withdrawyes", "withdrawno"):
            return self._withdraw_choice(conv, action, arg, signed, now)
        if action == "lang" and arg in ("vi", "en"):
            conv.locale = arg
            return [Reply("language.changed", edit=True), *self.prompt(conv, now)]
        if action == "cancel":
            if arg == "yes" and conv.consent is not None:
                fire(conv, "cancel")
                conv.effects.append(Discard())
                return [Reply("cancel.done", edit=True)]
            return [Reply("cancel.kept", edit=True), *self.prompt(conv, now)]
        if action == "help":
            return [self._help(conv)]
        if action == "erase":
            if arg != "yes":
                return [Reply("cancel.kept", edit=True), *self.prompt(conv, now)]
            fire(conv, "cancel")
            conv.effects.append(EraseUser())
            return [Reply("erase.done", edit=True)]
        if action == "resume":
            return [Reply("start.resume", edit=True), *self.prompt(conv, now)]
        if action == "new" and conv.state == "done":
            conv.answers = {"draft_id": None}
            conv.receipt = None
            conv.otp = None
            fire(conv, "restart")
            return self.prompt(conv, now)
        return [Reply("err.stale_button"), *self.prompt(conv, now)]


def _without_invisibles(event: Event) -> Event:
    """Control and format characters leave every typed answer here, once for all steps
    (``bot.flows.sanitize.visible``): what is checked is what is stored."""
    text, command = visible(event.text), visible(event.command)
    if text == event.text and command == event.command:
        return event
    return dataclasses.replace(event, text=text, command=command)


def remember_offered(conv: Conversation, replies: list[Reply]) -> None:
    """Keep the buttons now on screen for a typed answer to them.

    New buttons replace the old ones, except a lone «I need help» that joins them after a
    third failure; an error or a hint leaves the question's buttons where they were, and
    anything else (a question with no buttons) means no buttons wait for an answer.
    """
    shown = [b for r in replies for row in r.buttons for b in row]
    if not shown:
        if not all(r.key.startswith(("err.", "hint.")) for r in replies):
            conv.offered = []
        return
    stored = typed_buttons.to_stored(shown)
    helping = ("g:help", "g:human")
    if all(b.data in helping for b in shown):
        stored = [s for s in conv.offered if s["data"] not in helping] + stored
    conv.offered = stored
