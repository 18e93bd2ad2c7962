"""A citizen talking to the service, for tests that read like the user's story.

Replies are rendered with the real catalogues, so assertions check what a person reads.
"""

from __future__ import annotations

import io
import re
from typing import Any

from PIL import Image, ImageDraw

from bot.flows import otp
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

    async def agrees(self) -> None:
        """Open the bot and give consent, as every story but the consent ones begins."""
        await self.command("start")
        await self.presses("consent:yes:")

    async def answers_in_turn(self, *texts: str) -> None:
        for text in texts:
            await self.says(text)

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


#: What a citizen types from the BHXH code to the street, in order (synthetic).
TYPED_UNTIL_PHONE = (
    "0312345678",
    "Nguyễn Văn An",
    "001099012345",
    "hai phong",
    "gia vien",
    "Số 5 Lạch Tray",
)


async def fill_until_review(c: Citizen, *, email: str | None = "an.nguyen@example.com") -> None:
    """The happy path up to the review, as a Vietnamese citizen would answer."""
    await c.agrees()
    await c.answers_in_turn(*TYPED_UNTIL_PHONE, "0983 847 986")
    if email:
        await c.presses("email_choice:yes")
        await c.says(email)
    else:
        await c.presses("email_choice:no")
    await c.sends_photo(photo_bytes(seed=1))
    await c.sends_photo(photo_bytes(seed=2))
    await c.sends_photo(photo_bytes(seed=3))
    await c.presses("agency:pick:")  # the first suggestion


def qr_photo(payload: str, *, long_side: int = 1280) -> bytes:
    """A plain photo of a QR code carrying ``payload`` (synthetic data only)."""
    import segno

    code = segno.make(payload, error="m", micro=False)
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=8, border=4)
    buffer.seek(0)
    qr = Image.open(buffer).convert("RGB")
    frame = Image.new("RGB", (long_side, long_side * 3 // 4), (90, 80, 70))
    card = Image.new("RGB", (long_side * 2 // 3, long_side * 2 // 5), (235, 240, 230))
    side = card.size[1] * 9 // 10
    card.paste(qr.resize((side, side)), (card.size[0] - side - 10, 10))
    frame.paste(card, (long_side // 6, long_side // 8))
    out = io.BytesIO()
    frame.save(out, "JPEG", quality=88)
    return out.getvalue()


CCCD_2021 = (
    "031099012345||Phạm Minh Đức|05061999|Nam|"
    "Số 5 Lạch Tray, Đằng Giang, Ngô Quyền, Hải Phòng|10052021"
)
CCCD_2024 = (
    "089190012345|352000001|Lê Thị Mai|12031990|Nữ|"
    "Tổ 3, Ấp An Thái, Hòa Bình, Chợ Mới, An Giang|04102024||||"
)
BHYT_NEW = (
    "0312345678|4e677579e1bb856e2056c4836e20416e|05/06/1990|1|-|31 - 123|01/01/2025|-|"
    "15/01/2025|03150312345678|-|4|01/01/2030|0123456789abcdef-1234|4|"
    "5175e1baad6e204e67c3b420517579e1bb816e2c205468c3a06e68207068e1bb912048e1baa369205068c3b26e67|$"
)


async def code_from_outbox(parts: Components) -> str:
    """The one-time code of the newest dev-outbox message."""
    [message] = await parts.outbox.latest(limit=1)
    found = re.search(r"\b(\d{6})\b", message.body)
    assert found, message.body
    return found.group(1)


async def wrong_codes_until_locked(c: Citizen, right: str) -> None:
    """Wrong codes until entry locks: each one before says how many tries are left."""
    wrong = "000000" if right != "000000" else "111111"
    for left in range(otp.MAX_WRONG - 1, 0, -1):
        await c.says(wrong)
        assert c.keys == ["otp.wrong"] and str(left) in c.text
    await c.says(wrong)
    assert c.keys[0] == "otp.locked"


async def submit(c: Citizen) -> None:
    """From the review to the receipt, the code going by e-mail."""
    await c.presses("review:confirm")
    await c.presses("otp:via:email")
    await c.says(await code_from_outbox(c.parts))
