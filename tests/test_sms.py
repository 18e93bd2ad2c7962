"""SMS through the gateway (``SMS_GATEWAY_URL``): a JSON POST to a local HTTP sink."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

import bot.notify
from bot.notify import DeliveryError, Notifier
from bot.wiring import build
from storage.db import Database
from storage.outbox import DevOutbox
from tests.conftest import START, FakeClock, make_settings
from tests.servers import HttpSink, free_port
from tests.story import Citizen, fill_until_review


async def notifier_for(tmp_path: Path, url: str) -> tuple[Notifier, Database]:
    db = await Database(tmp_path / "sms.sqlite3").open()
    return Notifier(make_settings(tmp_path, sms_gateway_url=url), DevOutbox(db)), db


async def test_the_gateway_gets_the_number_and_the_text(tmp_path: Path, sink: HttpSink) -> None:
    notifier, db = await notifier_for(tmp_path, sink.url)
    try:
        await notifier.send("sms", "+84983847986", "ignored", "Mã OTP của bạn là 123456", START)
        assert await DevOutbox(db).latest() == []  # sent for real, not kept in the dev outbox
    finally:
        await db.close()
    [(headers, payload)] = sink.requests
    assert payload == {"to": "+84983847986", "text": "Mã OTP của bạn là 123456"}
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("status", [500, 429, 302])
async def test_an_answer_other_than_2xx_is_a_delivery_error(
    tmp_path: Path, sink: HttpSink, status: int
) -> None:
    sink.default = status
    notifier, db = await notifier_for(tmp_path, sink.url)
    try:
        with pytest.raises(DeliveryError, match=str(status)):
            await notifier.send("sms", "+84983847986", "", "text", START)
        assert await DevOutbox(db).latest() == []  # a failure is not hidden in the dev outbox
    finally:
        await db.close()


async def test_an_unreachable_or_slow_gateway_is_a_delivery_error_in_bounded_time(
    tmp_path: Path, sink: HttpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    notifier, db = await notifier_for(tmp_path, f"http://127.0.0.1:{free_port()}/sms")
    try:
        with pytest.raises(DeliveryError, match="unreachable"):
            await notifier.send("sms", "+84983847986", "", "text", START)
    finally:
        await db.close()
    monkeypatch.setattr(bot.notify, "SMS_TIMEOUT", httpx.Timeout(0.2))
    sink.delay = 2.0
    notifier, db = await notifier_for(tmp_path, sink.url)
    try:
        with pytest.raises(DeliveryError, match="Timeout"):
            await notifier.send("sms", "+84983847986", "", "text", START)
    finally:
        await db.close()


async def test_the_code_arrives_by_sms_and_is_accepted(
    tmp_path: Path, clock: FakeClock, sink: HttpSink
) -> None:
    parts = await build(make_settings(tmp_path, sms_gateway_url=sink.url), clock)
    try:
        citizen = Citizen(parts, "tg:4001")
        await fill_until_review(citizen, email=None)  # no e-mail: the code goes by SMS
        await citizen.presses("review:confirm")
        [(_, payload)] = sink.requests
        assert payload["to"] == "+84983847986"
        code = re.search(r"\b\d{6}\b", payload["text"])
        assert code and "5 phút" in payload["text"]
        assert await parts.outbox.latest() == []  # a real carrier: nothing in the dev outbox
        await citizen.says(code.group(0))
        assert await citizen.state() == "done"
    finally:
        await parts.close()


async def test_when_the_gateway_fails_the_citizen_is_told_and_can_resend(
    tmp_path: Path, clock: FakeClock, sink: HttpSink
) -> None:
    sink.default = 500
    parts = await build(make_settings(tmp_path, sms_gateway_url=sink.url), clock)
    try:
        citizen = Citizen(parts, "tg:4002")
        await fill_until_review(citizen, email=None)
        await citizen.presses("review:confirm")
        assert "otp.send_failed" in citizen.keys
        sink.default = 200
        clock.advance(minutes=1, seconds=1)
        await citizen.presses("otp:resend")
        assert len(sink.requests) == 2
        code = re.search(r"\b\d{6}\b", sink.requests[-1][1]["text"])
        assert code
        await citizen.says(code.group(0))
        assert await citizen.state() == "done"
    finally:
        await parts.close()
