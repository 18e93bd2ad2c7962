"""Telegram's sending budget, shared by two lanes: replies to people typing go first,
background messages (reminders, decisions, the PDF after a receipt) get a bounded share.

Telegram lets a bot send about 30 messages a second over all its chats (Bot FAQ, "My bot is
hitting limits"). PTB's ``AIORateLimiter`` keeps a bot under that with one first-come,
first-served bucket for every request that has a ``chat_id``, so a morning sweep of a
thousand reminders, handed to it at once, would sit in front of every reply for half a
minute. ``TelegramBudget`` is the ``BaseRateLimiter`` PTB offers for such policies
("``rate_limit_args`` … can e.g. be used to specify the priority of the request"): it keeps
``AIORateLimiter`` for everything it does (the overall bucket, group limits, waiting out a
``RetryAfter``) and puts two gates in front of it for background requests:

* at most ``background_max_rate`` of them a second (``aiolimiter``, as PTB uses);
* none enters the shared bucket while a reply is waiting for it, and only one at a time,
  so a reply waits behind at most one background message (1/30 s) however long the
  background queue is.

A background request is marked by ``rate_limit_args=Lane.BACKGROUND``; everything else is
interactive. Requests without a ``chat_id`` (``answerCallbackQuery``, ``getFile``) do not
spend the budget: ``AIORateLimiter`` lets them through its overall bucket, and Telegram's
30 a second counts messages sent to chats.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from enum import StrEnum
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.constants import FloodLimit
from telegram.ext import AIORateLimiter, BaseRateLimiter

JSONDict = dict[str, Any]
Result = bool | JSONDict | list[JSONDict]
Callback = Callable[..., Coroutine[Any, Any, Result]]


class Lane(StrEnum):
    INTERACTIVE = "interactive"
    BACKGROUND = "background"


class TelegramBudget(BaseRateLimiter[Lane]):
    """``AIORateLimiter`` with a lower, bounded lane for background messages."""

    def __init__(
        self,
        *,
        background_max_rate: float,
        overall_max_rate: float = FloodLimit.MESSAGES_PER_SECOND,
        max_retries: int = 3,
    ) -> None:
        """``background_max_rate`` 0 leaves the background lane unbounded (beside replies),
        ``overall_max_rate`` 0 turns Telegram's overall bucket off (``bench/flow.py``)."""
        self._shared = AIORateLimiter(overall_max_rate=overall_max_rate, max_retries=max_retries)
        self._background = AsyncLimiter(background_max_rate, 1) if background_max_rate else None
        self._one_at_a_time = asyncio.Lock()
        self._replies_waiting = 0
        self._no_reply_waiting = asyncio.Event()
        self._no_reply_waiting.set()

    async def initialize(self) -> None:
        await self._shared.initialize()

    async def shutdown(self) -> None:
        await self._shared.shutdown()

    async def process_request(
        self,
        callback: Callback,
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Lane | None,
    ) -> Result:
        if rate_limit_args is Lane.BACKGROUND:
            return await self._in_background(callback, args, kwargs, endpoint, data)
        if data.get("chat_id") is None:  # not counted by Telegram's 30 a second
            return await self._shared.process_request(callback, args, kwargs, endpoint, data, None)
        return await self._reply(callback, args, kwargs, endpoint, data)

    async def _reply(
        self, callback: Callback, args: Any, kwargs: dict[str, Any], endpoint: str, data: JSONDict
    ) -> Result:
        """Counted as waiting until the shared bucket lets it through (its callback starts)."""
        self._replies_waiting += 1
        self._no_reply_waiting.clear()
        waiting = True

        def through() -> None:
            nonlocal waiting
            if waiting:
                waiting = False
                self._replies_waiting -= 1
                if not self._replies_waiting:
                    self._no_reply_waiting.set()

        async def started(*a: Any, **kw: Any) -> Result:
            through()
            return await callback(*a, **kw)

        try:
            return await self._shared.process_request(started, args, kwargs, endpoint, data, None)
        finally:
            through()

    async def _in_background(
        self, callback: Callback, args: Any, kwargs: dict[str, Any], endpoint: str, data: JSONDict
    ) -> Result:
        if self._background is not None:
            await self._background.acquire()
        await self._one_at_a_time.acquire()
        holding = True

        def release() -> None:
            nonlocal holding
            if holding:
                holding = False
                self._one_at_a_time.release()

        async def started(*a: Any, **kw: Any) -> Result:
            release()  # the next background message may queue for the bucket
            return await callback(*a, **kw)

        try:
            await self._no_reply_waiting.wait()
            return await self._shared.process_request(started, args, kwargs, endpoint, data, None)
        finally:
            release()
