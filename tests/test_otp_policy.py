"""The one-time code keeps its promises: it is bound to where it was sent, one address gets
at most one code a minute however many accounts ask at once, a lock follows the address,
a failed delivery costs the citizen no waiting, and e-mails are dated like real mail."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from bot.flows import otp
from bot.wiring import Components, build
from tests.conftest import FakeClock, build_with_smtp, make_settings
from tests.servers import HttpSink, Inbox, free_port, smtp_server
from tests.story import Citizen, code_from_outbox, fill_until_review

PHONE_A = "+84983847986"  # what fill_until_review types ("0983 847 986")


def six_digits(text: str) -> str:
    found = re.search(r"\b(\d{6})\b", text)
    assert found, text
    return found.group(1)


async def change_phone(citizen: Citizen, typed: str) -> None:
    """From the code step back to the review, a new phone number, and confirm again."""
    await citizen.presses("otp:change")
    await citizen.presses("review:edit:phone")
    await citizen.says(typed)
    assert await citizen.state() == "review"
    await citizen.presses("review:confirm")


# ------------------------------------------------------------------ bound to the destination


async def test_a_code_sent_to_phone_a_does_not_verify_phone_b(
    citizen: Citizen, parts: Components
) -> None:
    await fill_until_review(citizen, email=None)
    await citizen.presses("review:confirm")
    code_for_a = await code_from_outbox(parts)
    await change_phone(citizen, "0912 345 678")
    # Phone B has never had a code: it gets one at once, A's one-minute wait is A's.
    assert citizen.keys[-1] == "otp.sent_sms"
    [sms] = await parts.outbox.latest(limit=1)
    assert sms.recipient == "+84912345678"
    code_for_b = six_digits(sms.body)
    if code_for_b != code_for_a:  # one chance in a million that both are the same
        await citizen.says(code_for_a)  # A's code is no code of B's
        assert citizen.keys == ["otp.wrong"]
        assert await citizen.state() == "otp"
    await citizen.says(code_for_b)
    assert await citizen.state() == "done"


async def test_a_code_stays_void_even_when_the_new_phone_must_wait(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    """Five codes this hour: no code for phone B yet, and A's last code is dead anyway."""
    await fill_until_review(citizen, email=None)
    await citizen.presses("review:confirm")
    for _ in range(otp.RESENDS_PER_HOUR - 1):
        clock.advance(minutes=1, seconds=1)
        await citizen.presses("otp:resend")
        assert citizen.keys[0] == "otp.sent_sms"
    code_for_a = await code_from_outbox(parts)
    await change_phone(citizen, "0912 345 678")
    assert citizen.keys[-1] == "otp.wait"
    await citizen.says(code_for_a)
    assert citizen.keys == ["otp.destination_changed"]
    assert "Gửi lại mã" in citizen.text
    assert await citizen.state() == "otp"


async def test_a_code_sent_to_one_email_does_not_verify_another(
    citizen: Citizen, parts: Components
) -> None:
    await fill_until_review(citizen, email="mai.le@example.com")
    await citizen.presses("review:confirm")
    await citizen.presses("otp:via:email")
    old_code = await code_from_outbox(parts)
    await citizen.presses("otp:change")
    await citizen.presses("review:edit:email")
    await citizen.presses("email_choice:yes")
    await citizen.says("lan.tran@example.com")
    assert await citizen.state() == "review"
    await citizen.presses("review:confirm")
    assert citizen.keys[-1] == "otp.sent_email"
    new_code = await code_from_outbox(parts)
    if new_code != old_code:
        await citizen.says(old_code)
        assert citizen.keys == ["otp.wrong"]
    await citizen.says(new_code)
    assert await citizen.state() == "done"


async def test_choosing_sms_voids_the_code_sent_by_email(
    citizen: Citizen, parts: Components
) -> None:
    await fill_until_review(citizen)
    await citizen.presses("review:confirm")
    await citizen.presses("otp:via:email")
    by_email = await code_from_outbox(parts)
    await citizen.presses("otp:via:sms")  # at once: the phone has had no code
    assert citizen.keys[0] == "otp.sent_sms"
    [sms] = await parts.outbox.latest(limit=1)
    assert sms.channel == "sms" and sms.recipient == PHONE_A
    by_sms = six_digits(sms.body)
    if by_sms != by_email:
        await citizen.says(by_email)
        assert citizen.keys == ["otp.wrong"]
    await citizen.says(by_sms)
    assert await citizen.state() == "done"


