"""The help desk end to end: citizens in private chats, staff in a forum supergroup, over
HTTP through the Bot API emulator with the real PTB Application."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.handlers.helpdesk import deliver_overdue
from tests.conftest import FakeClock
from tests.emulator import BotApiEmulator, SentMessage
from tests.story import TYPED_UNTIL_PHONE, photo_bytes
from tests.telegram_story import TelegramUser
from tests.test_telegram_e2e import Running, answer_until_review, running_bot, telegram  # noqa: F401 (fixture)

STAFF_CHAT = -1002000000001
AGENT = 555001  # listed in STAFF_USER_IDS and a member of the staff chat
OUTSIDER = 555002  # a member of the chat, not listed
FORMER = 555003  # listed, but no longer in the chat


@dataclass
class Desk:
    """The staff chat as the test sees it."""

    running: Running

    @property
    def emu(self) -> BotApiEmulator:
        return self.running.emu

    def topic_of(self, reference: str) -> int:
        [thread] = [t for t, s in self.emu.topics(STAFF_CHAT).items() if reference in s.name]
        return thread

    def in_topic(self, thread: int) -> list[SentMessage]:
        return [m for m in self.emu.messages(STAFF_CHAT) if m.message_thread_id == thread]

    async def says(self, thread: int, text: str, *, by: int = AGENT) -> None:
        """A staff member writes in a topic; returns once the bot went quiet again."""
        since = self.emu.mark()
        self.emu.send_group_text(STAFF_CHAT, by, text, message_thread_id=thread)
        await self.emu.wait_for(lambda: self.emu.pending_updates == 0, what="update taken")
        # The bot answers somewhere (the topic, the citizen) or, for an outsider, nowhere.
        with suppress(TimeoutError):
            await self.emu.wait_activity(STAFF_CHAT, since=since, timeout=1.5)

    async def citizen_writes(self, user_id: int, thread: int, text: str) -> None:
        """A citizen being helped writes: the words reach the topic, the bot says nothing."""
        since = self.emu.mark()
        self.emu.send_text(user_id, text)
        await self.wait_in_topic(thread, lambda m: m.text == text)
        assert self.emu.activity_since(user_id, since) == []

    async def wait_in_topic(self, thread: int, found: Callable[[SentMessage], bool]) -> None:
        await self.emu.wait_for(lambda: any(found(m) for m in self.in_topic(thread)), 5)


@asynccontextmanager
async def staffed_bot(
    tmp_path: Path, clock: FakeClock, emulator: BotApiEmulator | None = None, **overrides: object
) -> AsyncIterator[tuple[Running, Desk]]:
    settings: dict[str, object] = {
        "staff_chat_id": STAFF_CHAT,
        "staff_user_ids": f"{AGENT},{FORMER}",
        **overrides,
    }
    async with running_bot(tmp_path, clock, emulator=emulator, **settings) as running:
        emu = running.emu
        if STAFF_CHAT not in {c for c in emu._chats}:  # noqa: SLF001 (set up once)
            emu.add_forum_chat(STAFF_CHAT)
            emu.set_member_status(STAFF_CHAT, AGENT, "member")
            emu.set_member_status(STAFF_CHAT, OUTSIDER, "member")
            emu.set_member_status(STAFF_CHAT, FORMER, "left")
        yield running, Desk(running)


@pytest.fixture
async def staffed(tmp_path: Path, clock: FakeClock) -> AsyncIterator[tuple[Running, Desk]]:
    async with staffed_bot(tmp_path, clock) as pair:
        yield pair


async def citizen_at_phone_step(running: Running, user_id: int) -> TelegramUser:
    user = running.user(user_id)
    await user.command("start")
    await user.presses("consent:yes")
    for answer in TYPED_UNTIL_PHONE:
        await user.says(answer)
    return user


async def asks_for_person(user: TelegramUser) -> str:
    """/help, then «Gặp nhân viên hỗ trợ»; returns the reference the citizen is given."""
    await user.command("help")
    answer = await user.presses("g:human")
    assert "nhân viên" in answer, answer
    reference = answer.split("(mã ")[1].split(")")[0]
    assert reference.startswith("HT-")
    return reference


async def test_a_citizen_asks_for_a_person_and_staff_see_a_masked_topic_and_card(
    staffed: tuple[Running, Desk],
) -> None:
    running, desk = staffed
    user = await citizen_at_phone_step(running, 8101)
    reference = await asks_for_person(user)
    assert "vị trí số 1" in user.text and "T2–T6 07:30–17:00" in user.text
    thread = desk.topic_of(reference)
    name = desk.emu.topics(STAFF_CHAT)[thread].name
    assert name == f"N. V. A. · {reference}"
    [card] = desk.in_topic(thread)
    assert card.text is not None
    assert reference in card.text and "N. V. A." in card.text
    for secret in ("001099012345", "0312345678", "Nguyễn Văn An", "Lạch Tray"):
        assert secret not in card.text and secret not in name
    assert "*********345" in card.text  # the ID number, masked
    pinned = [c.params.get("message_id") for c in desk.emu.calls("pinChatMessage")]
    assert card.message_id in pinned


async def test_without_a_staff_chat_help_lists_the_hotlines_only(
    telegram: Running,  # noqa: F811 (the imported fixture)
) -> None:
    user = telegram.user(8102)
    answer = await user.command("help")
    assert "1900 9068" in answer
    assert not [c for c in user.last or [] if "g:human" in str(c.params.get("reply_markup"))]


async def test_staff_take_over_talk_both_ways_and_release_at_the_same_step(
    staffed: tuple[Running, Desk],
) -> None:
    running, desk = staffed
    user = await citizen_at_phone_step(running, 8103)
    reference = await asks_for_person(user)
    thread = desk.topic_of(reference)

    await desk.says(thread, "/takeover")
    await desk.emu.wait_for(lambda: "nhân viên hỗ trợ đang" in desk.emu.transcript(8103))

    await desk.citizen_writes(8103, thread, "Tôi không có điện thoại riêng")
    [copied] = [m for m in desk.in_topic(thread) if m.copied_from is not None]
    assert copied.copied_from == (8103, copied.copied_from[1])

    await desk.says(thread, "Bạn dùng số của người thân cũng được.")
    await desk.emu.wait_for(
        lambda: desk.emu.last_message(8103).text == "Bạn dùng số của người thân cũng được."
    )

    await desk.says(thread, "/release")
    await desk.emu.wait_for(lambda: "số điện thoại" in (desk.emu.last_message(8103).text or ""))
    assert "trả lại cuộc trò chuyện" in desk.emu.transcript(8103)
    # Every answer kept: the phone is taken, and the flow goes on to the e-mail question.
    answer = await user.shares_phone("+84983847986")
    assert "Bước 6/10 – Email" in answer, answer
    actions = [r[0] for r in _audit(running)]
    assert actions == ["takeover", "reply", "release"]


async def test_a_non_staff_member_in_a_topic_reaches_nobody(
    staffed: tuple[Running, Desk],
) -> None:
    running, desk = staffed
    user = await citizen_at_phone_step(running, 8104)
    thread = desk.topic_of(await asks_for_person(user))
    before = desk.emu.transcript(8104)
    for outsider in (OUTSIDER, FORMER):
        await desk.says(thread, "/takeover", by=outsider)
        await desk.says(thread, "Gửi tôi số CCCD của bạn", by=outsider)
    assert desk.emu.transcript(8104) == before
    assert len(desk.in_topic(thread)) == 1  # the card, nothing else
    assert _audit(running) == []
    # The bot was not paused: the citizen's next answer is still the flow's.
    assert "Bước 6/10 – Email" in await user.shares_phone("+84983847986")


async def test_two_citizens_topics_never_cross(staffed: tuple[Running, Desk]) -> None:
    running, desk = staffed
    first = await citizen_at_phone_step(running, 8105)
    second = await citizen_at_phone_step(running, 8106)
    one, two = desk.topic_of(await asks_for_person(first)), desk.topic_of(
        await asks_for_person(second)
    )
    assert one != two
    await desk.says(one, "Chào anh thứ nhất")
    await desk.says(two, "Chào chị thứ hai")
    await desk.emu.wait_for(lambda: "Chào chị thứ hai" in desk.emu.transcript(8106))
    assert "Chào chị thứ hai" not in desk.emu.transcript(8105)
    assert "Chào anh thứ nhất" in desk.emu.transcript(8105)
    assert "Chào anh thứ nhất" not in desk.emu.transcript(8106)
    await desk.citizen_writes(8105, one, "câu của người thứ nhất")
    assert not [m for m in desk.in_topic(two) if m.text == "câu của người thứ nhất"]


async def test_a_deleted_topic_is_recreated_on_the_citizens_next_message(
    staffed: tuple[Running, Desk],
) -> None:
    running, desk = staffed
    user = await citizen_at_phone_step(running, 8107)
    reference = await asks_for_person(user)
    thread = desk.topic_of(reference)
    await desk.says(thread, "/takeover")
    desk.emu.delete_topic(STAFF_CHAT, thread)
    desk.emu.send_text(8107, "Còn ai ở đó không?")
    await desk.emu.wait_for(lambda: thread not in desk.emu.topics(STAFF_CHAT) and any(
        reference in t.name for t in desk.emu.topics(STAFF_CHAT).values()
    ))
    new_thread = desk.topic_of(reference)
    await desk.wait_in_topic(new_thread, lambda m: m.text == "Còn ai ở đó không?")
    assert any(reference in (m.text or "") for m in desk.in_topic(new_thread))  # a new card


async def test_topic_creation_waits_out_flood_control(staffed: tuple[Running, Desk]) -> None:
    running, desk = staffed
    user = await citizen_at_phone_step(running, 8108)
    desk.emu.fail_next(
        "createForumTopic", error_code=429, description="Too Many Requests", retry_after=1
    )
    reference = await asks_for_person(user)
    assert desk.topic_of(reference)
    assert len(desk.emu.calls("createForumTopic")) == 2


async def test_outside_office_hours_the_citizen_is_told_when_someone_answers(
    staffed: tuple[Running, Desk], clock: FakeClock
) -> None:
    running, desk = staffed
    user = await citizen_at_phone_step(running, 8109)
    clock.advance(days=4, hours=9)  # Friday 19:00 in Vietnam
    await user.command("help")
    answer = await user.presses("g:human")
    assert "ngoài giờ làm việc" in answer and "07:30 30/11/2026" in answer, answer


async def test_the_citizen_can_withdraw_and_go_on_with_the_bot(
    staffed: tuple[Running, Desk],
) -> None:
    running, desk = staffed
    user = await citizen_at_phone_step(running, 8110)
    thread = desk.topic_of(await asks_for_person(user))
    answer = await user.presses("g:human:cancel")
    assert "Đã rút yêu cầu" in answer and "số điện thoại" in answer
    await desk.wait_in_topic(thread, lambda m: "rút yêu cầu" in (m.text or ""))


async def test_a_restart_in_the_middle_of_a_takeover_keeps_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with BotApiEmulator() as emu:
        async with staffed_bot(tmp_path, clock, emulator=emu) as (running, desk):
            user = await citizen_at_phone_step(running, 8111)
            thread = desk.topic_of(await asks_for_person(user))
            await desk.says(thread, "/takeover")
        async with staffed_bot(tmp_path, clock, emulator=emu) as (running, desk):
            await desk.citizen_writes(8111, thread, "Tôi vẫn ở đây")


def _audit(running: Running) -> list[tuple[str, int]]:
    path = running.parts.settings.database_path
    with sqlite3.connect(path) as db:
        return [
            (str(a), int(s)) for a, s in db.execute("SELECT action, staff_id FROM helpdesk_audit")
        ]


async def test_set_refuses_an_invalid_value_and_takes_a_valid_one_without_moving_the_step(
    staffed: tuple[Running, Desk],
) -> None:
    running, desk = staffed
    user = await citizen_at_phone_step(running, 8112)
    thread = desk.topic_of(await asks_for_person(user))
    await desk.says(thread, "/takeover")
    await desk.says(thread, "/set id_number 12345")
    await desk.wait_in_topic(thread, lambda m: "Không nhận giá trị này" in (m.text or ""))
    await desk.says(thread, "/set street Số 7 Lạch Tray")
    await desk.wait_in_topic(thread, lambda m: (m.text or "").startswith("Đã sửa"))
    await desk.emu.wait_for(lambda: "đã sửa" in (desk.emu.last_message(8112).text or ""))
    conv = await running.parts.service.conversations.load("tg:8112")
    assert conv is not None
    assert conv.answers["street"] == "Số 7 Lạch Tray"
    assert conv.answers["id_number"] == "001099012345"
    assert conv.state == "phone"
    assert "/set" not in desk.emu.transcript(8112)  # commands are never relayed
    assert [(a, d) for a, d in _audit_details(running) if a.startswith("set")] == [
        ("set-refused", "id_number"),
        ("set", "street"),
    ]


async def test_resolve_closes_the_topic_and_closing_it_in_telegram_does_the_same(
    staffed: tuple[Running, Desk],
) -> None:
    running, desk = staffed
    first = await citizen_at_phone_step(running, 8113)
    second = await citizen_at_phone_step(running, 8114)
    one = desk.topic_of(await asks_for_person(first))
    two = desk.topic_of(await asks_for_person(second))
    await desk.says(one, "/queue")
    [listing] = [m for m in desk.in_topic(one) if (m.text or "").startswith("Hàng chờ")]
    assert listing.text is not None and listing.text.count("đang chờ") == 2
    await desk.says(one, "/takeover")
    await desk.says(one, "/resolve")
    assert desk.emu.topics(STAFF_CHAT)[one].closed
    await desk.emu.wait_for(lambda: "đã được đóng" in desk.emu.transcript(8113))
    # Back with the bot at the phone step: the flow answers again.
    assert "Bước 6/10 – Email" in await first.shares_phone("+84983847986")
    desk.emu.close_topic(STAFF_CHAT, two, by_user_id=AGENT)
    await desk.emu.wait_for(lambda: "đã được đóng" in desk.emu.transcript(8114))
    assert "Bước 6/10 – Email" in await second.shares_phone("+84983847986")
    desk.emu.reopen_topic(STAFF_CHAT, two, by_user_id=AGENT)
    await desk.wait_in_topic(two, lambda m: "mở lại" in (m.text or ""))
    await desk.says(two, "Chị cần giúp gì thêm không?")  # a reply takes it over again
    await desk.emu.wait_for(lambda: "Chị cần giúp gì thêm không?" in desk.emu.transcript(8114))


def _audit_details(running: Running) -> list[tuple[str, str]]:
    with sqlite3.connect(running.parts.settings.database_path) as db:
        rows = db.execute("SELECT action, detail FROM helpdesk_audit")
        return [(str(a), str(d)) for a, d in rows]


async def test_nobody_answering_in_time_offers_the_bot_or_a_call_back(
    staffed: tuple[Running, Desk], clock: FakeClock
) -> None:
    running, desk = staffed
    user = await citizen_at_phone_step(running, 8115)
    thread = desk.topic_of(await asks_for_person(user))
    clock.advance(minutes=14)
    await deliver_overdue(running.app.bot, running.parts)
    assert "15 phút" not in desk.emu.transcript(8115)  # not yet
    clock.advance(minutes=1)
    since = desk.emu.mark()
    await deliver_overdue(running.app.bot, running.parts)
    await desk.emu.wait_activity(8115, since=since)
    assert "chưa có nhân viên nào trả lời bạn trong 15 phút" in desk.emu.transcript(8115)
    await deliver_overdue(running.app.bot, running.parts)  # told once only
    assert desk.emu.transcript(8115).count("trong 15 phút") == 1
    assert "số điện thoại di động" in await user.presses("g:human:callback")
    refused = await user.says("12345")
    assert "không phải là số di động Việt Nam hợp lệ" in refused and "gọi lại" in refused
    assert "gọi lại cho bạn theo số 0983 847 986" in await user.says("0983847986")
    conv = await running.parts.service.conversations.load("tg:8115")
    assert conv is not None and conv.state == "phone"  # the number was not the flow's answer
    await desk.wait_in_topic(thread, lambda m: "gọi lại theo số" in (m.text or ""))
    await desk.says(thread, "/queue")
    await desk.wait_in_topic(thread, lambda m: "cần gọi lại" in (m.text or ""))


async def submitted(running: Running, user_id: int, email: str) -> str:
    """A citizen who sent a declaration; returns its receipt."""
    user = running.user(user_id)
    await answer_until_review(user, email, bhxh_code=f"03{user_id:08d}")
    await user.presses("review:confirm")
    await user.presses("otp:via:email")
    done = await user.says(await running.code_for(email))
    found = re.search(r"\d{5}\.GD/2026/\d{3,5}", done)
    assert found, done
    return found.group(0)


async def test_officers_approve_and_reject_in_the_staff_chat_and_citizens_are_told(
    staffed: tuple[Running, Desk],
) -> None:
    running, desk = staffed
    first = await submitted(running, 8120, "an@example.com")
    second = await submitted(running, 8121, "binh@example.com")
    office = desk.emu.open_topic(STAFF_CHAT, "Duyệt hồ sơ")
    await desk.says(office, "/approve")
    await desk.wait_in_topic(office, lambda m: "/review trước" in (m.text or ""))
    await desk.says(office, "/review", by=OUTSIDER)  # not staff: nothing shown
    assert not [m for m in desk.in_topic(office) if first in (m.text or "")]

    await desk.says(office, "/review")
    await desk.wait_in_topic(office, lambda m: first in (m.text or ""))
    await desk.emu.wait_for(lambda: [m.kind for m in desk.in_topic(office)].count("photo") == 3)
    [shown] = [m for m in desk.in_topic(office) if first in (m.text or "")]
    assert shown.text is not None
    assert "001099012345" not in shown.text and "*********345" in shown.text
    await desk.says(office, "/approve")
    await desk.emu.wait_for(lambda: "đã được cơ quan BHXH duyệt" in desk.emu.transcript(8120))
    approval = desk.emu.transcript(8120)
    assert first in approval and "mã số BHXH" in approval and "Google Play" in approval

    await desk.says(office, "/review")
    await desk.wait_in_topic(office, lambda m: second in (m.text or ""))
    await desk.says(office, "/reject")
    await desk.wait_in_topic(office, lambda m: "Cần ghi lý do" in (m.text or ""))
    await desk.says(office, "/reject Ảnh CCCD bị mờ")
    await desk.emu.wait_for(lambda: "Ảnh CCCD bị mờ" in desk.emu.transcript(8121))
    assert "chưa được chấp nhận" in desk.emu.transcript(8121)
    decided = {(a, d) for a, d in _audit_details(running)}
    assert {("approved", first), ("rejected", second)} <= decided


async def test_replies_and_edits_are_mirrored_through_the_message_map(
    staffed: tuple[Running, Desk],
) -> None:
    running, desk = staffed
    user = await citizen_at_phone_step(running, 8116)
    thread = desk.topic_of(await asks_for_person(user))
    await desk.says(thread, "/takeover")
    await desk.citizen_writes(8116, thread, "Số của tôi là 0983 847 986")
    [asked] = [m for m in desk.in_topic(thread) if m.text == "Số của tôi là 0983 847 986"]
    desk.emu.send_group_text(
        STAFF_CHAT,
        AGENT,
        "Số này đúng rồi",
        message_thread_id=thread,
        reply_to_message_id=asked.message_id,
    )
    await desk.emu.wait_for(lambda: desk.emu.last_message(8116).text == "Số này đúng rồi")
    answer = desk.emu.last_message(8116)
    [original] = [m for m in desk.emu.user_messages(8116) if "0983 847 986" in m.get("text", "")]
    assert answer.reply_to_message_id == original["message_id"]

    [staff_words] = [
        m for m in desk.emu.user_messages(STAFF_CHAT) if m.get("text") == "Số này đúng rồi"
    ]
    desk.emu.send_raw_update(
        {"edited_message": {**staff_words, "text": "Số này đúng rồi, cảm ơn", "edit_date": 1}}
    )
    await desk.emu.wait_for(lambda: desk.emu.last_message(8116).text == "Số này đúng rồi, cảm ơn")
    desk.emu.send_raw_update(
        {"edited_message": {**original, "text": "Số của tôi là 0912 345 678", "edit_date": 1}}
    )
    await desk.wait_in_topic(thread, lambda m: m.text == "Số của tôi là 0912 345 678")
    conv = await running.parts.service.conversations.load("tg:8116")
    assert conv is not None and conv.state == "phone"  # the edit was never an answer


async def test_a_rejected_declaration_corrected_in_the_chat_keeps_its_receipt(
    staffed: tuple[Running, Desk], clock: FakeClock
) -> None:
    running, desk = staffed
    receipt = await submitted(running, 8122, "chi@example.com")
    office = desk.emu.open_topic(STAFF_CHAT, "Duyệt hồ sơ")
    await desk.says(office, "/review")
    await desk.says(office, "/reject Ảnh chân dung bị mờ")
    await desk.emu.wait_for(lambda: "Ảnh chân dung bị mờ" in desk.emu.transcript(8122))
    user = running.user(8122)
    again = await user.presses("g:fix:")
    assert receipt in again and "gửi lại ảnh" in again
    await user.sends_photo(photo_bytes(seed=4))
    await user.sends_file(photo_bytes(fmt="PNG", seed=5), "mat-truoc.png", "image/png")
    await user.sends_photo(photo_bytes(seed=6))
    await user.presses("agency:pick:")
    assert "Kiểm tra lại tờ khai" in user.text and "Phường Gia Viên" in user.text
    await user.presses("review:confirm")
    clock.advance(minutes=10)  # the officer's decision came later than one minute
    await user.presses("otp:via:email")
    done = await user.says(await running.code_for("chi@example.com"))
    assert receipt in done, done
    [declaration] = await running.parts.service.declarations.for_user("tg:8122")
    assert (declaration.receipt, declaration.status) == (receipt, "submitted")
    await desk.says(office, "/review")
    heading = f"📄 Tờ khai {receipt}"


    def reviews_shown() -> int:
        return sum((m.text or "").startswith(heading) for m in desk.in_topic(office))

    await desk.emu.wait_for(lambda: reviews_shown() == 2)  # rejected, corrected, queued again


async def test_a_message_telegram_cannot_copy_leaves_a_clear_note_in_the_topic(
    staffed: tuple[Running, Desk],
) -> None:
    running, desk = staffed
    user = await citizen_at_phone_step(running, 8117)
    thread = desk.topic_of(await asks_for_person(user))
    await desk.says(thread, "/takeover")
    desk.emu.fail_next(
        "copyMessage",
        error_code=400,
        description="Bad Request: message can't be copied",
        chat_id=STAFF_CHAT,
    )
    desk.emu.send_sticker(8117)
    await desk.wait_in_topic(thread, lambda m: "không sao chép được" in (m.text or ""))
