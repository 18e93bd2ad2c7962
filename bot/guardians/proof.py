"""A guardian new to the bot proves their e-mail with a code before declaring for a child.

The seeds require the guardian to have VssID already: the guardian is told so first, and
goes on (or registers themself first). They give their BHXH code, full name, phone and
e-mail, each answered by the adult's step code (validators, the name without diacritics,
the e-mail provider mistyped), and a 6-digit code goes to that e-mail by the adult's code
path (``bot.flows.steps.code``: the same limits, the same 15-minute lock). Once the code
comes back the draft is ``proved``: the service keeps the guardian (``storage.guardians``,
sealed) and the child's consent follows; later children do not ask again.

The draft is a conversation of its own (``proof_key``), so a restart, expiry, reminders
and /cancel treat it as any draft, without touching the guardian's own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from bot.flows.conversation import REQUIRED_FIELDS, Conversation
from bot.flows.events import Button, Event, Reply
from bot.flows.machine import attached, fire
from bot.flows.registration import RegistrationFlow
from bot.flows.steps.consent import CONSENT_VERSION
from bot.guardians.flow import Guardian, proof_key
from bot.guardians.machine import PROOF_QUESTIONS
from bot.masking import mask_email

REQUIRED_FIELDS["guardian"] = PROOF_QUESTIONS
def new_proof(guardian_key: str, locale: str, now: datetime) -> Conversation:
    """The draft of a guardian who said they have VssID and go on: that answer, given
    under the question saying what is asked and why, is their consent for their own data."""
    conv = Conversation(user_key=proof_key(guardian_key), kind="guardian", locale=locale)
    with attached(conv):
        conv.consent = {"version": CONSENT_VERSION, "at": now.isoformat()}
        conv.answers["draft_id"] = None
        fire(conv, "agree")
    return conv


def proved_guardian(record: dict[str, Any]) -> Guardian:
    """The guardian a stored proof names (no address: the child's office is searched)."""
    return Guardian(
        bhxh_code=str(record["bhxh_code"]),
        full_name=str(record["full_name"]),
        email=str(record["email"]),
        phone=str(record.get("phone", "")),
        proved_at=str(record.get("proved_at", "")),
    )


class GuardianProofFlow(RegistrationFlow):
    """The adult's flow, moved by the proof's machine, ending at a proved e-mail."""

    progress = {"bhxh_code": 1, "full_name": 2, "name_confirm": 2, "phone": 3, "email": 4}
    progress |= {"email_confirm": 4}
    total_steps = len(PROOF_QUESTIONS)
    question_prefix = "guardian.ask."
    declares = False

    def record(self, conv: Conversation) -> dict[str, Any]:
        """What is kept of a proved guardian."""
        kept = {name: conv.answers[name] for name in PROOF_QUESTIONS}
        return {**kept, "proved_at": conv.answers["proved_at"]}

    def card_slot(self, conv: Conversation) -> str | None:
        return None  # the guardian's own card is not read: their code is typed

    def photo_slot(self, conv: Conversation) -> str | None:
        return None

    def _advance(self, conv: Conversation, now: datetime) -> list[Reply]:
        """Once the e-mail is taken the code goes to it, in the same answer."""
        replies = super()._advance(conv, now)
        if conv.state != "otp":
            return replies
        return self._send_code(conv, Event.pressed("otp:resend"), now)

    def _code_destination(self, conv: Conversation) -> tuple[Literal["email", "sms"], str, str]:
        email = str(conv.answers["email"])
        return "email", email, mask_email(email)

    def code_destinations(self, conv: Conversation) -> list[str]:
        return [self._destination(conv)] if conv.state == "otp" else []

    def _otp_buttons(self, conv: Conversation) -> tuple[tuple[Button, ...], ...]:
        """Only the e-mail proves the guardian: no other channel is offered."""
        return (
            (Button("otp:resend", label_key="btn.resend"),),
            (Button("otp:change", label_key="btn.change_email"),),
        )

    def _ask_otp(self, conv: Conversation, now: datetime) -> list[Reply]:
        if conv.otp is None:
            return []  # the code is on its way; the service says where it went
        return super()._ask_otp(conv, now)

    def _on_otp(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind == "choice" and event.choice == "otp:change":
            fire(conv, "change_destination")  # back to the e-mail question itself
            return self.prompt(conv, now)
        return super()._on_otp(conv, event, now)

    def _code_accepted(self, conv: Conversation, now: datetime) -> list[Reply]:
        conv.answers["proved_at"] = now.isoformat()
        fire(conv, "verified")
        return [Reply("guardian.proved", {"name": str(conv.answers["full_name"])})]