def test_an_address_is_one_address_however_it_is_written() -> None:
    secret = b"k" * 32
    key = otp.destination_key
    assert key(secret, "email", "An.Nguyen@Example.com") == key(
        secret, "email", "an.nguyen@example.com"
    )
    assert (
        key(secret, "sms", "0912345678")
        == key(secret, "sms", "+84912345678")
        == key(secret, "sms", "+84 912 345 678")
    )
    assert key(secret, "sms", "0912345678") != key(secret, "sms", "0912345679")
    assert key(secret, "email", "a@example.com") != key(secret, "sms", "a@example.com")
    assert "912345678" not in key(secret, "sms", "0912345678")  # a keyed hash, not the number


# ------------------------------------------------------------------ per-address limits


async def test_five_accounts_confirming_at_once_send_one_sms_to_their_shared_number(
    tmp_path: Path, clock: FakeClock, sink: HttpSink
) -> None:
    parts = await build(make_settings(tmp_path, sms_gateway_url=sink.url), clock)
    try:
        citizens = [Citizen(parts, f"tg:50{n:02d}") for n in range(5)]
        for citizen in citizens:
            await fill_until_review(citizen, email=None)  # all give the same phone
        await asyncio.gather(*(c.presses("review:confirm") for c in citizens))
        assert [payload["to"] for _, payload in sink.requests] == [PHONE_A]
        heard = sorted(c.keys[-1] for c in citizens)
        assert heard == ["otp.address_busy"] * 4 + ["otp.sent_sms"]
    finally:
        await parts.close()


async def test_an_e_mail_written_in_capitals_is_the_same_address(
    parts: Components, clock: FakeClock
) -> None:
    first, second = Citizen(parts, "tg:5101"), Citizen(parts, "tg:5102")
    await fill_until_review(first, email="an.nguyen@example.com")
    await fill_until_review(second, email="An.Nguyen@Example.com")
    for citizen in (first, second):
        await citizen.presses("review:confirm")
        await citizen.presses("otp:via:email")
    assert first.keys[0] == "otp.sent_email"
    assert second.keys[0] == "otp.address_busy"
    assert len([m for m in await parts.outbox.latest() if m.channel == "email"]) == 1


# ------------------------------------------------------------------ the lock follows the address


async def lock_out(citizen: Citizen, parts: Components) -> None:
    """Five wrong tries on the code just sent."""
    good = await code_from_outbox(parts)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(otp.MAX_WRONG):
        await citizen.says(wrong)
    assert citizen.keys[0] == "otp.locked"


