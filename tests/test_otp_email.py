"""The one-time code travels by real SMTP (aiosmtpd on 127.0.0.1) when SMTP_HOST is set."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.wiring import Components, build
from tests.conftest import FakeClock, make_settings
from tests.servers import Inbox, free_port, smtp_server
from tests.story import Citizen, fill_until_review


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


async def test_the_code_arrives_by_email_and_is_accepted(
    mailed: tuple[Components, Inbox],
) -> None:
    parts, inbox = mailed
    citizen = Citizen(parts, "tg:2001")
    await fill_until_review(citizen, email="mai.le@example.com")
    await citizen.presses("review:confirm")
    await citizen.presses("otp:via:email")
    [mail] = inbox.messages
    assert mail["To"] == "mai.le@example.com"
    assert mail["Subject"] == "Mã OTP đăng ký VssID"
    body = mail.get_content()
    code = re.search(r"\b\d{6}\b", body)
    assert code and "5 phút" in body
    assert await parts.outbox.latest() == []  # a real carrier: nothing in the dev outbox
    await citizen.says(code.group(0))
    assert "số hồ sơ" in citizen.text


async def test_when_the_mail_server_is_down_the_citizen_is_told_and_can_resend(
    tmp_path: Path, clock: FakeClock
) -> None:
    parts = await build_with_smtp(tmp_path, free_port(), clock)  # nothing listens there
    try:
        citizen = Citizen(parts, "tg:2002")
        await fill_until_review(citizen)
        await citizen.presses("review:confirm")
        await citizen.presses("otp:via:email")
        assert "otp.send_failed" in citizen.keys
        assert await citizen.state() == "otp"
    finally:
        await parts.close()
