"""Shows the flow's ``Reply`` values in Telegram: keyboards, edits of the pressed message.

Messages and edits go out as plain Bot API parameters through ``post``: the bot never
reads the ``Message`` Telegram answers with (edits use the pressed button's message), and
having PTB build keyboard objects and parse every answer into a ``Message`` cost ~0.2 ms
of event-loop time per step, a sixth of a whole step in ``bench/flow.py``.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram import CallbackQuery
from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.flows.events import Reply
from bot.i18n import Translator

log = logging.getLogger(__name__)
Markup = dict[str, Any] | None


def markup(reply: Reply, lang: str, translator: Translator) -> Markup:
    """The ``reply_markup`` parameter, as the Bot API's JSON."""
    if reply.buttons:
        rows = [
            [{"text": translator.label(lang, b), "callback_data": b.data} for b in row]
            for row in reply.buttons
        ]
        return {"inline_keyboard": rows}
    if reply.keyboard == "contact":
        label = translator.text(lang, "btn.share_phone")
        return {
            "keyboard": [[{"text": label, "request_contact": True}]],
            "resize_keyboard": True,
            "one_time_keyboard": True,
        }
    if reply.keyboard == "remove":
        return {"remove_keyboard": True}
    return None


def _edits_in_place(keyboard: Markup) -> bool:
    """Only an inline keyboard (or none) can replace the pressed message's."""
    return keyboard is None or "inline_keyboard" in keyboard


async def post(bot: ExtBot[None], method: str, params: dict[str, Any]) -> Any:
    """One Bot API call, through PTB's rate limiter and error mapping, answer left as JSON.

    ``Bot._post`` is the single funnel every typed PTB method ends in (defaults, the
    ``AIORateLimiter``, ``TelegramError`` mapping); only the final ``de_json`` is skipped.
    ``do_api_request`` would do the same but warns for methods PTB already has.
    """
    return await bot._post(method, params)  # noqa: SLF001


_PLAIN = Reply("")
MAX_TEXT = 4096  # a message's text, counted after entity parsing (we send plain text)
MAX_CAPTION = 1024  # a document's caption
#: Where a long text is best cut, best first; one found in the first half is not used.
_BREAKS = ("\n\n", "\n", " ")


def utf16_length(text: str) -> int:
    """Telegram measures texts in UTF-16 code units: an emoji outside the BMP counts 2."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """``text`` as messages Telegram accepts, cut at a paragraph, else a line, else a word
    (a single word longer than ``limit`` is cut where it must be).

    Written here because ``textwrap`` reflows lines and counts code points, not UTF-16
    units, and no maintained library does this for plain (not Markdown) text.
    """
    parts: list[str] = []
    rest = text
    while utf16_length(rest) > limit:
        window = rest[:limit]
        while (excess := utf16_length(window) - limit) > 0:  # astral characters count 2
            window = window[: len(window) - (excess + 1) // 2]
        cut = next(
            (at for sep in _BREAKS if (at := window.rfind(sep)) >= limit // 2),
            len(window),
        )
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [part for part in parts if part.strip()] or [text]


def _is_plain(reply: Reply) -> bool:
    return not (reply.buttons or reply.keyboard or reply.document is not None or reply.edit)


def joined(replies: list[Reply], lang: str, translator: Translator) -> list[tuple[Reply, str]]:
    """Plain notes ride along with the message after them ("✅ saved" + the next question):
    fewer messages and notifications on a cheap phone, and fewer Bot API calls."""
    out: list[tuple[Reply, str]] = []
    pending: list[str] = []
    for reply in replies:
        text = translator.reply(lang, reply)
        merged = "\n\n".join([*pending, text])
        too_long = utf16_length(merged) > MAX_TEXT
        if pending and (reply.edit or reply.document is not None or too_long):
            out.append((_PLAIN, "\n\n".join(pending)))
            pending, merged = [], text
        if _is_plain(reply):
            pending.append(text)
            continue
        out.append((reply, merged))
        pending = []
    if pending:
        out.append((_PLAIN, "\n\n".join(pending)))
    return out


async def send_replies(
    bot: ExtBot[None],
    chat_id: int,
    replies: list[Reply],
    lang: str,
    translator: Translator,
    query: CallbackQuery | None = None,
) -> None:
    """Send in order; the first ``edit`` reply replaces the message whose button was pressed.

    A text longer than Telegram takes goes as several messages (``split_text``), the
    keyboard under the last; a document's too long caption goes as messages before it.
    """
    editable = query.message if query is not None else None
    for reply, text in joined(replies, lang, translator):
        keyboard = markup(reply, lang, translator)
        if reply.document is not None:
            caption: str | None = text
            if utf16_length(text) > MAX_CAPTION:  # said first, the file follows bare
                for part in split_text(text):
                    await post(bot, "sendMessage", {"chat_id": chat_id, "text": part})
                caption = None
            await bot.send_document(
                chat_id, reply.document, filename=reply.document_name, caption=caption
            )
            continue
        parts = split_text(text)
        for number, part in enumerate(parts, start=1):
            params: dict[str, Any] = {"chat_id": chat_id, "text": part}
            if keyboard is not None and number == len(parts):
                params["reply_markup"] = keyboard
            if number == 1 and reply.edit and editable is not None and _edits_in_place(keyboard):
                target, editable = editable, None
                if await _edit(bot, {**params, "message_id": target.message_id}):
                    continue
            await post(bot, "sendMessage", params)


async def _edit(bot: ExtBot[None], params: dict[str, Any]) -> bool:
    """Replace the pressed message's text; False when it must be sent anew instead."""
    try:
        await post(bot, "editMessageText", params)
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return True
        log.info("could not edit message, sending a new one: %s", exc)
        return False
    return True
