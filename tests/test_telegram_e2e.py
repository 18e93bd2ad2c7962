"""End to end over HTTP: the real PTB Application talking to the Bot API emulator."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from telegram.ext import Application

from bot.handlers.app import build_application
from bot.handlers.budget import TelegramBudget
from bot.wiring import Components, build
from tests.conftest import FakeClock, make_settings
from tests.emulator import ApiCall, BotApiEmulator
from tests.story import TYPED_UNTIL_PHONE, photo_bytes
from tests.telegram_story import TelegramUser

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Running:
    emu: BotApiEmulator
    parts: Components
    app: Application  # type: ignore[type-arg]

    def user(self, user_id: int) -> TelegramUser:
        return TelegramUser(self.emu, user_id)

    async def code_for(self, recipient: str) -> str:
        [message] = await self.parts.outbox.latest(recipient, limit=1)
        found = re.search(r"\b\d{6}\b", message.body)
        assert found
        return found.group(0)


@asynccontextmanager
async def running_bot(
    tmp_path: Path,
    clock: FakeClock,
    *,
    rate_limiter: TelegramBudget | None = None,
    sweeps: bool = True,
    emulator: BotApiEmulator | None = None,
    **overrides: object,
) -> AsyncIterator[Running]:
    """The real Application polling the emulator; ``sweeps=False`` leaves the reminder sweep
    to the test (it would otherwise run a second after start). ``overrides`` are settings;
    ``emulator``, one already running (a restart keeps Telegram's side as it was)."""
    async with _emulator(emulator) as emu:
        settings = make_settings(
            tmp_path, telegram_bot_token=emu.token, telegram_api_url=emu.root_url, **overrides
        )
        parts = await build(settings, clock)
        app = build_application(settings, parts, rate_limiter=rate_limiter)
        await app.initialize()
        if app.post_init is not None:  # run_polling would call it; the test starts by hand
            await app.post_init(app)
        if not sweeps and app.job_queue is not None:
            for job in app.job_queue.jobs():
                job.schedule_removal()
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=1, poll_interval=0.0)
        await emu.wait_until_polling()
        try:
            yield Running(emu, parts, app)
        finally:
            await app.updater.stop()
            await app.stop()
            await app.shutdown()
            await parts.close()
        assert emu.spec_violations == []
        assert emu.internal_errors == []


@asynccontextmanager
async def _emulator(running: BotApiEmulator | None) -> AsyncIterator[BotApiEmulator]:
    if running is not None:
        yield running
        return
    async with BotApiEmulator() as emu:
        yield emu


@pytest.fixture
async def telegram(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Running]:
    async with running_bot(tmp_path, clock) as running:
        yield running


async def answer_until_phone(user: TelegramUser, bhxh_code: str | None = None) -> None:
    """``bhxh_code``: the citizen's own, where several citizens submit (one declaration per
    code may wait at a time)."""
    await user.command("start")
    await user.presses("consent:yes")
    first, *rest = TYPED_UNTIL_PHONE
    for answer in (bhxh_code or first, *rest):
        await user.says(answer)


async def answer_until_review(user: TelegramUser, email: str, bhxh_code: str | None = None) -> None:
    await answer_until_phone(user, bhxh_code)
    await user.shares_phone("+84983847986")
    await user.presses("email_choice:yes")
    await user.says(email)
    await user.sends_photo(photo_bytes(seed=1))
    await user.sends_file(photo_bytes(fmt="PNG", seed=2), "mat-truoc.png", "image/png")
    await user.sends_photo(photo_bytes(seed=3))
    await user.presses("agency:pick:")


