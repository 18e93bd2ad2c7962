"""The ``vssid-bot`` command: ``run`` (Telegram), ``console`` (terminal) and operator tools."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import sys
from typing import TextIO

from bot import event_loop
from bot.settings import Settings
from storage.keyring import DataKeyError

#: Exit status when the data key is missing, malformed or not the one the data was sealed
#: with (``storage/keyring.py``).
EXIT_DATA_KEY = 3

#: Operator sub-commands, each a module of ``bot.cli`` with ``register(subparsers)``.
COMMAND_MODULES = ("bot.cli.scan", "bot.cli.agencies", "bot.cli.outbox", "bot.cli.review")


def _run(args: argparse.Namespace) -> int:
    settings = Settings()
    if settings.telegram_bot_token is None:
        from bot.i18n import Translator

        message = Translator().text(settings.bot_default_locale, "console.no_token")
        print(message, file=sys.stderr)  # noqa: T201
        return 2
    from bot.handlers.app import build_application
    from bot.wiring import build

    # One loop for the bot's whole life: built, polled and closed on it.
    loop = event_loop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        parts = loop.run_until_complete(build(settings))
        application = build_application(settings, parts)
        try:
            application.run_polling(allowed_updates=["message", "callback_query"], close_loop=False)
        finally:
            loop.run_until_complete(parts.close())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
    return 0


def _console(args: argparse.Namespace) -> int:
    from bot.console import run_console

    logging.getLogger().setLevel(logging.WARNING)  # the terminal is the conversation
    return event_loop.run(run_console(Settings()))


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="vssid-bot",
        description="VssID registration assistant: the Telegram bot, the same flow in a "
        "terminal, and operator tools.",
    )
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the Telegram bot (long polling)").set_defaults(func=_run)
    commands.add_parser("console", help="the registration in this terminal").set_defaults(
        func=_console
    )
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        module.register(commands)
    return root


def configure_logging(stream: TextIO | None = None) -> None:
    """INFO for the bot's own news; libraries that narrate every step are kept to warnings
    (transitions logs two lines per answer, httpx one per Bot API call)."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=stream,
        force=True,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except DataKeyError as refused:  # the operator's to fix: the reason, not a traceback
        print(f"vssid-bot: {refused}", file=sys.stderr)  # noqa: T201
        return EXIT_DATA_KEY
    return code


if __name__ == "__main__":
    sys.exit(main())
