"""The Bot API emulator driven by the real PTB Bot / Application over HTTP."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from PIL import Image
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

try:  # tests/ is not a package: plain `pytest` puts tests/ itself on sys.path
    from tests.emulator import (
        BotApiEmulator,
        EntityParseError,
        ReplyButton,
        buttons,
        parse_text,
        reply_keyboard,
    )
except ModuleNotFoundError:
    from emulator import (  # type: ignore[no-redef]
        BotApiEmulator,
        EntityParseError,
        ReplyButton,
        buttons,
        parse_text,
        reply_keyboard,
    )

USER = 5550001
STAFF_CHAT = -1001234567890


@pytest.fixture(autouse=True)
def _ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22.x warns (PTBDeprecationWarning) whenever a time period such as RetryAfter.retry_after
    # is read as an int; with filterwarnings=error that turns a 429 into the wrong exception.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def emu() -> AsyncIterator[BotApiEmulator]:
    async with BotApiEmulator() as emulator:
        yield emulator


@pytest.fixture
async def bot(emu: BotApiEmulator) -> AsyncIterator[Bot]:
    async with Bot(
        emu.token, base_url=f"{emu.root_url}/bot", base_file_url=f"{emu.root_url}/file/bot"
    ) as client:
        yield client


def jpeg(width: int = 640, height: int = 480, color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "JPEG")
    return out.getvalue()


def build_app(emu: BotApiEmulator) -> Application:
    return (
        ApplicationBuilder()
        .token(emu.token)
        .base_url(f"{emu.root_url}/bot")
        .base_file_url(f"{emu.root_url}/file/bot")
        .get_updates_read_timeout(5)
        .build()
    )


async def test_get_me_and_auth(emu: BotApiEmulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "vssid_test_bot"
    assert me.is_bot
    wrong = Bot("999:WRONG", base_url=f"{emu.root_url}/bot")
    try:
        with pytest.raises(InvalidToken):
            await wrong.initialize()
    finally:
        await wrong.shutdown()
    assert emu.spec_violations == []


async def test_unknown_method_is_404_and_a_violation(emu: BotApiEmulator) -> None:
    async with aiohttp.ClientSession() as http:
        url = f"{emu.root_url}/bot{emu.token}/sendMesage"
        async with http.post(url, json={"chat_id": 1, "text": "x"}) as resp:
            assert resp.status == 404
            assert await resp.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert emu.spec_violations == ["sendMesage: unknown method"]


async def test_application_long_polling_echo_and_buttons(emu: BotApiEmulator) -> None:
    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Đồng ý", callback_data="yes")]])
        await update.effective_message.reply_text(
            f"<b>Bạn nói:</b> {update.effective_message.text}",
            parse_mode=ParseMode.HTML,
            reply_markup=keyboard,
        )

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer("OK")
        await query.edit_message_text(f"Đã chọn: {query.data}")

    app = build_app(emu)
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(pressed))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=2, poll_interval=0)
        await emu.wait_until_polling()
        try:
            emu.send_text(USER, "xin chào")
            calls = await emu.next_bot_activity(USER)
            assert [c.method for c in calls] == ["sendMessage"]
            (msg,) = emu.messages(USER)
            assert msg.text == "<b>Bạn nói:</b> xin chào"
            assert msg.plain_text == "Bạn nói: xin chào"
            assert msg.entities == [{"type": "bold", "offset": 0, "length": 8}]
            assert msg.parse_mode == "HTML"
            assert buttons(msg) == [("Đồng ý", "yes")]

            emu.click(USER, "Đồng ý")
            await emu.wait_for(lambda: emu.messages(USER)[0].edited == 1)
            (edited,) = emu.messages(USER)
            assert edited.text == "Đã chọn: yes"
            assert edited.reply_markup is None  # editing text without markup drops the keyboard
            assert emu.callback_answers[0]["text"] == "OK"
        finally:
            await app.updater.stop()
            await app.stop()
    # the last getUpdates (offset) confirmed both updates
    assert emu.pending_updates == 0
    assert emu.spec_violations == []


async def test_get_updates_offset_limit_and_timeout(emu: BotApiEmulator, bot: Bot) -> None:
    emu.send_text(USER, "m0", first_name="Bình", language_code="en")
    ids = [emu.send_text(USER, f"m{i}") for i in range(3)]
    latest = (await bot.get_updates())[-1].message
    assert latest is not None and latest.from_user is not None
    assert (latest.from_user.first_name, latest.from_user.language_code) == ("Bình", "en")
    await bot.get_updates(offset=ids[0])
    first = await bot.get_updates(limit=2)
    assert [u.update_id for u in first] == ids[:2]
    again = await bot.get_updates()  # nothing confirmed yet
    assert [u.update_id for u in again] == ids
    rest = await bot.get_updates(offset=ids[1] + 1)
    assert [u.update_id for u in rest] == ids[2:]
    assert rest[0].message is not None and rest[0].message.text == "m2"
    assert emu.pending_updates == 1

    started = time.monotonic()
    empty = await bot.get_updates(offset=ids[2] + 1, timeout=1)
    assert empty == ()
    assert 0.9 <= time.monotonic() - started < 3


async def test_long_poll_wakes_up_immediately(emu: BotApiEmulator, bot: Bot) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=10, read_timeout=15))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    emu.send_command(USER, "/start")
    (update,) = await asyncio.wait_for(poll, 3)
    assert time.monotonic() - started < 1
    assert update.message is not None
    assert update.message.text == "/start"
    assert update.message.chat.id == USER
    assert update.message.from_user is not None and not update.message.from_user.is_bot
    assert update.message.entities[0].type == "bot_command"


async def test_stop_releases_pending_long_poll() -> None:
    emulator = BotApiEmulator()
    await emulator.start()
    async with aiohttp.ClientSession() as http:
        url = f"{emulator.root_url}/bot{emulator.token}/getUpdates"
        poll = asyncio.create_task(http.post(url, json={"timeout": 30}))
        await emulator.wait_until_polling()  # not a sleep: under load the poll comes late
        started = time.monotonic()
        await emulator.stop()
        resp = await asyncio.wait_for(poll, 3)
        assert (await resp.json())["result"] == []
        resp.release()
        assert time.monotonic() - started < 2


async def test_second_poller_terminates_the_first_with_409(emu: BotApiEmulator) -> None:
    async with aiohttp.ClientSession(base_url=emu.root_url) as http:
        url = f"/bot{emu.token}/getUpdates"
        first = asyncio.create_task(http.post(url, data={"timeout": "5"}))
        await emu.wait_until_polling()
        second = asyncio.create_task(http.post(url, data={"timeout": "5"}))
        resp = await asyncio.wait_for(first, 3)
        assert resp.status == 409
        assert (await resp.json())["description"].startswith("Conflict: terminated by other")
        resp.release()
        emu.send_text(USER, "hi")
        resp = await asyncio.wait_for(second, 3)
        assert [u["message"]["text"] for u in (await resp.json())["result"]] == ["hi"]
        resp.release()
        # error injection through the control API as well
        spec = {"method": "getMe", "error_code": 502, "description": "Bad Gateway"}
        async with http.post("/__control/fail_next", json=spec) as resp:
            assert resp.status == 200
        async with http.get(f"/bot{emu.token}/getMe") as resp:
            assert resp.status == 502
        async with http.get(f"/bot{emu.token}/getMe") as resp:
            assert (await resp.json())["result"]["username"] == "vssid_test_bot"


async def test_photo_round_trip_through_get_file(emu: BotApiEmulator, bot: Bot) -> None:
    data = jpeg(1280, 960)
    emu.send_photo(USER, data, caption="CCCD")
    (update,) = await bot.get_updates()
    message = update.message
    assert message is not None and message.caption == "CCCD"
    assert 2 <= len(message.photo) <= 3
    largest = message.photo[-1]
    assert (largest.width, largest.height) == (1280, 960)
    assert message.photo[0].width <= 90
    file = await largest.get_file()
    assert file.file_path is not None and file.file_size == len(data)
    assert bytes(await file.download_as_bytearray()) == data
    thumb = await (await message.photo[0].get_file()).download_as_bytearray()
    with Image.open(io.BytesIO(bytes(thumb))) as img:
        assert max(img.size) <= 90


async def test_file_too_big_for_get_file(emu: BotApiEmulator, bot: Bot) -> None:
    emu.send_document(
        USER, b"\0" * (20 * 1024 * 1024 + 1), file_name="big.pdf", mime_type="application/pdf"
    )
    (update,) = await bot.get_updates()
    assert update.message is not None and update.message.document is not None
    assert update.message.document.file_name == "big.pdf"
    with pytest.raises(BadRequest, match="File is too big"):
        await update.message.document.get_file()


async def test_send_photo_multipart_upload_is_stored(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_private_chat(USER)
    data = jpeg(300, 200, "blue")
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Chụp lại", callback_data="retake")]])
    sent = await bot.send_photo(
        USER,
        photo=data,
        caption="Ảnh <i>mặt trước</i>",
        parse_mode=ParseMode.HTML,
        reply_markup=markup,
    )
    assert sent.photo[-1].width == 300
    assert sent.caption == "Ảnh mặt trước"
    assert sent.reply_markup == markup
    (msg,) = emu.messages(USER)
    assert msg.kind == "photo" and msg.file == data
    assert msg.text == "Ảnh <i>mặt trước</i>" and msg.plain_text == "Ảnh mặt trước"
    assert buttons(msg) == [("Chụp lại", "retake")]
    (call,) = emu.calls("sendPhoto")
    assert call.files["photo"] == data
    # reply_markup travels as a JSON string form field inside the multipart body
    assert call.params["reply_markup"] == markup.to_dict()
    # a file_id of a known file can be re-sent without uploading
    again = await bot.send_photo(USER, photo=sent.photo[-1].file_id)
    assert emu.messages(USER)[-1].file == data and again.photo[-1].file_id == sent.photo[-1].file_id
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(USER, photo=b"not an image")


async def test_send_document_and_download(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_private_chat(USER)
    pdf = b"%PDF-1.4\n% emulator\n"
    sent = await bot.send_document(USER, document=pdf, filename="to_khai.pdf", caption="Tờ khai")
    assert sent.document is not None and sent.document.file_name == "to_khai.pdf"
    (msg,) = emu.messages(USER)
    assert (msg.kind, msg.file, msg.file_name, msg.caption) == (
        "document",
        pdf,
        "to_khai.pdf",
        "Tờ khai",
    )
    assert msg.mime_type == "application/pdf"
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == pdf


async def test_edit_identical_content_is_not_modified(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_private_chat(USER)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("A", callback_data="a")]])
    sent = await bot.send_message(USER, "Chọn", reply_markup=markup)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text("Chọn", USER, sent.message_id, reply_markup=markup)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=markup)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", USER, 999)
    edited = await bot.edit_message_text("Chọn", USER, sent.message_id)  # keyboard removed
    assert isinstance(edited, object)
    msg = emu.last_message(USER)
    assert msg.reply_markup is None and msg.edited == 1
    assert emu.spec_violations == []


async def test_injected_429_surfaces_as_retry_after(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_private_chat(USER)
    emu.fail_next(
        "sendMessage", error_code=429, description="Too Many Requests: retry after 7", retry_after=7
    )
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "hi")
    assert caught.value.retry_after.total_seconds() == 7  # type: ignore[union-attr]
    await bot.send_message(USER, "hi")  # only the next call failed
    assert [c.status for c in emu.calls("sendMessage")] == [429, 200]


async def test_injected_403_for_one_chat_and_blocked_user(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_private_chat(USER)
    emu.add_private_chat(USER + 1)
    emu.fail_next(
        "sendMessage",
        error_code=403,
        description="Forbidden: bot was blocked by the user",
        chat_id=USER + 1,
        times=2,
    )
    await bot.send_message(USER, "ok")
    for _ in range(2):
        with pytest.raises(Forbidden):
            await bot.send_message(USER + 1, "no")
    await bot.send_message(USER + 1, "ok")
    emu.block_bot(USER)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(USER, "no")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(4242, "never talked to us")


async def test_unknown_parameter_is_a_spec_violation(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_private_chat(USER)
    with pytest.raises(BadRequest, match="Unknown parameter"):
        await bot.send_message(USER, "hi", api_kwargs={"colour": "red"})
    assert emu.spec_violations == ["sendMessage: unknown parameter 'colour'"]
    assert emu.messages(USER) == []


async def test_callback_data_over_64_bytes_is_refused(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_private_chat(USER)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="đ" * 33)]])  # 66 bytes
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(USER, "hi", reply_markup=markup)
    assert any("callback_data" in v for v in emu.spec_violations)


async def test_text_limits_and_broken_markup(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_private_chat(USER)
    await bot.send_message(USER, "x" * 4096)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(USER, "x" * 4097)
    await bot.send_message(USER, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(USER, "Tên: <Nguyễn>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="reserved"):
        await bot.send_message(USER, "Xong.", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(USER, "  ")
    assert len(emu.spec_violations) == 4


async def test_reply_keyboard_and_contact(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_private_chat(USER)
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("Chia sẻ số điện thoại", request_contact=True)], ["Bỏ qua"]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )
    sent = await bot.send_message(USER, "Số điện thoại?", reply_markup=keyboard)
    assert sent.reply_markup is None  # Telegram echoes inline keyboards only
    msg = emu.last_message(USER)
    assert reply_keyboard(msg) == [
        ReplyButton("Chia sẻ số điện thoại", request_contact=True),
        ReplyButton("Bỏ qua"),
    ]
    assert emu.current_reply_keyboard(USER) == keyboard.to_dict()
    emu.send_contact(USER, "+84912345678")
    (update,) = await bot.get_updates()
    assert update.message is not None and update.message.contact is not None
    assert update.message.contact.user_id == USER
    assert update.message.contact.phone_number == "+84912345678"


async def test_other_user_content_parses(emu: BotApiEmulator, bot: Bot) -> None:
    emu.send_sticker(USER)
    emu.send_voice(USER)
    stickers, voices = await bot.get_updates()
    assert stickers.message is not None and stickers.message.sticker is not None
    assert voices.message is not None and voices.message.voice is not None


async def test_forum_topics_and_copy(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_forum_chat(STAFF_CHAT)
    topic = await bot.create_forum_topic(STAFF_CHAT, "#id5550001 An")
    emu.send_photo(USER, jpeg(), caption="mặt trước")
    (update,) = await bot.get_updates()
    assert update.message is not None
    user_mid = update.message.message_id
    copied = await bot.copy_message(
        STAFF_CHAT, USER, user_mid, message_thread_id=topic.message_thread_id
    )
    (msg,) = emu.messages(STAFF_CHAT)
    assert msg.message_id == copied.message_id and msg.message_thread_id == topic.message_thread_id
    assert (msg.kind, msg.caption, msg.copied_from) == ("photo", "mặt trước", (USER, user_mid))
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.send_message(STAFF_CHAT, "x", message_thread_id=topic.message_thread_id + 100)
    await bot.close_forum_topic(STAFF_CHAT, topic.message_thread_id)
    assert emu.topics(STAFF_CHAT)[topic.message_thread_id].closed

    # a staff reply inside the topic carries the topic-created service message as reply_to
    emu.send_group_text(STAFF_CHAT, 777, "Chào bạn", message_thread_id=topic.message_thread_id)
    (update,) = await bot.get_updates(offset=update.update_id + 1)
    staff = update.message
    assert staff is not None and staff.is_topic_message
    assert staff.from_user is not None and staff.from_user.first_name == "Staff"
    assert staff.message_thread_id == topic.message_thread_id
    assert staff.reply_to_message is not None and staff.reply_to_message.forum_topic_created

    emu.delete_topic(STAFF_CHAT, topic.message_thread_id)
    with pytest.raises(BadRequest, match="Message thread not found"):
        await bot.copy_message(
            STAFF_CHAT, USER, user_mid, message_thread_id=topic.message_thread_id
        )


async def test_commands_menu_and_chat_actions(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_private_chat(USER)
    await bot.set_my_commands([("start", "Bắt đầu"), ("cancel", "Huỷ")])
    assert [c.command for c in await bot.get_my_commands()] == ["start", "cancel"]
    await bot.set_chat_menu_button()
    await bot.send_chat_action(USER, "typing")
    with pytest.raises(BadRequest):
        await bot.set_my_commands([("Start-Now", "bad")])
    await bot.delete_webhook(drop_pending_updates=True)
    assert emu.spec_violations == []


async def test_control_api(emu: BotApiEmulator, bot: Bot) -> None:
    emu.add_private_chat(USER)
    update = {
        "message": {
            "chat": {"id": USER, "type": "private", "first_name": "An"},
            "from": {"id": USER, "is_bot": False, "first_name": "An"},
            "text": "hi",
        }
    }
    async with aiohttp.ClientSession(base_url=emu.root_url) as http:
        async with http.post("/__control/updates", json=update) as resp:
            update_id = (await resp.json())["result"]["update_id"]
        (got,) = await bot.get_updates()
        assert got.update_id == update_id and got.message is not None and got.message.text == "hi"
        await bot.send_message(USER, "chào")
        async with http.get("/__control/messages", params={"chat_id": str(USER)}) as resp:
            (msg,) = (await resp.json())["result"]
        assert msg["text"] == "chào" and msg["kind"] == "text"


async def test_wait_for_timeout_message_lists_recent_calls(emu: BotApiEmulator, bot: Bot) -> None:
    await bot.get_me()
    with pytest.raises(TimeoutError, match=r"getMe\(\) -> ok"):
        await emu.wait_for_messages(USER, 1, timeout=0.2)


def test_parse_text_offsets_are_utf16() -> None:
    parsed = parse_text("😀 <b>đậm</b> &lt;3", "HTML")
    assert parsed.text == "😀 đậm <3"
    assert parsed.entities == [{"type": "bold", "offset": 3, "length": 3}]
    v2 = parse_text("*Bước 1\\.* _tên_ [link](https://x.vn)", "MarkdownV2")
    assert v2.text == "Bước 1. tên link"
    assert [e["type"] for e in v2.entities] == ["bold", "italic", "text_link"]
    with pytest.raises(EntityParseError, match="Can't find end tag"):
        parse_text("<b>open", "HTML")
