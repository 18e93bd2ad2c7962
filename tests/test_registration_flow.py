"""The registration as a citizen lives it, through the real service and SQLite."""

from __future__ import annotations

import asyncio
import re

import pytest

from bot.flows.events import Event
from bot.service import Outcome
from bot.wiring import Components
from tests.conftest import FakeClock
from tests.story import Citizen, code_from_outbox, fill_until_review, photo_bytes


async def test_nothing_is_stored_before_consent(citizen: Citizen) -> None:
    texts = await citizen.command("start")
    assert "đồng ý" in texts[0]
    await citizen.says("0312345678")
    assert "đồng ý" in citizen.text
    assert await citizen.state() == "(nothing stored)"
    await citizen.presses("Không đồng ý")
    assert await citizen.state() == "(nothing stored)"


async def test_consent_is_recorded_with_its_version_and_time(
    citizen: Citizen, parts: Components
) -> None:
    await citizen.agrees()
    rows = await parts.db.fetch("SELECT user_key, version, given_at FROM consents")
    assert rows == [("tg:1001", "2026-11-v1", "2026-11-23T03:00:00+00:00")]
    assert "Mã số BHXH" in citizen.text


async def test_a_citizen_completes_a_registration_and_gets_a_receipt(
    citizen: Citizen, parts: Components
) -> None:
    await fill_until_review(citizen)
    assert await citizen.state() == "review"
    summary = citizen.text
    assert "Nguyễn Văn An" in summary
    assert "001 099 012 345" in summary  # the citizen's own chat: whole, grouped for reading
    assert "Phường Gia Viên" in summary and "Thành phố Hải Phòng" in summary
    await citizen.presses("Xác nhận")
    await citizen.presses("otp:via:email")
    assert "a***@example.com" in citizen.text
    code = await code_from_outbox(parts)
    await citizen.says(code)
    receipt = re.search(r"\d{5}\.GD/2026/\d{3,5}", citizen.text)
    assert receipt, citizen.text
    assert "1900 9068" in citizen.text
    assert await citizen.state() == "done"
    [stored] = await parts.service.declarations.for_user("tg:1001")
    assert stored.receipt == receipt.group(0)
    assert stored.data["full_name"] == "Nguyễn Văn An"
    assert stored.data["phone"] == "+84983847986"


