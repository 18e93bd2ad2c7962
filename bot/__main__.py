"""The ``vssid-bot`` command: ``run`` (Telegram), ``console`` (terminal) and operator tools."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import sys
from typing import TextIO

from bot import event_loop, preflight
from bot.log_redaction import install_redaction, log_uncaught_exceptions
from bot.settings import Settings
from storage.keyring import DataKeyError

#: Exit status when the data key is missing, malformed or not the one the data was sealed
#: with (``storage/keyring.py``).
EXIT_DATA_KEY = 3

#: Operator sub-commands, each a module of ``bot.cli`` with ``register(subparsers)``.
COMMAND_MODULES = (
    "bot.cli.scan",
    "bot.cli.agencies",
    "bot.cli.outbox",
    "bot.cli.review",
    "bot.cli.audit",
    "bot.cli.org",
)


def _secrets(settings: Settings) -> list[str]:
    """What must never be printed: the token, the SMTP password, the data key."""
    held = (settings.telegram_bot_token, settings.smtp_password, settings.vssid_data_key)
    return [secret.get_secret_value() for secret in held if secret is not None]


def _say(settings: Settings, key: str) -> None:
    """One line for the operator, in the bot's default language, on stderr."""
    from bot.i18n import Translator

    print(Translator().text(settings.bot_default_locale, key), file=sys.stderr)  # noqa: T201


def _run(args: argparse.Namespace) -> int:
    settings = Settings()
    if settings.telegram_bot_token is None:
        _say(settings, "console.no_token")
        return 2
    install_redaction(_secrets(settings))
    if not preflight.has_carrier(settings):
        _say(settings, "console.no_carrier")
        return 2
    log_uncaught_exceptions()
    preflight.announce(settings)
    from telegram.error import InvalidToken

    from bot.handlers.app import build_application
    from bot.wiring import build

    # One loop for the bot's whole life: built, polled and closed on it.
    loop = event_loop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        parts = loop.run_until_complete(build(settings))
        try:
            application = build_application(settings, parts)
            try:
                # The token is checked once here (getMe), before run_polling: there PTB
                # logs a rejected token with two tracebacks before it gives up.
                loop.run_until_complete(application.bot.initialize())
                application.run_polling(
                    allowed_updates=["message", "callback_query"], close_loop=False
                )
            except InvalidToken:
                loop.run_until_complete(application.bot.shutdown())
                _say(settings, "console.token_rejected")
                return 2
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
    (transitions logs two lines per answer, httpx one per Bot API call), and aiosqlite
    always: at DEBUG it logs every statement with its parameters, a citizen's answers
    among them, and an operator who turns the root logger up must not read those."""
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=stream,
        force=True,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("transitions").setLevel(logging.WARNING)
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    install_redaction()  # token-shaped text at once; ``run`` adds the configured secrets


#: What a shell reports for a command stopped by a closed pipe (128 + SIGPIPE).
EXIT_BROKEN_PIPE = 128 + 13


def _stop_writing_to_stdout() -> None:
    """The reader is gone: point stdout at the null device, so the interpreter's flush at
    exit does not fail a second time (the recipe of Python's ``signal`` docs; keeping
    SIGPIPE's default action instead would also kill ``run`` on a dropped connection)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    args = parser().parse_args(argv)
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # what is still buffered meets a closed pipe here, not at exit
    except BrokenPipeError:  # ``vssid-bot … | head``: the reader has what it wanted
        _stop_writing_to_stdout()
        return EXIT_BROKEN_PIPE
    except DataKeyError as refused:  # the operator's to fix: the reason, not a traceback
        print(f"vssid-bot: {refused}", file=sys.stderr)  # noqa: T201
        return EXIT_DATA_KEY
    return code


if __name__ == "__main__":
    sys.exit(main())
