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
from bot.service import Outcome
from bot.settings import Settings
from bot.wiring import Components, build
from storage.private import private_folder, write_private

USER_KEY = "console:local"


def _existing_file(text: str) -> Path | None:
    if not text or len(text) > 1024:
        return None
    try:
        path = Path(text).expanduser()
        return path if path.is_file() else None
    except (OSError, ValueError):  # a NUL byte, a name too long for the file system
        return None


def to_event(line: str, buttons: list[Button]) -> Event:
    text = line.strip()
    path = _existing_file(text)
    if path is not None:  # before commands: /home/… is a path
        return Event(kind="document", data=path.read_bytes(), file_name=path.name)
    if text.startswith("/") and len(text) > 1:
        head, _, rest = text[1:].partition(" ")
        return Event.slash(head, rest)
    if text.isdigit() and buttons and 1 <= int(text) <= len(buttons) and len(text) <= 2:
        return Event.pressed(buttons[int(text) - 1].data)
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
            if reply.document is not None and reply.document_name:
                exports = private_folder(self.parts.settings.vssid_data_dir / "exports")
                saved = exports / reply.document_name
                write_private(saved, reply.document)
                print(
                    translator.text(lang, "console.file_saved", {"path": str(saved)}), file=self.out
                )
            for row in reply.buttons:
                for button in row:
                    self.buttons.append(button)
                    label = translator.label(lang, button)
                    print(f"  [{len(self.buttons)}] {label}", file=self.out)
            if reply.keyboard == "contact":
                print("  " + translator.text(lang, "console.contact_hint"), file=self.out)
            print(file=self.out)

    async def show_outbox(self, lang: str) -> None:
        """Print what went to the dev outbox since the last step (the one-time code)."""
        self.seen_outbox, fresh = await self.parts.outbox.since(self.seen_outbox)
        for message in fresh:
            line = self.parts.translator.text(
                lang,
                "console.otp_shown",
                {"channel": message.channel, "to": message.recipient, "body": message.body},
            )
            print(line, file=self.out)

    async def step(self, event: Event) -> None:
        await self.parts.service.handle(USER_KEY, event, self.deliver)
        await self.parts.service.drain()  # a terminal can wait for the PDF
        await self.show_outbox(self.lang)

    async def deliver(self, outcome: Outcome) -> None:
        self.lang = outcome.locale
        self.show(outcome.replies, outcome.locale)


async def run_console(
    settings: Settings, read_line: Callable[[], str] = sys.stdin.readline, out: TextIO = sys.stdout
) -> int:
    parts = await build(settings)
    try:
        await parts.service.cpu.start()  # and a killed bot's photo spools are removed
        console = Console(parts, out)
        console.seen_outbox, _ = await parts.outbox.since(0)
        print(parts.translator.text(console.lang, "console.banner"), file=out)
        async with parts.delivering():
            await console.step(Event.slash("start"))
            while True:
                line = await asyncio.to_thread(read_line)
                if not line or line.strip() in ("/quit", "/exit"):
                    print(parts.translator.text(console.lang, "console.bye"), file=out)
                    return 0
                if line.strip():
                    await console.step(to_event(line, console.buttons))
    finally:
        await parts.close()