async def test_a_citizen_who_types_a_9_digit_bhxh_code_is_asked_again(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.says("123456789")
    assert "10 chữ số" in citizen.text and "9" in citizen.text
    assert await citizen.state() == "bhxh_code"
    await citizen.says("HS4310312345678")
    assert (await citizen.answers())["bhxh_code"] == "0312345678"
    assert await citizen.state() == "full_name"


async def test_wording_grows_more_helpful_and_the_third_failure_offers_help(
    citizen: Citizen,
) -> None:
    await citizen.agrees()
    await citizen.says("abc")
    assert citizen.keys == ["err.bhxh_not_digits"]
    await citizen.says("12")
    assert citizen.keys == ["err.bhxh_length", "hint.bhxh_code"]
    await citizen.says("xyz")
    assert citizen.keys[-1] == "help.offer" and "1900 9068" in citizen.text


async def test_a_9_digit_cmnd_is_refused_with_the_reason(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.answers_in_turn("0312345678", "Nguyễn Văn An", "123 456 789")
    assert "01/01/2025" in citizen.text
    await citizen.says("B1234567")
    await citizen.presses("passport_confirm:yes")
    assert (await citizen.answers())["id_type"] == "passport"


async def test_stickers_photos_and_novels_get_a_polite_sentence(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.sends(kind="other", other_kind="sticker")
    assert "nhãn dán" in citizen.text
    await citizen.sends_photo()  # a picture with no QR code where the BHYT card could be read
    assert "mã QR" in citizen.text and "gõ thông tin" in citizen.text
    await citizen.says("0312345678")
    await citizen.sends_photo()
    assert "một ảnh" in citizen.text and "gõ chữ" in citizen.text
    await citizen.says("x" * 4000)
    assert "quá dài" in citizen.text
    assert await citizen.state() == "full_name"


async def test_text_where_a_photo_is_asked_is_explained(citizen: Citizen) -> None:
    await fill_until_review(citizen)
    await citizen.presses("review:edit:portrait")
    await citizen.says("đây là ảnh")
    assert "cần một ảnh" in citizen.text
    await citizen.sends_photo(photo_bytes(400, 300))
    assert "quá nhỏ" in citizen.text and "600" in citizen.text
    await citizen.sends(kind="document", data=b"%PDF-1.4 not a picture", file_name="a.pdf")
    assert "không phải là ảnh" in citizen.text
    await citizen.sends_photo(photo_bytes(seed=9))
    assert await citizen.state() == "review"


async def test_after_an_edit_the_citizen_returns_to_the_review(citizen: Citizen) -> None:
    await fill_until_review(citizen)
    await citizen.presses("review:edit:full_name")
    assert await citizen.state() == "full_name"
    await citizen.says("trần thị bích ngọc")
    assert await citizen.state() == "review"
    assert "Trần Thị Bích Ngọc" in citizen.text
    await citizen.presses("review:edit:address")
    await citizen.says("ha noi")
    assert await citizen.state() == "commune"
    await citizen.says("phuc tho")
    await citizen.says("Thôn 4")
    assert await citizen.state() == "agency"  # the Hải Phòng agency does not follow the move
    await citizen.presses("agency:pick:")
    assert await citizen.state() == "review"
    assert "Xã Phúc Thọ" in citizen.text


async def test_a_citizen_can_pick_the_province_from_paged_buttons(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.answers_in_turn("0312345678", "Nguyễn Văn An", "001099012345")
    first_page = [label for label, _ in citizen.buttons()]
    await citizen.presses("province:page:1")
    assert citizen.replies[0].edit
    second_page = [label for label, _ in citizen.buttons()]
    assert set(first_page).isdisjoint(set(second_page) - {"◀ Trước"})
    await citizen.presses("province:pick:")
    assert await citizen.state() == "commune"


async def test_five_wrong_codes_lock_and_a_new_code_works_after_the_lock(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await fill_until_review(citizen)
    await citizen.presses("review:confirm")
    await citizen.presses("otp:via:email")
    good = await code_from_outbox(parts)
    wrong = f"{(int(good) + 1) % 1_000_000:06d}"
    for _ in range(4):
        await citizen.says(wrong)
        assert citizen.keys == ["otp.wrong"]
    await citizen.says(wrong)
    assert citizen.keys[0] == "otp.locked"
    await citizen.says(good)
    assert citizen.keys[0] == "otp.locked"
    await citizen.presses("otp:resend")
    assert citizen.keys[0] == "otp.locked"  # the lock, with its end, says why no code comes
    clock.advance(minutes=16)
    await citizen.presses("otp:resend")
    assert citizen.keys[0] == "otp.sent_email"
    fresh = await code_from_outbox(parts)
    await citizen.says(fresh)
    assert await citizen.state() == "done"


async def test_an_expired_code_is_refused_and_resend_is_throttled(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await fill_until_review(citizen, email=None)
    await citizen.presses("review:confirm")
    assert "SMS" in citizen.text and "+8498****986" in citizen.text
    code = await code_from_outbox(parts)
    await citizen.presses("otp:resend")
    assert citizen.keys[0] == "otp.wait"
    clock.advance(minutes=6)
    await citizen.says(code)
    assert citizen.keys[0] == "otp.expired"


async def test_status_says_where_the_citizen_is_and_what_is_missing(citizen: Citizen) -> None:
    await citizen.command("status")
    assert "chưa bắt đầu" in citizen.text
    await citizen.agrees()
    await citizen.says("0312345678")
    await citizen.command("status")
    assert "họ và tên" in citizen.text.lower()
    assert "Ảnh chân dung" in citizen.text


async def test_start_resumes_where_the_citizen_stopped(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.says("0312345678")
    citizen.parts.service.conversations.forget_cache()
    await citizen.command("start")
    assert citizen.keys == ["start.resume", "ask.full_name"]


async def test_language_switches_to_english_and_back(citizen: Citizen) -> None:
    await citizen.command("start")
    await citizen.presses("English")
    assert "Do you agree" in citizen.text
    await citizen.presses("I agree")
    assert "BHXH code" in citizen.text
    await citizen.command("language")
    await citizen.presses("Tiếng Việt")
    assert "Mã số BHXH" in citizen.text


async def test_cancel_deletes_the_answers_and_photos(citizen: Citizen, parts: Components) -> None:
    await fill_until_review(citizen)
    assert len(list((parts.settings.vssid_data_dir / "photos").iterdir())) == 3
    await citizen.command("cancel")
    await citizen.presses("g:cancel:yes")
    assert await citizen.state() == "(nothing stored)"
    assert list((parts.settings.vssid_data_dir / "photos").iterdir()) == []


async def test_photos_are_encrypted_at_rest(citizen: Citizen, parts: Components) -> None:
    await fill_until_review(citizen)
    answers = await citizen.answers()
    stored = (parts.settings.vssid_data_dir / "photos" / f"{answers['portrait']}.bin").read_bytes()
    assert b"JFIF" not in stored and not stored.startswith(b"\xff\xd8")
    clear = await parts.service.photos.get(answers["portrait"])
    assert clear.startswith(b"\xff\xd8")


async def test_the_phone_can_be_shared_with_the_contact_button(citizen: Citizen) -> None:
    await citizen.agrees()
    for answer in ("0312345678", "Nguyễn Văn An", "001099012345", "hcm"):
        await citizen.says(answer)
    await citizen.presses("commune:pick:")
    await citizen.says("12 Nguyễn Huệ")
    assert citizen.replies[-1].keyboard == "contact"
    await citizen.sends(kind="contact", text="+84912345678", contact_is_own=False)
    assert "người khác" in citizen.text
    await citizen.sends(kind="contact", text="84912345678", contact_is_own=True)
    assert (await citizen.answers())["phone"] == "+84912345678"
    assert any(r.keyboard == "remove" for r in citizen.replies)


async def start_address(citizen: Citizen) -> None:
    await citizen.agrees()
    for answer in ("0312345678", "Nguyễn Văn An", "001099012345"):
        await citizen.says(answer)


async def test_an_old_three_level_address_is_mapped_to_its_2025_commune(
    citizen: Citizen,
) -> None:
    await start_address(citizen)
    await citizen.says("Đằng Giang, Ngô Quyền, Hải Phòng")
    assert "Phường Gia Viên, Thành phố Hải Phòng" in citizen.text
    assert "trước đây: Phường Đằng Giang, Quận Ngô Quyền" in citizen.text
    await citizen.presses("province:whole:11359")
    answers = await citizen.answers()
    assert answers["commune_code"] == "11359" and answers["province_code"] == "31"
    assert answers["address_as_typed"] == "Đằng Giang, Ngô Quyền, Hải Phòng"
    assert await citizen.state() == "street"


async def test_a_whole_address_with_its_street_skips_to_the_phone(citizen: Citizen) -> None:
    await start_address(citizen)
    await citizen.says("Tổ 3, Ấp An Thái, Hòa Bình, Chợ Mới, An Giang")
    assert "Xã Hội An" in citizen.text
    await citizen.presses("province:whole:")
    assert (await citizen.answers())["street"] == "Tổ 3, Ấp An Thái"
    assert await citizen.state() == "phone"


async def test_a_split_ward_lets_the_citizen_choose_the_new_commune(citizen: Citizen) -> None:
    await start_address(citizen)
    await citizen.says("Lạch Tray, Ngô Quyền, Hải Phòng")
    choices = [data for _, b in citizen.buttons() if (data := b.data).startswith("province:whole:")]
    assert len(choices) >= 3  # at least two communes and "choose again"
    await citizen.presses("province:whole:no")
    assert await citizen.state() == "province"
    await citizen.says("Lạch Tray, Ngô Quyền, Hải Phòng")
    await citizen.presses("province:whole:11359")
    assert await citizen.state() == "street"


async def test_the_review_shows_the_former_address_beside_the_new_one(citizen: Citizen) -> None:
    await fill_until_review(citizen)
    await citizen.presses("review:edit:address")
    await citizen.says("Số 5 Lạch Tray, Đằng Giang, Ngô Quyền, Hải Phòng")
    await citizen.presses("province:whole:11359")
    assert await citizen.state() == "review"
    assert "Số 5 Lạch Tray, Phường Gia Viên, Thành phố Hải Phòng (trước đây:" in citizen.text


async def test_with_email_and_phone_the_citizen_chooses_where_the_code_goes(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await fill_until_review(citizen)
    await citizen.presses("review:confirm")
    assert citizen.keys[-1] == "otp.choose_channel"
    labels = [label for label, _ in citizen.buttons()]
    assert labels == ["📧 Email a***@example.com", "📱 SMS +8498****986"]
    await citizen.says("123456")
    assert citizen.keys[0] == "otp.choose_first"
    await citizen.presses("otp:via:sms")
    assert "SMS" in citizen.text
    [sms] = await parts.outbox.latest(limit=1)
    assert sms.channel == "sms" and sms.recipient == "+84983847986"
    clock.advance(minutes=1, seconds=1)
    await citizen.presses("otp:via:email")
    [mail] = await parts.outbox.latest(limit=1)
    assert mail.channel == "email"
    await citizen.says(await code_from_outbox(parts))
    assert await citizen.state() == "done"


async def test_one_address_cannot_be_flooded_with_codes_from_several_accounts(
    parts: Components, clock: FakeClock
) -> None:
    first, second = Citizen(parts, "tg:3001"), Citizen(parts, "tg:3002")
    for citizen in (first, second):
        await fill_until_review(citizen, email="same@example.com")
        await citizen.presses("review:confirm")
    await first.presses("otp:via:email")
    assert first.keys[0] == "otp.sent_email"
    await second.presses("otp:via:email")
    assert second.keys[0] == "otp.address_busy"
    assert len(await parts.outbox.latest("same@example.com")) == 1
    await second.says(await code_from_outbox(parts))  # the first citizen's code
    assert await second.state() == "otp"
    clock.advance(minutes=1, seconds=1)
    await second.presses("otp:resend")
    assert second.keys[0] == "otp.sent_email"


async def test_a_slow_photo_download_is_not_overtaken_by_the_next_message(
    citizen: Citizen, parts: Components
) -> None:
    await citizen.agrees()
    answered: list[str] = []

    async def slow_card_photo() -> Event:
        await asyncio.sleep(0.2)  # a large photo still downloading
        return Event.typed("0312345678")

    async def deliver(outcome: Outcome) -> None:
        answered.append(outcome.replies[-1].key)

    first = asyncio.create_task(parts.service.handle("tg:1001", slow_card_photo, deliver))
    await asyncio.sleep(0)  # the photo arrived first
    second = asyncio.create_task(
        parts.service.handle("tg:1001", Event.typed("Nguyễn Văn An"), deliver)
    )
    await asyncio.gather(first, second)
    assert answered == ["ask.full_name", "ask.id_number"]


async def test_a_fault_while_handling_a_message_gets_an_apology_and_loses_nothing(
    citizen: Citizen, parts: Components, monkeypatch: pytest.MonkeyPatch
) -> None:
    await citizen.agrees()
    await citizen.says("0312345678")

    def broken(*_: object) -> list[object]:
        raise RuntimeError("a bug")

    with monkeypatch.context() as patch:
        patch.setattr(parts.service.flow, "handle", broken)
        await citizen.says("Nguyễn Văn An")
    assert citizen.keys == ["err.internal"] and "1900 9068" in citizen.text
    assert await citizen.state() == "full_name"
    await citizen.says("Nguyễn Văn An")
    assert await citizen.state() == "id_number"
