"""A person using the bot through Telegram, played against the Bot API emulator over HTTP."""

from __future__ import annotations

from dataclasses import dataclass

from tests.emulator import ApiCall, BotApiEmulator, buttons

SHOWN = ("sendMessage", "editMessageText", "sendDocument", "sendPhoto")


@dataclass
class TelegramUser:
    emu: BotApiEmulator
    user_id: int
    last: list[ApiCall] | None = None

    async def _activity(self) -> str:
        self.last = await self.emu.next_bot_activity(self.user_id, timeout=10.0)
        return self.text

    @property
    def text(self) -> str:
        """What the bot showed in answer to the last action (sent or edited messages)."""
        shown = [c for c in self.last or [] if c.method in SHOWN]
        return "\n".join(str(c.params.get("text") or c.params.get("caption") or "") for c in shown)

    async def says(self, text: str) -> str:
        self.emu.send_text(self.user_id, text)
        return await self._activity()

    async def command(self, name: str) -> str:
        self.emu.send_command(self.user_id, "/" + name)
        return await self._activity()

    async def sends_photo(self, data: bytes) -> str:
        self.emu.send_photo(self.user_id, data)
        return await self._activity()

    async def sends_file(self, data: bytes, name: str, mime: str) -> str:
        self.emu.send_document(self.user_id, data, file_name=name, mime_type=mime)
        return await self._activity()

    async def sends_sticker(self) -> str:
        self.emu.send_sticker(self.user_id)
        return await self._activity()

    async def sends_voice(self) -> str:
        self.emu.send_voice(self.user_id)
        return await self._activity()

    async def shares_phone(self, phone: str, *, own: bool = True) -> str:
        other = None if own else self.user_id + 1
        self.emu.send_contact(self.user_id, phone, contact_user_id=other)
        return await self._activity()

    async def presses_on(self, message_id: int, data: str) -> str:
        """Press a button of one given message, e.g. an older one higher up in the chat."""
        self.emu.press_button(self.user_id, message_id, data)
        return await self._activity()

    async def presses(self, wanted: str) -> str:
        """Press the newest button whose label contains ``wanted`` or whose data starts with it."""
        for message in reversed(self.emu.messages(self.user_id)):
            for label, data in buttons(message):
                if wanted in label or data.startswith(wanted):
                    self.emu.press_button(self.user_id, message.message_id, data)
                    return await self._activity()
        raise AssertionError(f"no button {wanted!r}:\n{self.emu.transcript(self.user_id)}")
