"""One declaration per BHXH code waits for the agency at a time (issue 10): a second is
not stored; its maker hears the receipt and what to do, anyone else only that one is being
processed; a waiting declaration can be withdrawn from /status."""

from __future__ import annotations

import pytest

from bot.flows.events import Event
from bot.wiring import Components
from storage.declarations import AlreadyPending
from tests.conftest import FakeClock
from tests.story import TYPED_UNTIL_PHONE, Citizen, fill_until_review, photo_bytes, submit


async def submitted(citizen: Citizen) -> str:
    await fill_until_review(citizen)
    await submit(citizen)
    [declaration] = await citizen.parts.service.declarations.for_user(citizen.user_key)
    return declaration.receipt


async def declarations(parts: Components) -> int:
    [(count,)] = await parts.db.fetch("SELECT count(*) FROM declarations")
    return int(count)


async def fill_a_new_declaration(citizen: Citizen) -> None:
    """After a receipt: "new declaration", then the same answers up to the review."""
    await citizen.command("start")
    await citizen.presses("g:new")
    await citizen.answers_in_turn(*TYPED_UNTIL_PHONE, "0983 847 986")
    await citizen.presses("email_choice:yes")
    await citizen.says("an.nguyen@example.com")
    for seed in (4, 5, 6):
        await citizen.sends_photo(photo_bytes(seed=seed))
    await citizen.presses("agency:pick:")


async def test_a_citizen_with_a_declaration_waiting_is_shown_its_receipt_not_a_second_one(
    citizen: Citizen, parts: Components
) -> None:
    receipt = await submitted(citizen)
    await fill_a_new_declaration(citizen)
    sent_before = len(await parts.outbox.latest(limit=50))
    await citizen.presses("review:confirm")
    await citizen.presses("otp:via:email")
    assert citizen.keys == ["pending.own"]
    assert receipt in citizen.text and "23/11/2026" in citizen.text and "/status" in citizen.text
    assert len(await parts.outbox.latest(limit=50)) == sent_before  # no code went out
    assert await citizen.state() == "review"
    assert (await citizen.answers())["full_name"] == "Nguyễn Văn An"  # nothing lost
    assert await declarations(parts) == 1


async def test_anyone_else_is_told_only_that_one_is_being_processed_and_the_hotline(
    citizen: Citizen, parts: Components
) -> None:
    receipt = await submitted(citizen)
    other = Citizen(parts, "tg:2002")
    await fill_until_review(other)
    await other.presses("review:confirm")
    await other.presses("otp:via:email")
    assert other.keys == ["pending.other"]
    assert receipt not in other.text and "1900" in other.text
    assert await other.state() == "review" and await declarations(parts) == 1


async def test_two_drafts_of_one_code_stored_at_once_give_one_receipt(
    parts: Components, clock: FakeClock
) -> None:
    store = parts.service.declarations
    data = {"bhxh_code": "0312345678", "full_name": "Nguyễn Văn An"}
    first = await store.submit("draft-a", "tg:1", "03102", data, clock())
    with pytest.raises(AlreadyPending) as held:
        await store.submit("draft-b", "tg:2", "03102", data, clock())
    assert held.value.pending.receipt == first
    assert await store.submit("draft-a", "tg:1", "03102", data, clock()) == first  # a retry
    assert await declarations(parts) == 1


async def test_a_waiting_declaration_withdrawn_from_status_makes_room_for_a_new_one(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    first = await submitted(citizen)
    await fill_a_new_declaration(citizen)
    await citizen.command("status")
    await citizen.presses(f"g:withdraw:{first}")
    assert citizen.keys == ["withdraw.confirm"]
    await citizen.presses("g:withdrawyes:")
    assert citizen.keys == ["withdraw.done"] and first in citizen.text
    await citizen.command("status")
    assert "đã rút theo yêu cầu của bạn" in citizen.text
    assert not any(b.data.startswith("g:withdraw:") for _, b in citizen.buttons())
    clock.advance(minutes=2)
    await citizen.command("start")  # back to the review, where the draft waited
    await citizen.presses("review:confirm")
    await submit_from_channel_choice(citizen)
    stored = await parts.service.declarations.for_user(citizen.user_key)
    assert [d.status for d in stored] == ["withdrawn", "submitted"]
    assert stored[1].receipt != first


async def submit_from_channel_choice(citizen: Citizen) -> None:
    from tests.story import code_from_outbox

    await citizen.presses("otp:via:email")
    await citizen.says(await code_from_outbox(citizen.parts))
    assert citizen.keys[0] == "otp.accepted"


async def test_no_one_can_withdraw_another_citizens_declaration(
    citizen: Citizen, parts: Components
) -> None:
    receipt = await submitted(citizen)
    intruder = Citizen(parts, "tg:6666")
    await intruder.agrees()
    await intruder.send(Event.pressed(f"g:withdraw:{receipt}"))  # a forged button
    await intruder.presses("g:withdrawyes:")
    assert intruder.keys == ["withdraw.not_possible"]
    [declaration] = await parts.service.declarations.for_user(citizen.user_key)
    assert declaration.status == "submitted"


async def test_an_old_withdraw_button_withdraws_nothing(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    receipt = await submitted(citizen)
    await citizen.command("status")
    await citizen.presses(f"g:withdraw:{receipt}")
    clock.advance(minutes=11)
    await citizen.presses("g:withdrawyes:")
    assert citizen.keys[0] == "err.confirm_expired"
    [declaration] = await parts.service.declarations.for_user(citizen.user_key)
    assert declaration.status == "submitted"
