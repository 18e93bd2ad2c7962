"""Real servers for tests, on 127.0.0.1 only: an SMTP server (aiosmtpd) and an HTTP sink
(aiohttp) that keep what they receive, and a free port (also one where nothing listens)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Inbox:
    """Every message the SMTP server accepted, parsed."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


@contextmanager
def smtp_server(port: int, inbox: Inbox | None = None) -> Iterator[Inbox]:
    inbox = inbox or Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ready_timeout=5)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


class HttpSink:
    """An HTTP endpoint on 127.0.0.1 that answers from a script of status codes (then
    ``default``) and keeps every request it got: headers and JSON body."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.default = 200
        self.delay = 0.0  # seconds before answering (a slow server)
        self.requests: list[tuple[dict[str, str], Any]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests.append((dict(request.headers), await request.json()))
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.script.pop(0) if self.script else self.default
        return web.json_response({"status": status}, status=status)

    async def start(self) -> HttpSink:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/submissions"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def keys(self) -> list[str]:
        return [headers["Idempotency-Key"] for headers, _ in self.requests]
