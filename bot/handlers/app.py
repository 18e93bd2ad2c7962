"""Builds the python-telegram-bot ``Application`` around the service."""

from __future__ import annotations

import logging

from telegram import BotCommand
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot.handlers.budget import TelegramBudget
from bot.handlers.helpdesk import citizen_gate, on_staff_message, sweep_helpdesk
from bot.handlers.org import on_coordinator_command
from bot.handlers.registration import on_error, on_private_update, sweep_drafts
from bot.handlers.render import NewestMessages
from bot.settings import Settings
from bot.wiring import Components

log = logging.getLogger(__name__)
LONG_POLL_TIMEOUT = 30
COMMANDS = ("start", "register", "child", "status", "cancel", "language", "help", "deletemydata")
SWEEP_EVERY = 300  # seconds between reminder/expiry sweeps; also one at start-up
HELPDESK_EVERY = 60  # seconds between checks for help requests nobody answered in time


def build_application(
    settings: Settings,
    parts: Components,
    *,
    request: BaseRequest | None = None,
    rate_limiter: TelegramBudget | None = None,
) -> Application:
    """The bot's Application. ``request`` and ``rate_limiter`` replace the HTTP transport and
    Telegram's budget (bench/flow.py answers the Bot API in-process; tests scale the budget
    down). The budget must be a ``TelegramBudget``: background sends name its lane."""
    if settings.telegram_bot_token is None:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    root = settings.api_root
    application = (
        Application.builder()
        .token(settings.telegram_bot_token.get_secret_value())
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .request(
            request or HTTPXRequest(connection_pool_size=64, read_timeout=20, write_timeout=60)
        )
        .get_updates_request(request or HTTPXRequest(read_timeout=LONG_POLL_TIMEOUT + 10))
        .rate_limiter(
            rate_limiter or TelegramBudget(background_max_rate=settings.telegram_background_rate)
        )
        .concurrent_updates(True)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    application.bot_data["components"] = parts
    application.bot_data["newest"] = NewestMessages()
    private = filters.ChatType.PRIVATE
    # Text, photos and files first: they are never service messages, and the check of all
    # ~45 kinds of service message then runs only for the rare rest (stickers, voice, …).
    usual = filters.TEXT | filters.PHOTO | filters.Document.ALL
    # A campaign's coordinator (bot/campaigns/); anyone else falls through to the flow.
    application.add_handler(
        CommandHandler(("org", "remind"), on_coordinator_command, filters=private)
    )
    application.add_handler(
        MessageHandler(private & (usual | ~filters.StatusUpdate.ALL), on_private_update)
    )
    application.add_handler(CallbackQueryHandler(on_private_update))
    if settings.staff_chat_id is not None:
        citizens = private & (usual | ~filters.StatusUpdate.ALL)
        _add_helpdesk(application, settings.staff_chat_id, citizens)
    application.add_error_handler(on_error)
    return application


def _add_helpdesk(application: Application, staff_chat: int, citizen: filters.BaseFilter) -> None:
    """The help desk's own adapter (``bot.handlers.helpdesk``): a gate before the citizens'
    handler (group -1) and the staff chat's handler, which sees no private chat."""
    application.add_handler(MessageHandler(citizen, citizen_gate), group=-1)
    application.add_handler(CallbackQueryHandler(citizen_gate, pattern=r"^g:human"), group=-1)
    application.add_handler(MessageHandler(filters.Chat(staff_chat), on_staff_message))


async def _post_init(application: Application) -> None:
    parts: Components = application.bot_data["components"]
    for lang in ("vi", "en"):
        commands = [
            BotCommand(name, parts.translator.text(lang, f"command.{name}")) for name in COMMANDS
        ]
        await application.bot.set_my_commands(commands, language_code=lang)
    if application.job_queue is not None:
        application.job_queue.run_repeating(sweep_drafts, interval=SWEEP_EVERY, first=1)
        if parts.helpdesk is not None:
            application.job_queue.run_repeating(sweep_helpdesk, interval=HELPDESK_EVERY, first=5)
    delivering = parts.delivering()
    await delivering.__aenter__()
    application.bot_data["delivering"] = delivering
    await parts.ready_for_traffic()


async def _post_shutdown(application: Application) -> None:
    """Stop the submission worker; what it had not delivered stays pending in SQLite."""
    parts: Components = application.bot_data["components"]
    await parts.service.drain()  # a PDF still on its way to a citizen
    delivering = application.bot_data.pop("delivering", None)
    if delivering is not None:
        await delivering.__aexit__(None, None, None)
