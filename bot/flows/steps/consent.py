"""Consent to the use of personal data: asked first, versioned, nothing kept before it."""

from __future__ import annotations

from datetime import datetime

from bot.flows.conversation import Conversation
from bot.flows.events import Button, Event, Reply
from bot.flows.machine import fire
from bot.flows.steps.base import (
    HOTLINE,
    FlowBase,
    replace_edit,
)

CONSENT_VERSION = "2026-11-v1"


class ConsentSteps(FlowBase):
    """Nothing is stored until this step is passed; the language can be switched here too."""

    def _ask_consent(self, conv: Conversation, now: datetime) -> list[Reply]:
        other = "en" if conv.locale == "vi" else "vi"
        return [
            Reply(
                "ask.consent",
                {"version": CONSENT_VERSION, "hotline": HOTLINE},
                buttons=(
                    (Button(f"consent:yes:{conv.locale}", label_key="btn.agree", answer="yes"),),
                    (Button("consent:no", label_key="btn.disagree", answer="no"),),
                    (
                        Button(
                            f"consent:lang:{other}",
                            label="English" if other == "en" else "Tiếng Việt",
                        ),
                    ),
                ),
            )
        ]

    def _on_consent(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind == "choice":
            action, _, arg = event.choice.removeprefix("consent:").partition(":")
            if action == "lang" and arg in ("vi", "en"):
                conv.locale = arg
                return [replace_edit(r) for r in self._ask_consent(conv, now)]
            if action == "yes":
                if arg in ("vi", "en"):
                    conv.locale = arg
                conv.consent = {"version": CONSENT_VERSION, "at": now.isoformat()}
                conv.answers.setdefault("draft_id", None)
                fire(conv, "agree")
                return [Reply("consent.thanks", edit=True), *self.prompt(conv, now)]
            if action == "no":
                return [Reply("consent.declined", edit=True)]
        return [Reply("consent.needed"), *self._ask_consent(conv, now)]
