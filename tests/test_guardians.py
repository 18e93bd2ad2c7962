"""Guardians register their children (issue 11): age rules, the child's machine, storage."""

from __future__ import annotations

import io
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from pypdf import PdfReader

from bot.cli import review as review_cli
from bot.flows.conversation import Conversation
from bot.flows.machine import attached, fire
from bot.flows.validators import Invalid, Valid
from bot.guardians.ages import Route, birth_date, route
from bot.guardians.flow import guardian_of
from bot.guardians.machine import CHILD
from bot.masking import mask_number
from bot.wiring import Components, build
from tests.conftest import FakeClock, make_settings
from tests.servers import HttpSink
from tests.story import (
    Citizen,
    code_from_outbox,
    fill_until_review,
    photo_bytes,
    qr_photo,
    submit,
    wrong_codes_until_locked,
)

# 23/11/2026 10:00 in Vietnam; 23/11/2026 00:30 in Vietnam is still 22/11 17:30 in UTC.
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
JUST_AFTER_MIDNIGHT_IN_HANOI = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)


def test_a_birth_date_is_read_in_the_ways_parents_type_it() -> None:
    for typed in ("05/03/2015", "5/3/2015", "05-03-2015", "05.03.2015", " 5 / 3 / 2015 "):
        assert birth_date(typed, NOW) == Valid("2015-03-05"), typed


def test_a_birth_date_in_the_future_is_refused_with_the_reason() -> None:
    result = birth_date("24/11/2026", NOW)
    assert isinstance(result, Invalid) and result.code == "birth_future"


def test_a_birth_date_before_1900_is_refused_with_the_reason() -> None:
    result = birth_date("31/12/1899", NOW)
    assert isinstance(result, Invalid) and result.code == "birth_too_old"


def test_a_date_that_does_not_exist_or_is_not_a_date_is_refused() -> None:
    assert birth_date("30/02/2015", NOW) == Invalid("birth_no_such_day")
    assert birth_date("mùng năm", NOW) == Invalid("birth_format")


def test_the_day_is_vietnams_day_not_utcs() -> None:
    # Born on 23/11 in Hanoi: at 00:30 Hanoi time that is today, not tomorrow.
    assert birth_date("23/11/2026", JUST_AFTER_MIDNIGHT_IN_HANOI) == Valid("2026-11-23")


@pytest.mark.parametrize(
    ("born", "expected"),
    [
        (date(2008, 11, 23), Route.ADULT),  # 18 today, in Vietnam
        (date(2008, 11, 24), Route.ASK_ID_CARD),  # 18 tomorrow
        (date(2012, 11, 23), Route.ASK_ID_CARD),  # 14 today
        (date(2012, 11, 24), Route.GUARDIAN),  # 13 until tomorrow
        (date(2026, 1, 1), Route.GUARDIAN),
    ],
)
def test_the_age_decides_who_registers(born: date, expected: Route) -> None:
    assert route(born, NOW) is expected


def test_a_birthday_counts_from_midnight_in_vietnam(clock: FakeClock) -> None:
    clock.now = JUST_AFTER_MIDNIGHT_IN_HANOI  # already 23/11 in Hanoi
    assert route(date(2008, 11, 23), clock()) is Route.ADULT
    clock.advance(hours=-1)  # 22/11 23:30 in Hanoi: still 17
    assert route(date(2008, 11, 23), clock()) is Route.ASK_ID_CARD


def test_a_child_born_on_29_february_comes_of_age_on_1_march() -> None:
    assert route(date(2008, 2, 29), datetime(2026, 2, 28, 3, tzinfo=UTC)) is Route.ASK_ID_CARD
    assert route(date(2008, 2, 29), datetime(2026, 3, 1, 3, tzinfo=UTC)) is Route.ADULT


# ---------------------------------------------------------------- the child's machine
def _walk(conv: Conversation, *triggers: str) -> list[str]:
    seen = []
    with attached(conv):
        for trigger in triggers:
            assert fire(conv, trigger), f"{trigger} from {conv.state}"
            seen.append(conv.state)
    return seen


