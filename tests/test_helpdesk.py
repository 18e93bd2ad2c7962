"""The help desk without Telegram: office hours, the masked card, the queue, the audit, and
what the citizen's flow offers (end to end over HTTP: tests/test_helpdesk_e2e.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.__main__ import main
from bot.flows.conversation import Conversation
from bot.flows.events import Event
from bot.helpdesk import card
from bot.helpdesk.desk import HelpDesk
from bot.helpdesk.hours import DEFAULT_HOURS, OfficeHours
from bot.wiring import Components, build
from storage.helpdesk import HelpRequests
from tests.conftest import FakeClock, make_settings
from tests.story import TYPED_UNTIL_PHONE, Citizen, photo_bytes

HOURS = OfficeHours.parse(DEFAULT_HOURS)


def vietnam(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of November 2026 given in Vietnam time (UTC+7)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


def desk_of(parts: Components, clock: FakeClock) -> HelpDesk:
    return HelpDesk(HelpRequests(parts.db), HOURS, timedelta(minutes=15), clock)


def test_office_hours_are_monday_to_friday_half_past_seven_to_five_in_vietnam() -> None:
    assert HOURS.is_open(vietnam(23, 7, 30))  # Monday
    assert not HOURS.is_open(vietnam(23, 7, 29))
    assert not HOURS.is_open(vietnam(27, 17, 0))  # Friday, closing time
    assert not HOURS.is_open(vietnam(28, 10))  # Saturday
    assert HOURS.describe() == "T2–T6 07:30–17:00"


def test_after_friday_closing_the_next_answer_comes_on_monday_morning() -> None:
    opening = HOURS.next_opening(vietnam(27, 19))
    assert opening == vietnam(30, 7, 30)
    assert HOURS.next_opening(vietnam(24, 6)) == vietnam(24, 7, 30)  # the same morning


@pytest.mark.parametrize("hours", ["Mon-Fri", "Fri-Mon 07:30-17:00", "Mon-Fri 17:00-07:30", "x"])
def test_unreadable_office_hours_are_refused_at_start_up(tmp_path: Path, hours: str) -> None:
    with pytest.raises(ValidationError, match="STAFF_HOURS"):
        make_settings(tmp_path, staff_hours=hours)


def test_the_card_and_topic_name_mask_every_number_and_the_name() -> None:
    conv = Conversation(
        "tg:1",
        state="phone",
        answers={
            "bhxh_code": "0312345678",
            "full_name": "Nguyễn Văn An",
            "id_number": "001099012345",
            "street": "Số 5 Lạch Tray",
            "email": "an.nguyen@example.com",
        },
        attempts={"phone": 3},
    )
    shown = dict(card.filled(conv))
    assert shown == {
        "bhxh_code": "*******678",
        "full_name": "N. V. A.",
        "id_number": "*********345",
        "street": "✓",
        "email": "a***@example.com",
    }
    assert card.failures(conv) == [("phone", 3)]
    assert card.topic_name(conv, "HT-ABCDE") == "N. V. A. · HT-ABCDE"
    assert card.topic_name(None, "HT-ABCDE") == "? · HT-ABCDE"


async def test_the_queue_is_by_waiting_time_and_asking_twice_keeps_ones_place(
    parts: Components, clock: FakeClock
) -> None:
    desk = desk_of(parts, clock)
    first = await desk.ask("tg:1")
    clock.advance(minutes=5)
    second = await desk.ask("tg:2")
    clock.advance(minutes=5)
    again = await desk.ask("tg:1")
    assert (first.position, second.position, again.position) == (1, 2, 1)
    assert again.request.reference == first.request.reference
    queue = [(r.user_key, minutes) for r, minutes in await desk.queue()]
    assert queue == [("tg:1", 10), ("tg:2", 5)]
    await desk.withdraw("tg:1")
    assert [r.user_key for r, _ in await desk.queue()] == ["tg:2"]
    assert (await desk.ask("tg:3")).position == 2


async def test_help_offers_a_person_only_when_a_staff_chat_is_configured(
    citizen: Citizen,
) -> None:
    await citizen.agrees()
    await citizen.command("help")
    assert [b.data for _, b in citizen.buttons()] == []
    citizen.parts.service.flow.staff_desk = True
    await citizen.command("help")
    assert [b.data for _, b in citizen.buttons()] == ["g:human"]
    for _ in range(3):
        await citizen.says("không biết")  # not a BHXH code
    assert [b.data for _, b in citizen.buttons()] == ["g:help", "g:human"]


async def test_delete_my_data_forgets_the_help_request(
    citizen: Citizen, clock: FakeClock
) -> None:
    desk = desk_of(citizen.parts, clock)
    await citizen.agrees()
    await desk.ask(citizen.user_key)
    await citizen.command("deletemydata")
    await citizen.presses("g:erase:yes")
    assert await desk.of_user(citizen.user_key) is None


def test_the_audit_command_lists_staff_actions_by_reference_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clock = FakeClock()
    settings = make_settings(tmp_path)

    async def staff_work() -> str:
        parts = await build(settings, clock)
        try:
            desk = desk_of(parts, clock)
            asked = await desk.ask("tg:424242")
            await desk.audit(555001, "takeover", asked.request)
            clock.advance(minutes=3)
            await desk.audit(555001, "release", asked.request)
            return asked.request.reference
        finally:
            await parts.close()

    reference = asyncio.run(staff_work())
    monkeypatch.setenv("VSSID_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("VSSID_DATA_KEY", "11" * 32)
    assert main(["audit"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"2026-11-23 03:03:00Z  staff 555001       release   {reference}",
        f"2026-11-23 03:00:00Z  staff 555001       takeover  {reference}",
    ]
    assert "424242" not in "".join(lines)


async def test_a_photo_refused_twice_offers_a_person(citizen: Citizen) -> None:
    citizen.parts.service.flow.staff_desk = True
    await citizen.agrees()
    await citizen.answers_in_turn(*TYPED_UNTIL_PHONE, "0983 847 986")
    await citizen.presses("email_choice:no")
    await citizen.sends_photo(photo_bytes(width=100, height=80))  # far too small
    assert "g:human" not in [b.data for _, b in citizen.buttons()]
    await citizen.sends_photo(photo_bytes(width=100, height=80))
    assert [b.data for _, b in citizen.buttons()] == ["g:help", "g:human"]
    assert await citizen.state() == "portrait"


async def test_nobody_can_reopen_a_declaration_that_is_not_their_own_rejected_one(
    citizen: Citizen,
) -> None:
    await citizen.agrees()
    await citizen.send(Event.pressed("g:fix:00001.GD/2026/03102"))
    assert citizen.keys == ["fix.unavailable"]
    assert await citizen.state() == "bhxh_code"
