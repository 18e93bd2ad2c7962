"""``/org`` and ``/remind`` in a campaign coordinator's private chat (bot/campaigns/).

Anyone else who types them gets the citizens' handler, as for any unknown command.
Reminders go in the budget's background lane, behind every answer to someone typing.
"""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.flows.events import Reply
from bot.handlers.budget import Lane
from bot.handlers.registration import components, newest_messages, on_private_update
from bot.handlers.render import send_replies
from bot.wiring import Components


async def on_coordinator_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat, user, message = update.effective_chat, update.effective_user, update.message
    if chat is None or user is None or message is None or chat.type != "private":
        return
    parts = components(context)
    command = (message.text or "").lstrip("/").split()[0].split("@")[0].lower()
    coordinator = str(user.id)
    if command == "org":
        replies = await parts.campaigns.progress(coordinator)
        reminders: list[tuple[str, Reply]] = []
    else:
        outcome = await parts.campaigns.remind(coordinator)
        replies, reminders = outcome if outcome is not None else (None, [])
    if replies is None:  # not a coordinator: the citizens' "unknown command"
        await on_private_update(update, context)
        return
    locale = await _locale(parts, f"tg:{user.id}")
    newest = newest_messages(context)
    await send_replies(context.bot, chat.id, replies, locale, parts.translator, newest=newest)
    await asyncio.gather(*(_remind(context, parts, key, r) for key, r in reminders))


async def _locale(parts: Components, user_key: str) -> str:
    conv = await parts.service.conversations.load(user_key)
    return conv.locale if conv is not None else parts.settings.bot_default_locale


async def _remind(
    context: ContextTypes.DEFAULT_TYPE, parts: Components, user_key: str, reminder: Reply
) -> None:
    """A member who blocked the bot since is simply not reached (the report says so)."""
    chat_id = int(user_key.removeprefix("tg:"))
    locale = await _locale(parts, user_key)
    try:
        await send_replies(
            context.bot, chat_id, [reminder], locale, parts.translator, lane=Lane.BACKGROUND
        )
    except TelegramError:
        return
