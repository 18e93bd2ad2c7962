"""A citizen talking to the service, for tests that read like the user's story.

Replies are rendered with the real catalogues, so assertions check what a person reads.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, ImageDraw

from bot.flows.events import Button, Event, Reply
from bot.wiring import Components


def photo_bytes(width: int = 1200, height: int = 800, fmt: str = "JPEG", seed: int = 0) -> bytes:
    """A synthetic picture with some structure (never a real person or card)."""
    image = Image.new("RGB", (width, height), (200 - seed % 50, 180, 160))
    draw = ImageDraw.Draw(image)
    for i in range(0, width, 40):
        draw.line([(i, 0), (width - i, height)], fill=(20, 40 + seed % 100, 90), width=3)
    draw.rectangle([width // 4, height // 4, width // 2, height // 2], fill=(250, 250, 250))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


class Citizen:
    def __init__(self, parts: Components, user_key: str) -> None:
        self.parts = parts
        self.user_key = user_key
        self.replies: list[Reply] = []
        self.locale = "vi"
        self.history: list[str] = []

    async def send(self, event: Event) -> list[str]:
        outcome = await self.parts.service.handle(self.user_key, event)
        self.replies = outcome.replies
        self.locale = outcome.locale
        texts = [self.parts.translator.reply(self.locale, r) for r in self.replies]
        self.history.extend(texts)
        return texts

    async def says(self, text: str) -> list[str]:
        return await self.send(Event.typed(text))

    async def command(self, name: str) -> list[str]:
        return await self.send(Event.slash(name))

    async def sends_photo(self, data: bytes | None = None) -> list[str]:
        return await self.send(Event.photo(data if data is not None else photo_bytes()))

    async def sends(self, **fields: Any) -> list[str]:
        return await self.send(Event(**fields))

    @property
    def text(self) -> str:
        """Everything the bot said in answer to the last event."""
        return "\n".join(self.parts.translator.reply(self.locale, r) for r in self.replies)

    @property
    def keys(self) -> list[str]:
        return [r.key for r in self.replies]

    def buttons(self) -> list[tuple[str, Button]]:
        translator = self.parts.translator
        return [
            (translator.label(self.locale, b), b)
            for r in self.replies
            for row in r.buttons
            for b in row
        ]

    async def presses(self, label_part: str) -> list[str]:
        """Press the button whose label contains ``label_part`` (or whose data equals it)."""
        for label, button in self.buttons():
            by_data = button.data == label_part or (
                ":" in label_part and button.data.startswith(label_part)
            )
            if label_part in label or by_data:
                return await self.send(Event.pressed(button.data))
        shown = [label for label, _ in self.buttons()]
        raise AssertionError(f"no button {label_part!r} among {shown}")

    async def state(self) -> str:
        conv = await self.parts.service.conversations.load(self.user_key)
        return conv.state if conv else "(nothing stored)"

    async def answers(self) -> dict[str, Any]:
        conv = await self.parts.service.conversations.load(self.user_key)
        return dict(conv.answers) if conv else {}


async def fill_until_review(c: Citizen, *, email: str | None = "an.nguyen@example.com") -> None:
    """The happy path up to the review, as a Vietnamese citizen would answer."""
    await c.command("start")
    await c.presses("consent:yes:vi")
    await c.says("0312345678")
    await c.says("Nguyễn Văn An")
    await c.says("001099012345")
    await c.says("hai phong")
    await c.says("gia vien")
    await c.says("Số 5 Lạch Tray")
    await c.says("0983 847 986")
    if email:
        await c.presses("email_choice:yes")
        await c.says(email)
    else:
        await c.presses("email_choice:no")
    await c.sends_photo(photo_bytes(seed=1))
    await c.sends_photo(photo_bytes(seed=2))
    await c.sends_photo(photo_bytes(seed=3))
    await c.presses("agency:pick:")  # the first suggestion
