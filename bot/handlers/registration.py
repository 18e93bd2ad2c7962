"""The one PTB handler of a citizen's private chat: Update → Event → service → replies.

There is deliberately no ConversationHandler: the state lives in SQLite and is written
before the reply is sent (ANCHORS lesson 1); this handler only translates.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes, ExtBot

from bot.flows.events import Event
from bot.guardians.flow import guardian_of
from bot.handlers.budget import Lane
from bot.handlers.events import to_event
from bot.handlers.render import NewestMessages, send_replies
from bot.masking import mask_user
from bot.service import Notice, Outcome
from bot.wiring import Components

log = logging.getLogger(__name__)


def components(context: ContextTypes.DEFAULT_TYPE) -> Components:
    found: Components = context.application.bot_data["components"]
    return found


def newest_messages(context: ContextTypes.DEFAULT_TYPE) -> NewestMessages:
    found: NewestMessages = context.application.bot_data["newest"]
    return found


async def on_private_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or user is None or chat.type != "private" or user.is_bot:
        return
    parts = components(context)
    newest = newest_messages(context)
    query = update.callback_query
    if update.message is not None:
        newest.saw(chat.id, update.message.message_id)

    async def prepare() -> Event | None:
        if query is not None:
            await query.answer()  # stop the button's spinner
        return await to_event(update)

    async def deliver(outcome: Outcome) -> None:
        await send_replies(
            context.bot,
            chat.id,
            outcome.replies,
            outcome.locale,
            parts.translator,
            None if outcome.background else query,
            newest=newest,
            lane=Lane.BACKGROUND if outcome.background else None,
        )

    # Every await happens under the user's lock, taken in arrival order (updates of one
    # user are handled one at a time, different users concurrently).
    await parts.service.handle(f"tg:{user.id}", prepare, deliver)


async def sweep_drafts(context: ContextTypes.DEFAULT_TYPE) -> None:
    """JobQueue tick: reminders and expiry come from the database, so none is lost."""
    await deliver_notices(context.bot, components(context), newest_messages(context))


async def deliver_notices(
    bot: ExtBot[None],
    parts: Components,
    newest: NewestMessages | None = None,
    *,
    only: str | None = None,
) -> None:
    """One sweep: tell each Telegram user what the sweep found for them (``only``: this
    user key alone, e.g. right after an officer's decision).

    The notices are handed to the budget's background lane all at once: it sends them at
    its own pace, behind every reply to someone typing (``bot.handlers.budget``).
    """
    notices = await parts.service.sweep(only=only)
    await asyncio.gather(*(_notify(bot, parts, notice, newest) for notice in notices))


async def _notify(
    bot: ExtBot[None], parts: Components, notice: Notice, newest: NewestMessages | None
) -> None:
    """A stored notice Telegram refuses for this chat (403: the user blocked the bot or
    deleted the account; 400: chat not found) counts an attempt and is parked after a few.
    Any other failure (network, flood control, Telegram down) is not the user's doing: the
    notice is simply tried again at the next sweep."""
    # A child's draft (``bot.guardians``) is told to its guardian's chat.
    channel, _, chat = guardian_of(notice.user_key).partition(":")
    if channel != "tg" or not chat.lstrip("-").isdigit():
        return
    try:
        await send_replies(
            bot,
            int(chat),
            notice.replies,
            notice.locale,
            parts.translator,
            newest=newest,
            lane=Lane.BACKGROUND,
        )
    except (Forbidden, BadRequest) as exc:
        if notice.notice_id is not None:
            await parts.service.notice_refused(notice.notice_id, f"{type(exc).__name__}: {exc}")
        else:
            log.info("could not remind %s: %s", mask_user(notice.user_key), exc)
        return
    except TelegramError as exc:
        log.info("could not notify %s now: %s", mask_user(notice.user_key), exc)
        return
    if notice.notice_id is not None:
        await parts.service.notice_delivered(notice.notice_id)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a failure without the update: PTB's default handler prints the whole update,
    with the citizen's answers and ID numbers in it."""
    user = update.effective_user if isinstance(update, Update) else None
    who = mask_user(f"tg:{user.id}") if user else "-"
    error = context.error
    log.error("update from %s failed: %s", who, type(error).__name__, exc_info=error)
