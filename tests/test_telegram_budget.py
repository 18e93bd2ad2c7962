"""Telegram's sending budget: few calls per registration, and background messages that never
hold up a reply to someone who is typing.

Telegram lets a bot send about 30 messages a second over all its chats; every call aimed at
a chat (a message, an edit, a document) spends that budget. ``answerCallbackQuery`` has no
``chat_id``: PTB's ``AIORateLimiter`` leaves it out of its overall bucket, and so do we.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import CallbackContext

from bot.flows.conversation import Conversation
from bot.flows.events import Button, Reply
from bot.handlers.budget import Lane, TelegramBudget
from bot.handlers.registration import sweep_drafts
from bot.handlers.render import joined
from bot.i18n import Translator
from tests.conftest import FakeClock
from tests.emulator import ApiCall, buttons
from tests.test_telegram_e2e import (
    Running,
    answer_until_review,
    running_bot,
)

T = Translator()
CITIZEN = 7501


@pytest.fixture
async def telegram(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Running]:
    async with running_bot(tmp_path, clock) as running:
        yield running


def chat_calls(emu_calls: list[ApiCall], chat_id: int) -> list[ApiCall]:
    """The calls that spend the budget of one chat: everything sent to it or edited in it."""
    return [c for c in emu_calls if c.chat_id == chat_id]


async def register(telegram: Running, user_id: int, email: str) -> str:
    """A whole registration, the PDF included; the receipt's text."""
    user = telegram.user(user_id)
    await answer_until_review(user, email)
    await user.presses("review:confirm")
    await user.presses("otp:via:email")
    done = await user.says(await telegram.code_for(email))
    await telegram.emu.wait_for(
        lambda: any(c.chat_id == user_id for c in telegram.emu.calls("sendDocument")),
        timeout=20,
    )
    return done


# ------------------------------------------------------------------- calls per registration
async def test_a_whole_registration_costs_at_most_twenty_messages_and_edits(
    telegram: Running,
) -> None:
    done = await register(telegram, CITIZEN, "an@example.com")
    assert "số hồ sơ" in done
    spent = chat_calls(telegram.emu.calls(), CITIZEN)
    shown = "\n".join(str(c) for c in spent)
    assert len(spent) <= 20, f"{len(spent)} calls:\n{shown}"
    assert {c.method for c in spent} <= {"sendMessage", "editMessageText", "sendDocument"}


async def test_a_pressed_answer_and_the_next_question_come_in_one_edit(
    telegram: Running,
) -> None:
    user = telegram.user(CITIZEN)
    await user.command("start")
    [consent] = telegram.emu.messages(CITIZEN)
    before = telegram.emu.mark()
    await user.presses("consent:yes")
    [edit] = chat_calls(telegram.emu.calls()[before:], CITIZEN)
    assert edit.method == "editMessageText" and edit.params["message_id"] == consent.message_id
    [shown] = telegram.emu.messages(CITIZEN)
    assert shown.text is not None
    assert shown.text.startswith("✅ Cảm ơn bạn đã đồng ý")  # the answer stays in the history
    assert "Bước 1/10 – Mã số BHXH" in shown.text
    assert buttons(shown) == []  # the consent buttons are gone: nothing stale to press


async def test_every_pressed_button_is_gone_and_every_answer_stays_visible(
    telegram: Running,
) -> None:
    await register(telegram, CITIZEN, "an@example.com")
    transcript = telegram.emu.transcript(CITIZEN)
    for acknowledgement in (
        "✅ Cảm ơn bạn đã đồng ý",
        "✅ Bạn sẽ nhận tờ khai qua email",
        "BHXH Quận Ngô Quyền",
        "✅ Đã xác nhận tờ khai",
    ):
        assert acknowledgement in transcript, acknowledgement
    offered = [data for m in telegram.emu.messages(CITIZEN) for _, data in buttons(m)]
    for gone in ("consent:yes", "email_choice:yes", "agency:pick:", "review:confirm"):
        assert not any(data.startswith(gone) for data in offered), (gone, offered)


async def test_a_button_pressed_on_an_older_message_leaves_the_next_question_at_the_bottom(
    telegram: Running,
) -> None:
    user = telegram.user(CITIZEN)
    await user.command("start")
    await user.presses("consent:yes")
    for answer in ("0312345678", "Nguyễn Văn An", "001099012345"):
        await user.says(answer)
    [province_question] = [
        m for m in telegram.emu.messages(CITIZEN) if "Bước 4/10" in (m.text or "")
    ]
    label, data = buttons(province_question)[0]
    await user.says("zzzz qqqq")  # not found: the closest provinces come in a newer message
    await user.presses_on(province_question.message_id, data)
    newest = telegram.emu.messages(CITIZEN)[-1]
    assert newest.message_id > province_question.message_id
    assert "Bước 4/10 – Địa chỉ liên hệ (2/3)" in (newest.text or "")
    edited = next(
        m for m in telegram.emu.messages(CITIZEN) if m.message_id == province_question.message_id
    )
    assert label in (edited.text or "") and buttons(edited) == []


