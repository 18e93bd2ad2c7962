"""Secrets never reach a log line: a filter on the root logger's handlers rewrites every
record, exception text included.

Why a filter and not care at each call: the bot token is in every Bot API URL
(``…/bot<token>/getMe``), which httpx logs, and in the message of PTB's ``InvalidToken``
("The token `…` was rejected"), which PTB logs with its traceback. Those lines are
written by libraries; only a handler filter sees them all (a logger's own filter would
not see records from its children). The known secrets (token, SMTP password, data key)
are replaced wherever they appear, and anything shaped like a bot token too, so a token
from another source (a retyped one, another bot's) is caught as well.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from types import TracebackType

REDACTED = "[redacted]"
#: A Telegram bot token: the bot's id, a colon, ~35 URL-safe characters.
_TOKEN_SHAPE = re.compile(r"(?<![0-9])\d{5,}:[A-Za-z0-9_-]{30,}")  # also in .../bot<token>/
_MIN_SECRET = 8  # shorter "secrets" would blank out ordinary words


class SecretRedactor(logging.Filter):
    """Rewrites a record's message, exception and stack text with the secrets removed."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        known = {*self.secrets, *(s for s in secrets if len(s) >= _MIN_SECRET)}
        # A token's secret part alone (after the colon) is a secret too; longest first.
        known |= {s.split(":", 1)[1] for s in known if _TOKEN_SHAPE.fullmatch(s)}
        self.secrets = sorted(known, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _TOKEN_SHAPE.sub(REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format: keep its parts, redacted, rather than lose it
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            # The formatters use exc_text when it is set, so the traceback is printed once,
            # from this redacted copy.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def install_redaction(secrets: Iterable[str] = ()) -> SecretRedactor:
    """Put one ``SecretRedactor`` on every handler of the root logger (or add ``secrets`` to
    the one already there) and return it."""
    wanted = list(secrets)
    redactor = next(
        (
            f
            for handler in logging.getLogger().handlers
            for f in handler.filters
            if isinstance(f, SecretRedactor)
        ),
        None,
    )
    if redactor is None:
        redactor = SecretRedactor(wanted)
    else:
        redactor.add(wanted)
    for handler in logging.getLogger().handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)
    return redactor


def log_uncaught_exceptions() -> None:
    """An exception nobody caught is logged (so redacted) instead of printed raw by Python."""

    def hook(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, trace)
            return
        logging.getLogger("bot").critical("stopped by an error", exc_info=(kind, error, trace))

    sys.excepthook = hook