async def test_a_citizen_registers_over_telegram(telegram: Running) -> None:
    user = telegram.user(7001)
    await answer_until_review(user, "an@example.com")
    assert "Kiểm tra lại tờ khai" in user.text and "Phường Gia Viên" in user.text
    await user.presses("review:confirm")
    await user.presses("otp:via:email")
    assert "a***@example.com" in user.text
    done = await user.says(await telegram.code_for("an@example.com"))
    assert re.search(r"số hồ sơ là \d{5}\.GD/2026/\d{3,5}", done), done
    assert "1900 9068" in done

    def pdfs() -> list[ApiCall]:
        return [c for c in telegram.emu.calls("sendDocument") if c.chat_id == 7001]

    await telegram.emu.wait_for(lambda: bool(pdfs()), timeout=20)  # it follows the receipt
    [pdf] = pdfs()
    [(name, data)] = pdf.files.items()
    assert data.startswith(b"%PDF") and name == "document"

    async def queued_for_review() -> bool:
        return bool(await telegram.parts.db.fetch("SELECT 1 FROM review_queue"))

    for _ in range(100):  # the submission worker runs beside the bot
        if await queued_for_review():
            break
        await asyncio.sleep(0.05)
    assert await queued_for_review()
    commands = telegram.emu.calls("setMyCommands")
    assert {c.params.get("language_code") for c in commands} == {"vi", "en"}


async def test_a_citizen_who_errs_at_every_step_still_finishes(telegram: Running) -> None:
    user = telegram.user(7002)
    await user.command("start")
    assert "đồng ý" in await user.says("xin chào")
    await user.presses("consent:yes")
    assert "10 chữ số" in await user.says("12345")
    assert "nhãn dán" in await user.sends_sticker()
    await user.says("0312345678")
    assert "cả họ và tên" in await user.says("An")
    await user.says("Nguyễn Văn An")
    assert "CMND" in await user.says("123456789")
    await user.says("001099012345")
    assert "Không tìm thấy" in await user.says("zzzz qqqq")
    await user.says("hai phong")
    assert "tin nhắn thoại" in await user.sends_voice()
    await user.says("gia vien")
    assert "quá ngắn" in await user.says("5")
    await user.says("Số 5 Lạch Tray")
    assert "máy bàn" in await user.says("0225 3826 582")
    await user.says("0983847986")
    assert "nút" in await user.says("maybe")
    await user.presses("email_choice:yes")
    assert "không đúng dạng" in await user.says("an@")
    await user.says("an2@example.com")
    assert "cần một ảnh" in await user.says("ảnh đây")
    assert "không phải là ảnh" in await user.sends_file(b"hello", "note.txt", "text/plain")
    await user.sends_photo(photo_bytes(seed=4))
    assert "quá nhỏ" in await user.sends_photo(photo_bytes(500, 400))
    await user.sends_photo(photo_bytes(seed=5))
    await user.sends_photo(photo_bytes(seed=6))
    assert "Không tìm thấy cơ quan" in await user.says("xyzxyz")
    await user.presses("agency:all")
    await user.presses("agency:pick:")
    assert "nút" in await user.says("xong rồi")  # ("ok" would confirm: a yes to the review)
    await user.presses("review:confirm")
    await user.presses("otp:via:email")
    assert "6 chữ số" in await user.says("12")
    done = await user.says(await telegram.code_for("an2@example.com"))
    assert "số hồ sơ" in done


async def test_an_edit_from_the_review_comes_back_to_the_review(telegram: Running) -> None:
    user = telegram.user(7003)
    await answer_until_review(user, "an3@example.com")
    edited = await user.presses("review:edit:phone")
    assert "Số điện thoại" in edited or "điện thoại" in edited
    back = await user.says("0912 345 678")
    assert "Kiểm tra lại tờ khai" in back and "0912 345 678" in back


async def test_five_wrong_codes_lock_then_a_new_code_works(
    telegram: Running, clock: FakeClock
) -> None:
    user = telegram.user(7004)
    await answer_until_review(user, "an4@example.com")
    await user.presses("review:confirm")
    await user.presses("otp:via:email")
    code = await telegram.code_for("an4@example.com")
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        assert f"còn {left} lần" in await user.says(wrong)
    assert "sai quá nhiều lần" in await user.says(wrong)
    clock.advance(minutes=15, seconds=1)
    assert "Mã OTP 6 chữ số đã được gửi" in await user.presses("otp:resend")
    fresh = await telegram.code_for("an4@example.com")
    assert "số hồ sơ" in await user.says(fresh)