def test_a_childs_declaration_asks_the_childs_questions_in_order() -> None:
    conv = Conversation(user_key="tg:1", kind="child")
    assert _walk(conv, "agree", *["advance"] * 8) == [
        "relationship",
        "bhxh_code",
        "full_name",
        "birth_date",
        "gender",
        "portrait",
        "birth_certificate",
        "agency",
        "review",
    ]


def test_a_child_of_14_to_17_is_asked_about_an_id_card_before_going_on() -> None:
    conv = Conversation(user_key="tg:1", kind="child", state="birth_date")
    conv.answers["age_route"] = Route.ASK_ID_CARD.value
    assert _walk(conv, "advance", "advance") == ["id_card_question", "gender"]


def test_a_child_old_enough_to_register_themself_leaves_the_childs_declaration() -> None:
    conv = Conversation(user_key="tg:1", kind="child", state="id_card_question")
    assert _walk(conv, "registers_themself") == ["cancelled"]


def test_an_edit_at_a_childs_review_comes_back_to_the_review() -> None:
    conv = Conversation(user_key="tg:1", kind="child", state="review")
    assert _walk(conv, "edit_birth_certificate", "advance") == ["birth_certificate", "review"]
    assert _walk(conv, "edit_full_name", "advance") == ["full_name", "review"]


def test_a_childs_name_without_diacritics_is_doubted_as_an_adults_is() -> None:
    conv = Conversation(user_key="tg:1", kind="child", state="full_name")
    assert _walk(conv, "doubt", "advance") == ["name_confirm", "birth_date"]


def test_the_childs_machine_has_no_adult_id_card_questions() -> None:
    states = set(CHILD.machine.states)
    assert {"id_number", "id_front", "id_back", "phone", "email"}.isdisjoint(states)
    # ... and its shared steps are the adult's own declarations, not copies.
    assert {"bhxh_code", "full_name", "name_confirm", "portrait", "agency", "review"} <= states


def test_an_adult_conversation_is_still_moved_by_the_adult_machine() -> None:
    conv = Conversation(user_key="tg:1")
    assert _walk(conv, "agree", "advance", "advance") == ["bhxh_code", "full_name", "id_number"]


# ---------------------------------------------------------------- a guardian's story
async def _child_conv(parts: Components, guardian: Citizen) -> Conversation | None:
    keys = await parts.service.conversations.children_of(guardian.user_key)
    return await parts.service.conversations.load(keys[-1]) if keys else None


async def _registered_guardian(citizen: Citizen, clock: FakeClock) -> None:
    """A mother who registered herself through the bot, with her e-mail, a while ago (a
    code to the same address a minute later would wait for the address's turn)."""
    await fill_until_review(citizen, email="me.an@example.com")
    await submit(citizen)
    clock.advance(minutes=30)


async def _child_until_review(
    guardian: Citizen,
    clock: FakeClock,
    name: str = "Nguyễn Minh Khang",
    born: str = "05/03/2015",
    bhxh_code: str | None = None,
) -> None:
    """``bhxh_code``: each child has their own (one declaration per code may wait)."""
    await guardian.command("child")
    await guardian.presses("child:consent:yes")
    await guardian.presses("relationship:mother")
    await guardian.says(bhxh_code or "0398765432")
    await guardian.says(name)
    await guardian.says(born)
    await guardian.presses("gender:male")
    await guardian.sends_photo(photo_bytes(seed=11))
    await guardian.sends_photo(photo_bytes(seed=12))
    await guardian.presses("agency:pick:")
    clock.advance(minutes=5)