# ------------------------------------------------------------------------------ rendering
def test_an_acknowledgement_edit_takes_the_next_question_in_the_same_call() -> None:
    question = Reply(
        "ask.email_choice",
        {"step": 6, "total": 10},
        buttons=((Button("email_choice:yes", label_key="btn.yes_email"),),),
    )
    replies = [Reply("note.chosen", {"choice": "Phường Gia Viên"}, edit=True), question]
    [(reply, text)] = joined(replies, "vi", T, fold_edit=True)
    assert reply.edit and reply.buttons == question.buttons
    assert text.startswith("✅ Phường Gia Viên\n\nBước 6/10")


def test_a_reply_keyboard_or_a_document_is_never_folded_into_an_edit() -> None:
    ack = Reply("note.chosen", {"choice": "A"}, edit=True)
    contact = Reply("ask.phone", {"step": 5, "total": 10}, keyboard="contact")
    pdf = Reply("done.pdf", {"receipt": "1"}, document=b"%PDF", document_name="x.pdf")
    assert [r.key for r, _ in joined([ack, contact], "vi", T, fold_edit=True)] == [
        "note.chosen",
        "ask.phone",
    ]
    assert len(joined([ack, pdf], "vi", T, fold_edit=True)) == 2


def test_without_folding_the_acknowledgement_edit_stays_alone() -> None:
    """A button pressed on an older message: its edit is up in the history, so the next
    question must be a new message at the bottom."""
    replies = [Reply("note.chosen", {"choice": "A"}, edit=True), Reply("ask.street", {})]
    assert len(joined(replies, "vi", T)) == 2


# ----------------------------------------------------------------------------- the budget
async def _timed(budget: TelegramBudget, lane: Lane | None, log: list[tuple[str, float]]) -> float:
    """One chat-aimed request through ``budget``; when it was let through (loop time)."""
    loop = asyncio.get_running_loop()
    asked = loop.time()

    async def call(*_: Any, **__: Any) -> bool:
        log.append((str(lane or Lane.INTERACTIVE), loop.time()))
        return True

    await budget.process_request(call, (), {}, "sendMessage", {"chat_id": 1}, lane)
    return loop.time() - asked


async def test_queued_background_messages_do_not_hold_up_a_reply() -> None:
    budget = TelegramBudget(overall_max_rate=20, background_max_rate=4)
    log: list[tuple[str, float]] = []
    background = [
        asyncio.create_task(_timed(budget, Lane.BACKGROUND, log)) for _ in range(200)
    ]
    await asyncio.sleep(1.0)  # a morning sweep: 200 messages queued, a few already out
    waits = await asyncio.gather(*(_timed(budget, None, log) for _ in range(10)))
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    assert max(waits) < 1.0, waits  # 10 replies at 20/s: half a second at the very worst
    sent_in_background = [t for lane, t in log if lane == Lane.BACKGROUND]
    span = max(t for _, t in log) - min(t for _, t in log)
    assert len(sent_in_background) <= 4 * span + 4 + 1  # its rate, plus one burst


async def test_background_messages_use_the_budget_the_replies_leave() -> None:
    budget = TelegramBudget(overall_max_rate=20, background_max_rate=10)
    log: list[tuple[str, float]] = []
    start = time.perf_counter()
    await asyncio.gather(*(_timed(budget, Lane.BACKGROUND, log) for _ in range(20)))
    assert time.perf_counter() - start < 2.5  # 10 at once, then 10/s: not starved when quiet


async def test_a_too_many_requests_answer_is_waited_out_and_the_reply_still_arrives(
    telegram: Running,
) -> None:
    """The budget keeps what ``AIORateLimiter`` does: Telegram's 429 pauses sending for the
    time it names, then the same call is made again."""
    user = telegram.user(CITIZEN)
    telegram.emu.fail_next(
        "sendMessage",
        error_code=429,
        description="Too Many Requests: retry after 1",
        retry_after=1,
        chat_id=CITIZEN,
    )
    assert "Xin chào" in await user.command("start")
    assert [c.status for c in chat_calls(telegram.emu.calls(), CITIZEN)] == [429, 200]


# ----------------------------------------------------- reminders while citizens are typing
QUIET = 300  # quiet drafts due for a reminder (the issue's 1,000, scaled to a test's length)
BACKGROUND_RATE = 5.0


async def quiet_drafts(telegram: Running, clock: FakeClock, count: int) -> list[int]:
    """``count`` citizens who agreed, answered nothing more and went quiet for a day."""
    ids = list(range(900_000, 900_000 + count))
    for user_id in ids:
        telegram.emu.add_private_chat(user_id)
        conv = Conversation(user_key=f"tg:{user_id}", state="bhxh_code")
        conv.consent = {"version": "test", "at": clock().isoformat()}
        conv.touch(clock())
        await telegram.parts.service.conversations.save(conv)
    clock.advance(days=1, minutes=1)
    return ids


