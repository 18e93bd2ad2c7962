"""After the code: submitting, the receipt and what to do next."""

from __future__ import annotations

from datetime import datetime

from bot.flows.conversation import Conversation
from bot.flows.effects import Submit
from bot.flows.events import Button, Event, ParamValue, Reply
from bot.flows.steps.base import (
    HOTLINE,
    FlowBase,
)
from bot.flows.validators import bhxh_display


class FinishSteps(FlowBase):
    """The declaration is stored by the service; these answer around that moment."""

    def _on_submitting(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        conv.effects.append(Submit())
        return []

    def _receipt(self, conv: Conversation, *, fresh: bool) -> list[Reply]:
        agency = self._agency(conv)
        params: dict[str, ParamValue] = {
            "receipt": conv.receipt or "",
            "bhxh_code": bhxh_display(conv.answers.get("bhxh_code", "")),
            "agency": agency.name if agency else "",
            "agency_contact": self._agency_contact(agency) if agency else "",
            "hotline": HOTLINE,
        }
        # A parent may go on to register a child (``bot.guardians``). On the last message,
        # so the receipt and its next steps still go as one.
        child = (Button("child:start", label_key="btn.register_child"),)
        if fresh:
            next_steps = Reply("done.next_steps", params, buttons=(child,))
            return [Reply("done.receipt", params), next_steps]
        new = (Button("g:new", label_key="btn.new_declaration"),)
        return [Reply("done.already", params, buttons=(new, child))]

    def _on_done(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        return self._receipt(conv, fresh=False)

    def _on_cancelled(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        return [Reply("cancel.done")]

    def _ask_cancelled(self, conv: Conversation, now: datetime) -> list[Reply]:
        return [Reply("cancel.done")]

    def _ask_done(self, conv: Conversation, now: datetime) -> list[Reply]:
        return self._receipt(conv, fresh=False)

    def _ask_submitting(self, conv: Conversation, now: datetime) -> list[Reply]:
        return [Reply("hint.submitting")]