async def test_a_guardian_registered_through_the_bot_registers_a_child(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await _registered_guardian(citizen, clock)
    await citizen.command("child")
    assert "me.an@example.com" not in citizen.text  # recognised, not asked again
    assert citizen.keys == ["child.consent"]
    await citizen.presses("child:consent:yes")
    assert citizen.keys[-1] == "child.ask.relationship"
    await citizen.presses("relationship:mother")
    await citizen.says("0398765432")
    await citizen.says("Nguyễn Minh Khang")
    await citizen.says("05/03/2015")
    await citizen.presses("gender:male")
    await citizen.sends_photo(photo_bytes(seed=11))
    assert citizen.keys[-1] == "child.ask.birth_certificate"
    await citizen.sends_photo(photo_bytes(seed=12))
    await citizen.presses("agency:pick:")
    assert citizen.keys[-1] == "child.review.summary"
    clock.advance(minutes=5)
    assert "Nguyễn Minh Khang" in citizen.text and "05/03/2015" in citizen.text
    await citizen.presses("review:confirm")
    [message] = await parts.outbox.latest(limit=1)
    assert message.recipient == "me.an@example.com"  # the code goes to the guardian
    await citizen.says(await code_from_outbox(parts))
    assert "child.receipt" in citizen.keys
    child = await _child_conv(parts, citizen)
    assert child is not None and child.state == "done"
    [declaration] = await parts.service.declarations.for_user(child.user_key)
    assert declaration.data["kind"] == "child"
    assert declaration.data["guardian"]["bhxh_code"] == "0312345678"
    assert declaration.data["relationship"] == "mother"
    assert declaration.data["birth_date"] == "2015-03-05"
    assert "birth_certificate" in declaration.data
    # The guardian's own conversation is untouched: /start shows her own receipt again.
    assert await citizen.state() == "done"


async def test_a_person_of_18_is_told_to_register_themself(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await _registered_guardian(citizen, clock)
    await citizen.command("child")
    await citizen.presses("child:consent:yes")
    await citizen.presses("relationship:father")
    await citizen.says("0398765432")
    await citizen.says("Trần Văn Bình")
    await citizen.says("23/11/2008")  # 18 today, in Vietnam
    assert citizen.keys == ["child.adult_registers_themself"]
    await citizen.says("hello")  # back in her own (finished) conversation
    assert await citizen.state() == "done"


async def test_a_16_year_old_with_an_id_card_registers_themself(
    citizen: Citizen, clock: FakeClock
) -> None:
    await _registered_guardian(citizen, clock)
    await citizen.command("child")
    await citizen.presses("child:consent:yes")
    await citizen.presses("relationship:mother")
    await citizen.says("0398765432")
    await citizen.says("Trần Thị Cúc")
    await citizen.says("01/01/2010")
    assert citizen.keys == ["child.ask.id_card_question"]
    await citizen.presses("id_card_question:yes")
    assert citizen.keys == ["child.has_id_card_registers_themself"]


async def test_a_wrong_birth_date_is_refused_with_the_reason_and_asked_again(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await _registered_guardian(citizen, clock)
    await citizen.command("child")
    await citizen.presses("child:consent:yes")
    await citizen.presses("relationship:mother")
    await citizen.says("0398765432")
    await citizen.says("Trần Thị Cúc")
    await citizen.says("01/01/2030")
    assert citizen.keys == ["err.birth_future"] and "23/11/2026" in citizen.text
    await citizen.says("01/01/1890")
    assert citizen.keys[0] == "err.birth_too_old" and "1900" in citizen.text
    child = await _child_conv(parts, citizen)
    assert child is not None and child.state == "birth_date"
    assert child.answers["full_name"] == "Trần Thị Cúc"  # nothing lost


async def test_two_children_one_after_another_each_with_their_receipt_in_status(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await _registered_guardian(citizen, clock)
    for name, code in (("Nguyễn Minh Khang", "0398765432"), ("Nguyễn Thu Hà", "0398765433")):
        await _child_until_review(citizen, clock, name=name, bhxh_code=code)
        await citizen.presses("review:confirm")
        await citizen.says(await code_from_outbox(parts))
        assert "child.receipt" in citizen.keys
    await citizen.command("status")
    listed = citizen.text
    assert "Khang" in listed and "Hà" in listed
    assert len([k for k in citizen.keys if k == "status.child"]) == 2


async def test_cancel_drops_one_childs_draft_and_keeps_the_others(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await _registered_guardian(citizen, clock)
    await _child_until_review(citizen, clock, name="Nguyễn Minh Khang")
    await citizen.presses("review:confirm")
    await citizen.says(await code_from_outbox(parts))
    await _child_until_review(citizen, clock, name="Nguyễn Thu Hà")
    await citizen.command("cancel")
    await citizen.presses("g:cancel:yes")
    assert citizen.keys == ["cancel.done"]
    remaining = await parts.service.conversations.children_of(citizen.user_key)
    assert len(remaining) == 1
    kept = await parts.service.conversations.load(remaining[0])
    assert kept is not None and kept.state == "done"
    assert await citizen.state() == "done"  # her own declaration too


async def test_deletemydata_removes_the_guardian_and_the_childrens_drafts(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await _registered_guardian(citizen, clock)
    await _child_until_review(citizen, clock, name="Nguyễn Thu Hà")
    await citizen.command("deletemydata")
    await citizen.presses("g:erase:yes")
    assert await parts.service.conversations.children_of(citizen.user_key) == []
    rows = await parts.db.fetch(
        "SELECT count(*) FROM photos WHERE substr(user_key, 1, 8) = ?", ("tg:1001/",)
    )
    assert rows == [(0,)]


# ---------------------------------------------------------------- what the agency sees
async def _child_submitted(citizen: Citizen, parts: Components, clock: FakeClock) -> str:
    await _registered_guardian(citizen, clock)
    await _child_until_review(citizen, clock)
    await citizen.presses("review:confirm")
    await citizen.says(await code_from_outbox(parts))
    await parts.service.drain()  # the PDF follows the receipt
    child = await _child_conv(parts, citizen)
    assert child is not None
    [declaration] = await parts.service.declarations.for_user(child.user_key)
    return declaration.receipt


async def test_the_agency_endpoint_is_told_the_declaration_is_a_childs_with_its_guardian(
    tmp_path: Path, clock: FakeClock, sink: HttpSink
) -> None:
    parts = await build(make_settings(tmp_path, submission_url=sink.url), clock)
    try:
        receipt = await _child_submitted(Citizen(parts, "tg:1001"), parts, clock)
        for _ in range(3):
            await parts.worker.run_once(clock())
        [payload] = [p for _, p in sink.requests if p["receipt"] == receipt]
    finally:
        await parts.close()
    declaration = payload["declaration"]
    assert declaration["kind"] == "child"
    assert declaration["guardian"]["bhxh_code"] == "0312345678"
    assert declaration["relationship"] == "mother"
    assert "birth_certificate" not in declaration  # photo ids stay home


async def test_the_review_queue_shows_a_childs_declaration_with_the_guardian(
    citizen: Citizen, parts: Components, clock: FakeClock, capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = await _child_submitted(citizen, parts, clock)
    capsys.readouterr()
    await review_cli._list(parts, None, full=False)
    [line] = [x for x in capsys.readouterr().out.splitlines() if receipt in x]
    assert "CHILD" in line and "mother" in line
    assert "0312345678" not in line and "0398765432" not in line  # masked for staff
    assert mask_number("0312345678") in line  # the guardian's code, as staff see codes


async def test_a_childs_pdf_names_the_guardian_as_the_person_declaring(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    receipt = await _child_submitted(citizen, parts, clock)
    pdf = await parts.service.declarations.document(receipt, "vi")
    assert pdf is not None
    text = unicodedata.normalize(
        "NFC", "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    )
    assert "Nguyễn Minh Khang" in text and "05/03/2015" in text
    declarer = text.split("Người kê khai (xác nhận bằng mã OTP)")[-1]
    assert "Nguyễn Văn An" in declarer  # the mother signs, not the child
    assert "Mẹ" in text


async def test_the_copy_of_a_childs_declaration_goes_to_the_guardians_email(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    receipt = await _child_submitted(citizen, parts, clock)
    for _ in range(3):
        await parts.worker.run_once(clock())
    copies = [m for m in await parts.outbox.latest(limit=10) if receipt in m.subject]
    assert [m.recipient for m in copies] == ["me.an@example.com"]


# ---------------------------------------------------------------- everything the adult has
async def test_the_guardians_receipt_and_start_offer_to_register_a_child(
    citizen: Citizen, clock: FakeClock
) -> None:
    await fill_until_review(citizen, email="me.an@example.com")
    await submit(citizen)
    assert "child:start" in [b.data for _, b in citizen.buttons()]
    await citizen.command("start")
    await citizen.presses("child:start")
    assert citizen.keys == ["child.consent"]


async def test_a_restart_in_the_middle_of_a_childs_registration_resumes_it(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await _registered_guardian(citizen, clock)
    await citizen.command("child")
    await citizen.presses("child:consent:yes")
    await citizen.presses("relationship:mother")
    await citizen.says("0398765432")
    parts.service.conversations.forget_cache()  # the bot restarts: only SQLite remains
    await citizen.command("start")
    assert citizen.keys == ["start.resume", "child.ask.full_name"]
    await citizen.says("Nguyễn Minh Khang")
    child = await _child_conv(parts, citizen)
    assert child is not None and child.state == "birth_date"
    assert child.answers["bhxh_code"] == "0398765432"


async def test_wrong_codes_for_a_childs_declaration_follow_the_adults_limits(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await _registered_guardian(citizen, clock)
    await _child_until_review(citizen, clock)
    await citizen.presses("review:confirm")
    right = await code_from_outbox(parts)
    await wrong_codes_until_locked(citizen, right)
    await citizen.says(right)  # locked: even the right code waits
    assert "child.receipt" not in citizen.keys


async def test_a_quiet_childs_draft_expires_and_the_guardian_is_told_in_her_chat(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await _registered_guardian(citizen, clock)
    await citizen.command("child")
    await citizen.presses("child:consent:yes")
    await citizen.presses("relationship:mother")
    clock.advance(days=11)
    notices = await parts.service.sweep()
    expired = [n for n in notices if any(r.key == "draft.expired" for r in n.replies)]
    assert [guardian_of(n.user_key) for n in expired] == [citizen.user_key]
    assert await parts.service.conversations.children_of(citizen.user_key) == []
    await citizen.says("hello")  # her own conversation again
    assert await citizen.state() == "done"


# ---------------------------------------------------------------- the child's BHYT card
def _child_card(born: str = "05/03/2015", parent: str = "Nguyễn Văn An") -> bytes:
    """A photo of a new child's BHYT card: its QR names a parent (synthetic data)."""
    fields = [
        "0398765432",
        "Nguyễn Minh Khang".encode().hex(),
        born,
        "1",
        "-",
        "31 - 123",
        "01/01/2025",
        "-",
        "15/01/2025",
        "03150398765432",
        parent.encode().hex(),
        "4",
        "01/01/2030",
        "0123456789abcdef-1234",
        "4",
        "Quận Ngô Quyền, Thành phố Hải Phòng".encode().hex(),
        "$",
    ]
    return qr_photo("|".join(fields))


async def _at_childs_code(citizen: Citizen, clock: FakeClock) -> None:
    await _registered_guardian(citizen, clock)
    await citizen.command("child")
    await citizen.presses("child:consent:yes")
    await citizen.presses("relationship:father")


async def test_a_childs_bhyt_card_photo_fills_code_name_birth_date_and_gender(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await _at_childs_code(citizen, clock)
    await citizen.sends_photo(_child_card())
    assert "Nguyễn Minh Khang" in citizen.text and "05/03/2015" in citizen.text
    await citizen.presses("bhxh_code:card:yes")
    assert citizen.keys[-1] == "child.ask.portrait"
    child = await _child_conv(parts, citizen)
    assert child is not None
    assert child.answers["bhxh_code"] == "0398765432"
    assert child.answers["full_name"] == "Nguyễn Minh Khang"
    assert child.answers["birth_date"] == "2015-03-05"
    assert child.answers["gender"] == "male"


async def test_a_parent_on_the_card_other_than_the_guardian_is_pointed_out(
    citizen: Citizen, clock: FakeClock
) -> None:
    await _at_childs_code(citizen, clock)
    await citizen.sends_photo(_child_card(parent="Lê Thị Hoa"))
    await citizen.presses("bhxh_code:card:yes")
    assert "child.parent_differs" in citizen.keys
    assert "Lê Thị Hoa" in citizen.text and "Nguyễn Văn An" in citizen.text
    await citizen.sends_photo(photo_bytes(seed=21))  # the registration goes on
    assert citizen.keys[-1] == "child.ask.birth_certificate"


async def test_a_card_showing_an_adult_sends_them_to_register_themself(
    citizen: Citizen, clock: FakeClock
) -> None:
    await _at_childs_code(citizen, clock)
    await citizen.sends_photo(_child_card(born="01/01/2000"))
    await citizen.presses("bhxh_code:card:yes")
    assert citizen.keys[-1] == "child.adult_registers_themself"
