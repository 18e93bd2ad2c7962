"""The same registration in a terminal: no token, no network.

Buttons become numbered choices, a path to an image file sends that photo, and the
one-time code is shown from the dev outbox, so a developer can walk the whole flow on a
fresh machine.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.flows.events import Button, Event, Reply
from bot.settings import Settings
from bot.wiring import Components, build

USER_KEY = "console:local"


def to_event(line: str, buttons: list[Button]) -> Event:
    text = line.strip()
    if text.startswith("/") and len(text) > 1:
        head, _, rest = text[1:].partition(" ")
        return Event.slash(head, rest)
    if text.isdigit() and buttons and 1 <= int(text) <= len(buttons) and len(text) <= 2:
        return Event.pressed(buttons[int(text) - 1].data)
    path = Path(text).expanduser()
    if text and len(text) < 4096 and path.is_file():
        data = path.read_bytes()
        return Event(kind="document", data=data, file_name=path.name)
    return Event.typed(line.rstrip("\n"))


class Console:
    def __init__(self, parts: Components, out: TextIO) -> None:
        self.parts = parts
        self.out = out
        self.buttons: list[Button] = []
        self.lang: str = parts.settings.bot_default_locale
        self.seen_outbox = 0

    def show(self, replies: list[Reply], lang: str) -> None:
        translator = self.parts.translator
        self.buttons = []
        for reply in replies:
            print(translator.reply(lang, reply), file=self.out)
            for row in reply.buttons:
                for button in row:
                    self.buttons.append(button)
                    label = translator.label(lang, button)
                    print(f"  [{len(self.buttons)}] {label}", file=self.out)
            if reply.keyboard == "contact":
                print("  " + translator.text(lang, "console.contact_hint"), file=self.out)
            print(file=self.out)

    async def show_outbox(self, lang: str) -> None:
        messages = await self.parts.outbox.latest(limit=5)
        fresh = [m for m in messages if m.created_at and len(messages)]
        count = len(await self.parts.db.fetch("SELECT id FROM dev_outbox"))
        for message in reversed(fresh[: max(0, count - self.seen_outbox)]):
            line = self.parts.translator.text(
                lang,
                "console.otp_shown",
                {"channel": message.channel, "to": message.recipient, "body": message.body},
            )
            print(line, file=self.out)
        self.seen_outbox = count

    async def step(self, event: Event) -> None:
        outcome = await self.parts.service.handle(USER_KEY, event)
        self.lang = outcome.locale
        self.show(outcome.replies, outcome.locale)
        await self.show_outbox(outcome.locale)


async def run_console(
    settings: Settings, read_line: Callable[[], str] = sys.stdin.readline, out: TextIO = sys.stdout
) -> int:
    parts = await build(settings)
    try:
        console = Console(parts, out)
        console.seen_outbox = len(await parts.db.fetch("SELECT id FROM dev_outbox"))
        print(parts.translator.text(console.lang, "console.banner"), file=out)
        await console.step(Event.slash("start"))
        while True:
            line = await asyncio.to_thread(read_line)
            if not line or line.strip() in ("/quit", "/exit"):
                print(parts.translator.text(console.lang, "console.bye"), file=out)
                return 0
            if not line.strip():
                continue
            await console.step(to_event(line, console.buttons))
    finally:
        await parts.close()
