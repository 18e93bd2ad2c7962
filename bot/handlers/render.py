"""Shows the flow's ``Reply`` values in Telegram: keyboards, edits of the pressed message."""

from __future__ import annotations

import logging

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from telegram.error import BadRequest
from telegram.ext import ExtBot

from bot.flows.events import Reply
from bot.i18n import Translator

log = logging.getLogger(__name__)
Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | None


def markup(reply: Reply, lang: str, translator: Translator) -> Markup:
    if reply.buttons:
        return InlineKeyboardMarkup(
            [
                [InlineKeyboardButton(translator.label(lang, b), callback_data=b.data) for b in row]
                for row in reply.buttons
            ]
        )
    if reply.keyboard == "contact":
        label = translator.text(lang, "btn.share_phone")
        return ReplyKeyboardMarkup(
            [[KeyboardButton(label, request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    if reply.keyboard == "remove":
        return ReplyKeyboardRemove()
    return None


_PLAIN = Reply("")
MAX_TEXT = 4096


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
        if pending and (reply.edit or reply.document is not None or len(merged) > MAX_TEXT):
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
    """Send in order; the first ``edit`` reply replaces the message whose button was pressed."""
    editable = query.message if query is not None else None
    for reply, text in joined(replies, lang, translator):
        keyboard = markup(reply, lang, translator)
        if (
            reply.edit
            and editable is not None
            and not isinstance(keyboard, ReplyKeyboardMarkup | ReplyKeyboardRemove)
        ):
            target, editable = editable, None
            try:
                await bot.edit_message_text(
                    text,
                    chat_id=chat_id,
                    message_id=target.message_id,
                    reply_markup=keyboard,
                )
                continue
            except BadRequest as exc:
                if "not modified" in str(exc).lower():
                    continue
                log.info("could not edit message, sending a new one: %s", exc)
        if reply.document is not None:
            await bot.send_document(
                chat_id, reply.document, filename=reply.document_name, caption=text[:1024]
            )
            continue
        await bot.send_message(chat_id, text, reply_markup=keyboard)
