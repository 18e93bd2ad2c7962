"""The one-time code: where it goes, sending and resending, checking it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from bot.clock import VIETNAM
from bot.flows import otp, validators
from bot.flows.conversation import Conversation
from bot.flows.effects import LockAddress, SendCode, Submit
from bot.flows.events import Button, Event, Msg, ParamValue, Reply
from bot.flows.machine import fire
from bot.flows.steps.base import (
    FlowBase,
)
from bot.masking import mask_email, mask_phone


def wait_until(now: datetime, end: datetime) -> dict[str, ParamValue]:
    """A wait as people say it: whole minutes ("khoảng 15 phút", never "891 giây") and the
    Vietnam clock time it ends ("tới 09:27 giờ Việt Nam"). Both are rounded up, so trying
    at the time shown always works."""
    shown = end.replace(second=0, microsecond=0)
    if shown < end:
        shown += timedelta(minutes=1)
    minutes = max(1, -(-int((end - now).total_seconds()) // 60))
    return {"minutes": minutes, "time": shown.astimezone(VIETNAM).strftime("%H:%M")}


class CodeSteps(FlowBase):
    """Code state lives in ``conversation.otp``; the policy is in ``bot.flows.otp``."""

    def _code_destination(self, conv: Conversation) -> tuple[Literal["email", "sms"], str, str]:
        email = conv.answers.get("email")
        if email and conv.answers.get("otp_channel", "email") == "email":
            return "email", email, mask_email(email)
        phone = conv.answers["phone"]
        return "sms", phone, mask_phone(phone)

    def _destination(self, conv: Conversation) -> str:
        """The keyed hash of where the code goes now: what a code is bound to."""
        channel, to, _ = self._code_destination(conv)
        return otp.destination_key(self.otp_secret, channel, to)

    def code_destinations(self, conv: Conversation) -> list[str]:
        """Every destination a code may go to from here (e-mail, phone), for the service to
        look up address locks before the event; none outside the review and the code step."""
        if conv.state not in ("review", "otp"):
            return []
        a = conv.answers
        found = [otp.destination_key(self.otp_secret, "sms", a["phone"])] if a.get("phone") else []
        if a.get("email"):
            found.append(otp.destination_key(self.otp_secret, "email", a["email"]))
        return found

    def _otp_buttons(self, conv: Conversation) -> tuple[tuple[Button, ...], ...]:
        rows: list[tuple[Button, ...]] = [(Button("otp:resend", label_key="btn.resend"),)]
        if conv.answers.get("email"):
            channel, _, _ = self._code_destination(conv)
            other = "sms" if channel == "email" else "email"
            rows.append((Button(f"otp:via:{other}", label_key=f"btn.via_{other}"),))
        rows.append((Button("otp:change", label_key="btn.change_destination"),))
        return tuple(rows)

    def _choose_channel(self, conv: Conversation) -> list[Reply]:
        """Both an e-mail and a phone: the user picks where the code goes."""
        buttons = (
            (
                Button(
                    "otp:via:email",
                    label_key="btn.code_by_email",
                    params={"to": mask_email(conv.answers["email"])},
                ),
            ),
            (
                Button(
                    "otp:via:sms",
                    label_key="btn.code_by_sms",
                    params={"to": mask_phone(conv.answers["phone"])},
                ),
            ),
        )
        return [Reply("otp.choose_channel", buttons=buttons)]

    def _send_code(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        destination = self._destination(conv)
        conv.otp = otp.bind(conv.otp, destination)
        address_lock = event.otp_locks.get(destination)
        wait = otp.resend_wait(conv.otp, now, destination, address_lock)
        if wait > timedelta(0):
            lock = otp.locked_until(conv.otp, now, address_lock)
            if lock is not None and lock - now >= wait:
                return [self._locked(conv, lock, now)]
            return [Reply("otp.wait", wait_until(now, now + wait), buttons=self._otp_buttons(conv))]
        channel, to, _ = self._code_destination(conv)
        code, conv.otp = otp.issue(conv.otp, self.otp_secret, now, destination)
        conv.effects.append(SendCode(channel, to, code, destination))
        return []  # what to say depends on the delivery: see ``code_delivery``

    def _locked(self, conv: Conversation, until: datetime, now: datetime) -> Reply:
        return Reply("otp.locked", wait_until(now, until), buttons=self._otp_buttons(conv))

    def code_delivery(
        self,
        conv: Conversation,
        outcome: Literal["sent", "failed", "busy", "locked"],
        now: datetime,
        wait: timedelta = timedelta(0),
    ) -> list[Reply]:
        """What the user hears once the service has tried to deliver the code.

        ``busy``: this address got too many codes lately (from any conversation); the code
        just made was never sent, so it is voided; the address waits ``wait`` from ``now``.
        ``failed``: the carrier refused it; it does not count either, so the citizen may
        retry or switch channel at once. ``locked``: code entry for this address is locked
        for ``wait``; the code was not sent.
        """
        channel, _, shown = self._code_destination(conv)
        buttons = self._otp_buttons(conv)
        if outcome == "sent":
            minutes = int(otp.CODE_LIFETIME.total_seconds() // 60)
            return [
                Reply(f"otp.sent_{channel}", {"to": shown, "minutes": minutes}, buttons=buttons)
            ]
        conv.otp = otp.withdraw(conv.otp)
        if outcome == "locked":
            return [self._locked(conv, now + wait, now)]
        if outcome == "busy":
            params = wait_until(now, now + wait)
            # A phone is no "địa chỉ": the message names what got the codes.
            params["destination"] = Msg(f"otp.busy_{channel}", {"to": shown})
            return [Reply("otp.address_busy", params, buttons=buttons)]
        return [Reply("otp.send_failed", buttons=buttons)]

    def _code_accepted(self, conv: Conversation, now: datetime) -> list[Reply]:
        """The right code: the declaration is submitted (a guardian's proof of their
        e-mail ends otherwise: ``bot.guardians.proof``)."""
        fire(conv, "verified")
        conv.effects.append(Submit())
        return [Reply("otp.accepted")]

    def _ask_otp(self, conv: Conversation, now: datetime) -> list[Reply]:
        if conv.otp is None and conv.answers.get("email"):
            return self._choose_channel(conv)
        _, _, shown = self._code_destination(conv)
        return [Reply("ask.otp", {"to": shown}, buttons=self._otp_buttons(conv))]

    def _on_otp(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind == "choice":
            if event.choice == "otp:resend":
                return self._send_code(conv, event, now)
            if event.choice in ("otp:via:email", "otp:via:sms"):
                conv.answers["otp_channel"] = event.choice.rpartition(":")[2]
                return self._send_code(conv, event, now)
            if event.choice == "otp:change":
                fire(conv, "change_destination")
                return [Reply("otp.change_hint"), *self.prompt(conv, now)]
            return self._stale(conv, now)
        if event.kind != "text":
            return self._wrong_kind(conv, event, "text")
        typed = validators.otp_code(event.text)
        if isinstance(typed, validators.Invalid):
            return self._reject(conv, typed.code)
        destination = self._destination(conv)
        verdict, conv.otp = otp.verify(
            conv.otp,
            self.otp_secret,
            typed.value,
            now,
            destination,
            event.otp_locks.get(destination),
        )
        if verdict.outcome == "ok":
            conv.attempts.pop("otp", None)
            return self._code_accepted(conv, now)
        if verdict.outcome == "wrong":
            return [Reply("otp.wrong", {"left": verdict.tries_left})]
        if verdict.outcome == "locked" and verdict.locked_until is not None:
            if verdict.new_lock:
                conv.effects.append(LockAddress(destination, verdict.locked_until))
            return [self._locked(conv, verdict.locked_until, now), self._help_offer(conv)]
        if verdict.outcome == "moved":
            return [Reply("otp.destination_changed", buttons=self._otp_buttons(conv))]
        if verdict.outcome == "none" and conv.answers.get("email"):
            return [Reply("otp.choose_first"), *self._choose_channel(conv)]
        return [Reply("otp.expired", buttons=self._otp_buttons(conv))]
