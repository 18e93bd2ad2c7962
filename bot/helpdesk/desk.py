"""The help desk: who asked for a person, who is being helped, and what staff did.

Channel-free: the Telegram adapter (``bot.handlers.helpdesk``) turns topics and commands
into calls here. The registration flow only ever learns that a conversation is paused (a
person is helping) and, when it is handed back, to ask its current step again.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import Clock, utc_now
from bot.helpdesk.hours import OfficeHours
from storage.helpdesk import AuditEntry, HelpRequest, HelpRequests

#: Letters of a request's reference: no 0/O or 1/I to misread when read out on the phone.
_REFERENCE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def new_reference() -> str:
    """``HT-7KQ2P``: random, so it says nothing about the citizen."""
    return "HT-" + "".join(secrets.choice(_REFERENCE_LETTERS) for _ in range(5))


@dataclass(frozen=True)
class Asked:
    """The answer to a citizen who asks for a person."""

    request: HelpRequest
    position: int  # 1 = next to be answered
    open_now: bool
    opens_at: datetime


class HelpDesk:
    def __init__(
        self,
        requests: HelpRequests,
        hours: OfficeHours,
        answer_within: timedelta,
        clock: Clock = utc_now,
    ) -> None:
        self.requests = requests
        self.hours = hours
        self.answer_within = answer_within
        self.clock = clock

    async def ask(self, user_key: str) -> Asked:
        """Open (or keep) the citizen's request; asking twice does not lose their place."""
        now = self.clock()
        request = await self.requests.of_user(user_key)
        if request is None:
            request = HelpRequest(user_key, new_reference(), "waiting", None, now.isoformat(), None)
            await self.requests.save(request, now.isoformat())
        elif not request.is_open:
            request = dataclasses.replace(
                request,
                status="waiting",
                requested_at=now.isoformat(),
                taken_by=None,
                told_at=None,
                callback="",
            )
            await self.requests.save(request, now.isoformat())
        waiting = await self.requests.open_since()
        position = 1 + sum(1 for r in waiting if r.requested_at < request.requested_at)
        return Asked(request, position, self.hours.is_open(now), self.hours.next_opening(now))

    async def withdraw(self, user_key: str) -> HelpRequest | None:
        """The citizen goes on with the bot; ``None`` when nothing was open."""
        request = await self.requests.of_user(user_key)
        if request is None or not request.is_open:
            return None
        return await self._set(request, status="withdrawn")

    async def helping(self, user_key: str) -> HelpRequest | None:
        """The request of a citizen a person is helping now (the bot is paused for them)."""
        request = await self.requests.of_user(user_key)
        return request if request is not None and request.status == "human" else None

    async def of_user(self, user_key: str) -> HelpRequest | None:
        return await self.requests.of_user(user_key)

    async def of_topic(self, thread_id: int) -> HelpRequest | None:
        return await self.requests.of_thread(thread_id)

    async def in_topic(self, request: HelpRequest, thread_id: int) -> HelpRequest:
        return await self._set(request, thread_id=thread_id)

    async def take_over(self, request: HelpRequest, staff_id: int) -> HelpRequest:
        return await self._set(request, status="human", taken_by=staff_id)

    async def release(self, request: HelpRequest) -> HelpRequest:
        return await self._set(request, status="released")

    async def resolve(self, request: HelpRequest) -> HelpRequest:
        return await self._set(request, status="resolved")

    async def reopen(self, request: HelpRequest) -> HelpRequest:
        """Staff reopened the topic: the request is open again (a reply takes it over)."""
        if request.is_open:
            return request
        return await self._set(request, status="waiting", taken_by=None, told_at=None)

    async def queue(self) -> list[tuple[HelpRequest, int]]:
        """Open requests with the minutes each has waited, the longest first."""
        now = self.clock()
        return [
            (r, int((now - datetime.fromisoformat(r.requested_at)).total_seconds() // 60))
            for r in await self.requests.open_since()
        ]

    async def link(self, request: HelpRequest, citizen_side: int, staff_side: int) -> None:
        await self.requests.link(request.user_key, citizen_side, staff_side)

    async def topic_side(self, request: HelpRequest, citizen_side: int) -> int | None:
        return await self.requests.in_topic(request.user_key, citizen_side)

    async def chat_side(self, request: HelpRequest, staff_side: int) -> int | None:
        return await self.requests.in_chat(request.user_key, staff_side)

    async def overdue(self) -> list[HelpRequest]:
        """Waiting requests nobody answered within ``answer_within`` of office time, each
        returned once (marked told): the citizen is offered the bot or a call back."""
        now = self.clock()
        if not self.hours.is_open(now):
            return []
        due = []
        for request in await self.requests.open_since():
            if request.status != "waiting" or request.told_at or request.callback:
                continue
            asked = datetime.fromisoformat(request.requested_at)
            if now >= self.hours.next_opening(asked) + self.answer_within:
                due.append(await self._set(request, told_at=now.isoformat()))
        return due

    async def call_back_asked(self, request: HelpRequest) -> HelpRequest:
        """The citizen wants a call and has no phone in the draft: the next text is one."""
        return await self._set(request, callback="asking")

    async def call_back(self, request: HelpRequest, phone: str) -> HelpRequest:
        """Marked "call back", still in the queue, with the number kept sealed."""
        request = await self._set(request, callback="set")
        await self.requests.keep_phone(request.user_key, phone)
        return request

    async def audit(
        self, staff_id: int, action: str, request: HelpRequest | None, detail: str = ""
    ) -> None:
        """Who did what, when, in which conversation (by its reference, not the citizen)."""
        reference = request.reference if request is not None else "-"
        entry = AuditEntry(self.clock().isoformat(), staff_id, action, reference, detail)
        await self.requests.audit(entry)

    async def _set(self, request: HelpRequest, **changes: object) -> HelpRequest:
        changed = dataclasses.replace(request, **changes)  # type: ignore[arg-type]
        await self.requests.save(changed, self.clock().isoformat())
        return changed
