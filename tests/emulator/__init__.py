"""Telegram Bot API emulator for end-to-end tests (see :mod:`.server`).

Usage::

    async with BotApiEmulator() as emu:
        app = (
            ApplicationBuilder()
            .token(emu.token)
            .base_url(f"{emu.root_url}/bot")
            .base_file_url(f"{emu.root_url}/file/bot")
            .build()
        )
        ...
        emu.send_command(42, "/start")
        calls = await emu.next_bot_activity(42)
        assert "Xin chào" in emu.messages(42)[-1].text
"""

from .formatting import EntityParseError, ParsedText, parse_text
from .server import (
    ApiCall,
    BotApiEmulator,
    ForumTopicState,
    ReplyButton,
    SentMessage,
    button_rows,
    buttons,
    reply_keyboard,
)
from .spec import check_request, load_spec

__all__ = [
    "ApiCall",
    "BotApiEmulator",
    "EntityParseError",
    "ForumTopicState",
    "ParsedText",
    "ReplyButton",
    "SentMessage",
    "button_rows",
    "buttons",
    "check_request",
    "load_spec",
    "parse_text",
    "reply_keyboard",
]
