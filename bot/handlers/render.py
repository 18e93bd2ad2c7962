"""Shows the flow's ``Reply`` values in Telegram: keyboards, edits of the pressed message.

Messages and edits go out as plain Bot API parameters through ``post``: the bot never
reads the ``Message`` Telegram answers with beyond its id (edits use the pressed button's
message), and having PTB build keyboard objects and parse every answer into a ``Message``
cost ~0.2 ms of event-loop time per step, a sixth of a whole step in ``bench/flow.py``.

Every message and edit spends Telegram's budget of about 30 a second for the whole bot
(``bot.handlers.budget``), so a step's replies go out in as few calls as reads well: plain
notes ride with the message after them, and a pressed button's acknowledgement ("✅ Phường
Gia Viên") takes the next question into the same edit, its keyboard replacing the pressed
one. That fold happens only when the pressed message is still the newest in the chat;
otherwise the next question would appear up in the history, and it goes out as a new
message at the bottom.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import replace
from typing import Any

from telegram import CallbackQuery
from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.flows.events import Reply
from bot.handlers.budget import Lane
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


async def post(
    bot: ExtBot[Any], method: str, params: dict[str, Any], lane: Lane | None = None
) -> Any:
    """One Bot API call, through PTB's rate limiter and error mapping, answer left as JSON.

    ``Bot._post`` is the single funnel every typed PTB method ends in (defaults, the rate
    limiter, ``TelegramError`` mapping); only the final ``de_json`` is skipped.
    ``do_api_request`` would do the same but warns for methods PTB already has. ``lane``
    goes to the rate limiter as the typed methods' ``rate_limit_args`` would.
    """
    extra = bot._merge_api_rl_kwargs(None, lane)  # noqa: SLF001
    return await bot._post(method, params, api_kwargs=extra)  # noqa: SLF001


class NewestMessages:
    """The newest message id seen in each private chat, sent or received.

    In a private chat the user's and the bot's messages share one sequence of ids, so the
    pressed message is the last one in the chat exactly when its id is the newest seen.
    Bounded (least recently used chats go first; ~200 bytes a chat, 200 KB when full): a
    chat not remembered is answered as if the pressed message were an older one, which
    costs one more call and loses nothing. Within Telegram's budget one bot finishes at most
    ~90 registrations a minute, each taking a citizen minutes: ~1,000 chats in progress.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._ids: OrderedDict[int, int] = OrderedDict()

    def saw(self, chat_id: int, message_id: int) -> None:
        known = self._ids.get(chat_id, 0)
        self._ids[chat_id] = max(known, message_id)
        self._ids.move_to_end(chat_id)
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)

    def is_newest(self, chat_id: int, message_id: int) -> bool:
        return self._ids.get(chat_id) == message_id


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


def _folds_into(ack: Reply, after: Reply) -> bool:
    """An edit that only acknowledges (no buttons of its own) can carry the next message,
    if that one is a text whose keyboard, if any, is inline (an edit cannot show a reply
    keyboard or a document)."""
    return (
        ack.edit
        and not ack.buttons
        and ack.keyboard is None
        and ack.document is None
        and not after.edit
        and after.keyboard is None
        and after.document is None
    )


def joined(
    replies: list[Reply], lang: str, translator: Translator, *, fold_edit: bool = False
) -> list[tuple[Reply, str]]:
    """Plain notes ride along with the message after them ("✅ saved" + the next question):
    fewer messages and notifications on a cheap phone, and fewer Bot API calls.

    With ``fold_edit`` the first edit, if it only acknowledges, also takes the message after
    it: one edit shows the choice made and asks the next question (see the module's doc).
    """
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
    if fold_edit:
        _fold_first_edit(out)
    return out


def _fold_first_edit(out: list[tuple[Reply, str]]) -> None:
    for i, (ack, ack_text) in enumerate(out[:-1]):
        if not ack.edit:
            continue
        after, after_text = out[i + 1]
        text = f"{ack_text}\n\n{after_text}"
        if _folds_into(ack, after) and utf16_length(text) <= MAX_TEXT:
            out[i : i + 2] = [(replace(after, edit=True), text)]
        return  # only the first edit reply edits the pressed message


async def send_replies(
    bot: ExtBot[Any],
    chat_id: int,
    replies: list[Reply],
    lang: str,
    translator: Translator,
    query: CallbackQuery | None = None,
    *,
    newest: NewestMessages | None = None,
    lane: Lane | None = None,
) -> None:
    """Send in order; the first ``edit`` reply replaces the message whose button was pressed.

    ``newest`` (the chat's newest message) decides whether that edit may also carry the next
    question, and learns the ids of the messages sent; ``lane`` is the budget's lane.
    A text longer than Telegram takes goes as several messages (``split_text``), the
    keyboard under the last; a document's too long caption goes as messages before it.
    """
    editable = query.message if query is not None else None
    fold = (
        editable is not None
        and newest is not None
        and newest.is_newest(chat_id, editable.message_id)
    )
    for reply, text in joined(replies, lang, translator, fold_edit=fold):
        keyboard = markup(reply, lang, translator)
        if reply.document is not None:
            caption: str | None = text
            if utf16_length(text) > MAX_CAPTION:  # said first, the file follows bare
                for part in split_text(text):
                    await _send(bot, chat_id, {"chat_id": chat_id, "text": part}, lane, newest)
                caption = None
            message = await bot.send_document(
                chat_id,
                reply.document,
                filename=reply.document_name,
                caption=caption,
                rate_limit_args=lane,
            )
            if newest is not None:
                newest.saw(chat_id, message.message_id)
            continue
        parts = split_text(text)
        for number, part in enumerate(parts, start=1):
            params: dict[str, Any] = {"chat_id": chat_id, "text": part}
            if keyboard is not None and number == len(parts):
                params["reply_markup"] = keyboard
            if number == 1 and reply.edit and editable is not None and _edits_in_place(keyboard):
                target, editable = editable, None
                if await _edit(bot, {**params, "message_id": target.message_id}, lane):
                    continue
            await _send(bot, chat_id, params, lane, newest)


async def _send(
    bot: ExtBot[Any],
    chat_id: int,
    params: dict[str, Any],
    lane: Lane | None,
    newest: NewestMessages | None,
) -> None:
    """One new message; ``newest`` learns its id."""
    sent = await post(bot, "sendMessage", params, lane)
    if newest is not None and isinstance(sent, dict) and sent.get("message_id"):
        newest.saw(chat_id, int(sent["message_id"]))


async def _edit(bot: ExtBot[Any], params: dict[str, Any], lane: Lane | None) -> bool:
    """Replace the pressed message's text; False when it must be sent anew instead."""
    try:
        await post(bot, "editMessageText", params, lane)
    except BadRequest as exc:
        if "not modified" in str(exc).lower():
            return True
        log.info("could not edit message, sending a new one: %s", exc)
        return False
    return True