async def first_answer_after(telegram: Running, user_id: int, send: Callable[[], object]) -> float:
    """Seconds from a citizen's message to the bot's first call in that chat (the emulator's
    own "wait until quiet" would also wait for the reminders going to other chats)."""
    emu = telegram.emu
    since = emu.mark()
    loop = asyncio.get_running_loop()
    began = loop.time()
    send()
    await emu.wait_for(lambda: bool(emu.activity_since(user_id, since)), timeout=20)
    return loop.time() - began


@pytest.fixture
async def budgeted(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Running]:
    budget = TelegramBudget(background_max_rate=BACKGROUND_RATE)
    async with running_bot(tmp_path, clock, rate_limiter=budget, sweeps=False) as running:
        yield running


async def test_a_morning_sweep_of_reminders_does_not_stall_the_chats(
    budgeted: Running, clock: FakeClock
) -> None:
    quiet = set(await quiet_drafts(budgeted, clock, QUIET))
    citizens = list(range(7600, 7608))
    for user_id in citizens:
        await budgeted.user(user_id).command("start")
        await budgeted.user(user_id).presses("consent:yes")
    emu = budgeted.emu
    loop = asyncio.get_running_loop()
    began = loop.time()
    sweep = asyncio.create_task(sweep_drafts(CallbackContext(budgeted.app)))
    try:
        await emu.wait_for(
            lambda: any(c.chat_id in quiet for c in emu.calls("sendMessage")), timeout=10
        )
        waits: list[float] = []
        for answer in ("0312345678", "Nguyễn Văn An", "001099012345"):
            waits += await asyncio.gather(
                *(
                    first_answer_after(
                        budgeted, user_id, partial(emu.send_text, user_id, answer)
                    )
                    for user_id in citizens
                )
            )
        elapsed = loop.time() - began
        reminded = {c.chat_id for c in emu.calls("sendMessage") if c.chat_id in quiet}
    finally:
        sweep.cancel()
        await asyncio.gather(sweep, return_exceptions=True)
    assert max(waits) < 2.0, sorted(waits)  # the queue ahead would take a minute
    assert 0 < len(reminded) <= BACKGROUND_RATE * elapsed + BACKGROUND_RATE + 1
    assert len(reminded) < QUIET  # still queued: the citizens were answered meanwhile


async def pdf_rendered(telegram: Running) -> None:
    """The PDF after the receipt is made and handed over to be sent."""
    for _ in range(200):
        if await telegram.parts.db.fetch("SELECT 1 FROM declaration_documents"):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the PDF was never rendered")


async def test_the_pdf_waits_its_turn_without_holding_up_the_citizens_next_answer(
    budgeted: Running, clock: FakeClock
) -> None:
    quiet = set(await quiet_drafts(budgeted, clock, QUIET))
    user = budgeted.user(CITIZEN)
    await answer_until_review(user, "an@example.com")
    await user.presses("review:confirm")
    await user.presses("otp:via:email")
    emu = budgeted.emu
    sweep = asyncio.create_task(sweep_drafts(CallbackContext(budgeted.app)))
    try:
        await emu.wait_for(
            lambda: any(c.chat_id in quiet for c in emu.calls("sendMessage")), timeout=10
        )
        code = await budgeted.code_for("an@example.com")
        receipt_wait = await first_answer_after(
            budgeted, CITIZEN, lambda: emu.send_text(CITIZEN, code)
        )
        await pdf_rendered(budgeted)
        await asyncio.sleep(0.3)  # a reply would have been sent by now
        status_wait = await first_answer_after(
            budgeted, CITIZEN, lambda: emu.send_command(CITIZEN, "/status")
        )
        pdf_sent = any(c.chat_id == CITIZEN for c in emu.calls("sendDocument"))
    finally:
        sweep.cancel()
        await asyncio.gather(sweep, return_exceptions=True)
    assert receipt_wait < 2.0 and status_wait < 2.0, (receipt_wait, status_wait)
    assert not pdf_sent  # behind the reminders queued before it, as background
    assert "số hồ sơ" in emu.transcript(CITIZEN)


async def test_reminders_go_out_when_no_one_is_typing(budgeted: Running, clock: FakeClock) -> None:
    quiet = set(await quiet_drafts(budgeted, clock, 6))
    await sweep_drafts(CallbackContext(budgeted.app))
    reminded = [c for c in budgeted.emu.calls("sendMessage") if c.chat_id in quiet]
    assert {c.chat_id for c in reminded} == quiet
    assert all("Tiếp tục" in str(c.params.get("reply_markup")) for c in reminded)

