"""Shared fixtures: a real SQLite database in a temporary folder, a clock the test moves."""

from __future__ import annotations

import os

# PTB 22 warns when a time period (RetryAfter.retry_after) is read as an int; with
# filterwarnings=error that would turn a 429 into the wrong exception. Opt in to timedelta.
os.environ.setdefault("PTB_TIMEDELTA", "true")

import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.wiring import Components, build
from tests.servers import HttpSink, Inbox, free_port, smtp_server
from tests.story import Citizen

START = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 10:00 in Vietnam


class FakeClock:
    """Time that only moves when a test says so (OTP expiry, lockout)."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "vssid_data_dir": data_dir,
        "telegram_bot_token": None,
        "smtp_host": None,
        "sms_gateway_url": None,
        "vssid_data_key": "11" * 32,
        "vssid_dev_outbox": True,  # a developer's machine: codes show in the dev outbox
        "bot_default_locale": "vi",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """Tests that call ``configure_logging`` (as ``main`` does) point the root logger at
    a stream of their own; the next test gets the logging it started with, not a handler
    writing to a stream that is gone."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    libraries = {name: logging.getLogger(name).level for name in ("httpx", "aiosqlite")}
    yield
    root.setLevel(level)
    root.handlers[:] = handlers
    for name, library_level in libraries.items():
        logging.getLogger(name).setLevel(library_level)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def parts(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Components]:
    components = await build(make_settings(tmp_path), clock)
    yield components
    await components.close()


@pytest.fixture
def citizen(parts: Components) -> Citizen:
    return Citizen(parts, "tg:1001")


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    port = free_port()
    with smtp_server(port) as inbox:
        yield inbox, port


async def build_with_smtp(
    tmp_path: Path, port: int, clock: FakeClock, **settings: object
) -> Components:
    """The bot with a plain-text SMTP server on 127.0.0.1:``port`` (and any other settings)."""
    configured = make_settings(
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        smtp_from="VssID <no-reply@vssid.test>",
        **settings,
    )
    return await build(configured, clock)


@pytest.fixture
async def mailed(
    tmp_path: Path, smtp: tuple[Inbox, int], clock: FakeClock
) -> AsyncIterator[tuple[Components, Inbox]]:
    inbox, port = smtp
    parts = await build_with_smtp(tmp_path, port, clock)
    yield parts, inbox
    await parts.close()


@pytest.fixture
async def sink() -> AsyncIterator[HttpSink]:
    server = await HttpSink().start()
    try:
        yield server
    finally:
        await server.stop()
