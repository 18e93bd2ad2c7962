"""Quiet users are reminded, drafts expire after 10 days, /status and /deletemydata."""

from __future__ import annotations

import re

from bot.wiring import Components
from tests.conftest import FakeClock
from tests.story import Citizen, fill_until_review, submit


async def started(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.says("0312345678")


async def test_a_quiet_citizen_is_reminded_after_1_3_and_8_days_in_the_daytime_only(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await started(citizen)  # 10:00 in Vietnam
    clock.advance(hours=23)
    assert await parts.service.sweep() == []
    clock.advance(hours=2)  # a day and an hour of silence, 11:00 in Vietnam
    [notice] = await parts.service.sweep()
    assert notice.user_key == "tg:1001"
    text = parts.translator.reply("vi", notice.replies[0])
    assert "họ và tên" in text and "03/12/2026" in text
    assert await parts.service.sweep() == []  # once is enough
    clock.advance(days=2, hours=10)  # day 3, 21:00 in Vietnam: night
    assert await parts.service.sweep() == []
    clock.advance(hours=12)  # 09:00 the next morning
    assert len(await parts.service.sweep()) == 1
    clock.advance(days=5)
    assert len(await parts.service.sweep()) == 1
    clock.advance(days=1)
    assert await parts.service.sweep() == []  # three reminders at most


async def test_a_draft_expires_after_10_days_with_its_photos(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await fill_until_review(citizen)
    photos = parts.settings.vssid_data_dir / "photos"
    assert len(list(photos.iterdir())) == 3
    clock.advance(days=10, minutes=1)
    notices = await parts.service.sweep()
    assert [n.replies[0].key for n in notices] == ["draft.expired"]
    assert await citizen.state() == "(nothing stored)"
    assert list(photos.iterdir()) == []


async def test_a_citizen_who_comes_back_after_10_days_is_told_and_starts_afresh(
    citizen: Citizen, clock: FakeClock
) -> None:
    await started(citizen)
    for _ in range(9):  # active every day, still the 10-day rule of the portal
        clock.advance(days=1)
        await citizen.command("status")
    clock.advance(days=1)
    await citizen.says("Nguyễn Văn An")
    assert citizen.keys[0] == "draft.expired" and "ask.consent" in citizen.keys


async def test_reminders_survive_a_restart(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await started(citizen)
    parts.service.conversations.forget_cache()
    clock.advance(days=1, hours=1)
    assert len(await parts.service.sweep()) == 1


async def test_status_lists_submitted_declarations(citizen: Citizen, parts: Components) -> None:
    await fill_until_review(citizen)
    await submit(citizen)
    await citizen.command("status")
    assert "chờ cơ quan BHXH xét duyệt" in citizen.text
    assert re.search(
        r"Tờ khai \d{5}\.GD/2026/\d+ – cơ quan \d+ – nộp ngày 23/11/2026", citizen.text
    )


async def test_delete_my_data_erases_the_draft_and_consent(
    citizen: Citizen, parts: Components
) -> None:
    await fill_until_review(citizen)
    await citizen.command("deletemydata")
    await citizen.presses("g:erase:yes")
    assert await citizen.state() == "(nothing stored)"
    assert await parts.db.fetch("SELECT * FROM consents") == []
    assert list((parts.settings.vssid_data_dir / "photos").iterdir()) == []


async def test_delete_my_data_keeps_a_submitted_declaration_and_says_so(
    citizen: Citizen, parts: Components
) -> None:
    await fill_until_review(citizen)
    await submit(citizen)
    await citizen.command("deletemydata")
    await citizen.presses("g:erase:yes")
    assert "erase.kept" in citizen.keys and "cơ quan BHXH phải lưu" in citizen.text
    assert len(await parts.service.declarations.for_user("tg:1001")) == 1
    assert await parts.outbox.latest() == []