async def test_cancel_and_start_again_does_not_lift_the_lock(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await fill_until_review(citizen, email=None)
    await citizen.presses("review:confirm")
    await lock_out(citizen, parts)
    clock.advance(minutes=2)  # past the one-minute wait, well inside the 15-minute lock
    await citizen.command("cancel")
    await citizen.presses("g:cancel:yes")
    assert await citizen.state() == "(nothing stored)"
    sent = len(await parts.outbox.latest())  # /cancel erased the copies of earlier codes
    await fill_until_review(citizen, email=None)
    await citizen.presses("review:confirm")
    assert citizen.keys[-1] == "otp.locked"
    assert "10:15" in citizen.text  # locked at 10:00 Vietnam time, for 15 minutes
    assert len(await parts.outbox.latest()) == sent  # no code went out
    clock.advance(minutes=13, seconds=1)
    await citizen.presses("otp:resend")
    assert citizen.keys[0] == "otp.sent_sms"
    await citizen.says(await code_from_outbox(parts))
    assert await citizen.state() == "done"


async def test_a_locked_address_refuses_codes_held_by_other_accounts(
    parts: Components, clock: FakeClock
) -> None:
    """Another account's valid code to the same address cannot be used to keep guessing."""
    holder, guesser = Citizen(parts, "tg:5201"), Citizen(parts, "tg:5202")
    await fill_until_review(holder, email=None)
    await holder.presses("review:confirm")
    held = await code_from_outbox(parts)
    clock.advance(minutes=1, seconds=1)
    await fill_until_review(guesser, email=None)
    await guesser.presses("review:confirm")
    await lock_out(guesser, parts)
    await holder.says(held)
    assert holder.keys[0] == "otp.locked"
    assert await holder.state() == "otp"


async def test_the_lock_of_one_e_mail_leaves_other_addresses_free(
    parts: Components, clock: FakeClock
) -> None:
    locked, other = Citizen(parts, "tg:5301"), Citizen(parts, "tg:5302")
    await fill_until_review(locked, email="mai.le@example.com")
    await locked.presses("review:confirm")
    await locked.presses("otp:via:email")
    await lock_out(locked, parts)
    await fill_until_review(other, email="lan.tran@example.com")
    await other.presses("review:confirm")
    await other.presses("otp:via:email")
    assert other.keys[0] == "otp.sent_email"


# ------------------------------------------------------------------ failed deliveries


async def test_a_failed_sms_can_be_retried_at_once(
    tmp_path: Path, clock: FakeClock, sink: HttpSink
) -> None:
    sink.script = [503]
    parts = await build(make_settings(tmp_path, sms_gateway_url=sink.url), clock)
    try:
        citizen = Citizen(parts, "tg:5401")
        await fill_until_review(citizen, email=None)
        await citizen.presses("review:confirm")
        assert citizen.keys[-1] == "otp.send_failed"
        await citizen.presses("otp:resend")  # the clock has not moved
        assert citizen.keys[0] == "otp.sent_sms"
        assert len(sink.requests) == 2
        await citizen.says(six_digits(sink.requests[-1][1]["text"]))
        assert await citizen.state() == "done"
    finally:
        await parts.close()


async def test_when_e_mail_fails_the_citizen_can_switch_to_sms_at_once(
    tmp_path: Path, clock: FakeClock, sink: HttpSink
) -> None:
    # Nothing listens on the free port: the mail server is down.
    parts = await build_with_smtp(tmp_path, free_port(), clock, sms_gateway_url=sink.url)
    try:
        citizen = Citizen(parts, "tg:5402")
        await fill_until_review(citizen)
        await citizen.presses("review:confirm")
        await citizen.presses("otp:via:email")
        assert citizen.keys[0] == "otp.send_failed"
        await citizen.presses("otp:via:sms")
        assert citizen.keys[0] == "otp.sent_sms"
        await citizen.says(six_digits(sink.requests[-1][1]["text"]))
        assert await citizen.state() == "done"
    finally:
        await parts.close()


class RefusingInbox(Inbox):
    """A mail server that knows no such mailbox."""

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"


@pytest.fixture
def refusing_smtp() -> Iterator[int]:
    port = free_port()
    with smtp_server(port, RefusingInbox()):
        yield port


async def test_the_log_says_why_an_e_mail_failed_with_the_address_masked(
    tmp_path: Path, clock: FakeClock, refusing_smtp: int, caplog: pytest.LogCaptureFixture
) -> None:
    parts = await build_with_smtp(tmp_path, refusing_smtp, clock)
    caplog.set_level(logging.INFO)  # aiosqlite logs SQL parameters at DEBUG
    try:
        citizen = Citizen(parts, "tg:5403")
        await fill_until_review(citizen, email="mai.le@example.com")
        await citizen.presses("review:confirm")
        await citizen.presses("otp:via:email")
        assert citizen.keys[0] == "otp.send_failed"
    finally:
        await parts.close()
    [line] = [r.getMessage() for r in caplog.records if "code delivery" in r.getMessage()]
    assert "550" in line and "User unknown" in line
    assert "m***@example.com" in line
    ours = [r.getMessage() for r in caplog.records if r.name != "mail.log"]  # not the server's
    assert not [m for m in ours if "mai.le@example.com" in m]


async def test_the_log_says_why_an_sms_failed_with_the_number_masked(
    tmp_path: Path, clock: FakeClock, sink: HttpSink, caplog: pytest.LogCaptureFixture
) -> None:
    sink.default = 503
    parts = await build(make_settings(tmp_path, sms_gateway_url=sink.url), clock)
    caplog.set_level(logging.INFO)  # aiosqlite logs SQL parameters at DEBUG
    try:
        citizen = Citizen(parts, "tg:5404")
        await fill_until_review(citizen, email=None)
        await citizen.presses("review:confirm")
        assert citizen.keys[-1] == "otp.send_failed"
    finally:
        await parts.close()
    [line] = [r.getMessage() for r in caplog.records if "code delivery" in r.getMessage()]
    assert "503" in line and "sms" in line
    assert "+8498****986" in line
    assert PHONE_A not in caplog.text and "983847986" not in caplog.text


# ------------------------------------------------------------------ e-mail headers


async def test_a_code_e_mail_is_dated_by_the_clock_and_has_a_message_id(
    tmp_path: Path, clock: FakeClock
) -> None:
    port = free_port()
    with smtp_server(port) as inbox:
        parts = await build_with_smtp(tmp_path, port, clock)
        try:
            citizen = Citizen(parts, "tg:5501")
            await fill_until_review(citizen, email="mai.le@example.com")
            await citizen.presses("review:confirm")
            first_sent = clock.now
            await citizen.presses("otp:via:email")
            clock.advance(minutes=1, seconds=1)
            await citizen.presses("otp:resend")
        finally:
            await parts.close()
    first, second = inbox.messages
    assert parsedate_to_datetime(first["Date"]) == first_sent
    assert parsedate_to_datetime(second["Date"]) == clock.now
    ids = [m["Message-ID"] for m in (first, second)]
    assert all(re.fullmatch(r"<[^<>@\s]+@vssid\.test>", i) for i in ids), ids
    assert ids[0] != ids[1]
