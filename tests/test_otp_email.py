"""The one-time code travels by real SMTP (aiosmtpd on 127.0.0.1) when SMTP_HOST is set."""

from __future__ import annotations

import re
from pathlib import Path

from bot.wiring import Components
from tests.conftest import FakeClock, build_with_smtp
from tests.servers import Inbox, free_port
from tests.story import Citizen, fill_until_review


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
