"""The review: every answer shown, each editable, then confirmed.

The review goes to the citizen's own private chat, so their BHXH code and ID number are
shown whole, grouped for reading (``validators.bhxh_display``/``id_display``), for them to
check against their cards; masking (``bot.masking``) stays for logs, staff and operators.
"""

from __future__ import annotations

from datetime import datetime

from bot.flows import validators
from bot.flows.conversation import Conversation
from bot.flows.events import Button, Event, Msg, ParamValue, Reply
from bot.flows.machine import EDITABLE, fire
from bot.flows.steps.base import (
    FlowBase,
    button_rows,
)


class ReviewSteps(FlowBase):
    """An edit goes to its question and comes back here (the machine's ``is_editing``)."""

    def _summary(self, conv: Conversation) -> dict[str, ParamValue]:
        a = conv.answers
        province = self.places.province(a.get("province_code", ""))
        commune = self.places.commune(a.get("commune_code", ""))
        address = ", ".join(
            part
            for part in (a.get("street"), commune and commune.name, province and province.name)
            if part
        )
        shown_address: ParamValue = address
        if address and a.get("address_formerly"):
            shown_address = Msg(
                "review.address_formerly", {"address": address, "old": a["address_formerly"]}
            )
        agency = self._agency(conv)
        received: ParamValue = Msg("review.photo_received")
        missing: ParamValue = Msg("review.missing")
        return {
            "bhxh_code": validators.bhxh_display(a["bhxh_code"]) if a.get("bhxh_code") else missing,
            "full_name": a.get("full_name") or missing,
            "id_number": validators.id_display(a["id_number"]) if a.get("id_number") else missing,
            "id_type": Msg(f"id_type.{a.get('id_type', 'cccd')}"),
            "address": shown_address or missing,
            "phone": validators.phone_display(a["phone"]) if a.get("phone") else missing,
            "email": a.get("email") or Msg("review.no_email"),
            "portrait": received if a.get("portrait") else missing,
            "id_front": received if a.get("id_front") else missing,
            "id_back": received
            if a.get("id_back")
            else (Msg("review.not_needed") if conv.has_passport() else missing),
            "agency": f"[{agency.code}] {agency.name}" if agency else missing,
        }

    def _editable(self, conv: Conversation) -> list[str]:
        """The answers the review offers to change (a passport has no back side)."""
        return [name for name in EDITABLE if not (name == "id_back" and conv.has_passport())]

    def _ask_review(self, conv: Conversation, now: datetime) -> list[Reply]:
        edits = [
            Button(f"review:edit:{name}", label_key=f"btn.edit.{name}")
            for name in self._editable(conv)
        ]
        buttons = (
            *button_rows(edits, 2),
            # «đúng», «ok»: the summary is right, send the code (as the button does).
            (Button("review:confirm", label_key="btn.confirm_send_code", answer="yes"),),
        )
        return [Reply("review.summary", self._summary(conv), buttons=buttons)]

    def _on_review(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind != "choice" or not event.choice.startswith("review:"):
            return [Reply("review.use_buttons"), *self._ask_review(conv, now)]
        action, _, arg = event.choice.removeprefix("review:").partition(":")
        if action == "edit" and arg in self._editable(conv):
            conv.listing = {}
            fire(conv, f"edit_{arg}")
            return [
                Reply("note.editing", {"field": Msg(f"field.{arg}")}, edit=True),
                *self.prompt(conv, now),
            ]
        if action == "confirm":
            missing = conv.missing_fields()
            if missing:
                return [
                    Reply("review.incomplete"),
                    *(Reply("status.missing_item", {"field": Msg(f"field.{n}")}) for n in missing),
                    *self._ask_review(conv, now),
                ]
            fire(conv, "confirm")
            if conv.answers.get("email") and conv.otp is None:
                return [Reply("review.confirmed", edit=True), *self._choose_channel(conv)]
            return [Reply("review.confirmed", edit=True), *self._send_code(conv, event, now)]
        return self._stale(conv, now)