async def test_two_citizens_at_once_never_see_each_others_data(telegram: Running) -> None:
    first, second = telegram.user(7101), telegram.user(7102)

    async def register(user: TelegramUser, name: str, email: str) -> None:
        await user.command("start")
        await user.presses("consent:yes")
        await user.says("0312345678")
        await user.says(name)

    await asyncio.gather(
        register(first, "Phạm Minh Đức", "a@example.com"),
        register(second, "Lê Thị Mai", "b@example.com"),
    )
    first_seen = telegram.emu.transcript(7101)
    second_seen = telegram.emu.transcript(7102)
    assert "Lê Thị Mai" not in first_seen
    assert "Phạm Minh Đức" not in second_seen
    for call in telegram.emu.calls("sendMessage"):
        text = str(call.params.get("text"))
        if "Lê Thị Mai" in text:
            assert call.chat_id == 7102


def _bot_process(data_dir: Path, emu: BotApiEmulator, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": emu.token,
        "TELEGRAM_API_URL": emu.root_url,
        "VSSID_DATA_DIR": str(data_dir),
        "VSSID_DATA_KEY": "22" * 32,
        "VSSID_DEV_OUTBOX": "1",  # no carrier here: without it the bot would not start
        "PTB_TIMEDELTA": "true",
    }
    with log.open("ab") as errors:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bot", "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=errors,
        )


async def test_a_killed_bot_process_is_resumed_by_a_new_one_with_everything_kept(
    tmp_path: Path,
) -> None:
    async with BotApiEmulator() as emu:
        user = TelegramUser(emu, 7201)
        first = _bot_process(tmp_path, emu, tmp_path / "bot.log")
        try:
            await emu.wait_until_polling(timeout=30)
            await answer_until_phone(user)
            await user.says("0983847986")
            await user.presses("email_choice:no")
            await user.sends_photo(photo_bytes(seed=7))
        finally:
            first.send_signal(signal.SIGKILL)
            await asyncio.to_thread(first.wait, 10)
        second = _bot_process(tmp_path, emu, tmp_path / "bot.log")
        try:
            await emu.wait_until_polling(timeout=30)
            resumed = await user.command("start")
            assert "quay lại" in resumed and "mặt trước" in resumed
            await user.sends_photo(photo_bytes(seed=8))
            await user.sends_photo(photo_bytes(seed=9))
            review = await user.presses("agency:pick:")
            assert "Nguyễn Văn An" in review and "Phường Gia Viên" in review
            assert review.count("đã nhận ✅") == 3
        finally:
            second.send_signal(signal.SIGTERM)
            try:  # wait off the loop: the emulator must keep answering the bot's last calls
                await asyncio.to_thread(second.wait, 15)
            except subprocess.TimeoutExpired:
                second.kill()
                await asyncio.to_thread(second.wait, 5)
                raise
        with sqlite3.connect(tmp_path / "vssid.sqlite3") as db:
            photos = db.execute("SELECT count(*) FROM photos").fetchone()[0]
        assert photos == 3
        assert len(list((tmp_path / "photos").glob("*.bin"))) == 3
        assert emu.spec_violations == []


async def test_a_failed_reply_is_logged_without_the_citizens_data(
    telegram: Running, caplog: pytest.LogCaptureFixture
) -> None:
    user = telegram.user(7301)
    await user.command("start")
    await user.presses("consent:yes")
    telegram.emu.fail_next(
        "sendMessage", error_code=400, description="Bad Request: chat not found", chat_id=7301
    )
    telegram.emu.send_text(7301, "0312345678")
    await telegram.emu.wait_for(lambda: "update from" in caplog.text, timeout=10)
    assert "BadRequest" in caplog.text and "0312345678" not in caplog.text
    stored = await telegram.parts.service.conversations.load("tg:7301")
    assert stored is not None and stored.answers["bhxh_code"] == "0312345678"
    assert "Giấy tờ tùy thân" in await user.says("Nguyễn Văn An")  # the conversation goes on
