"""The chat as a citizen lives it: Vietnamese first, answers typed the way people type them,
their own numbers readable, waits in minutes and Vietnam time, agency data that does not
pretend (issue 10, "The chat")."""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from pathlib import Path

import pytest
from pypdf import PdfReader

from bot.__main__ import main
from bot.declaration_pdf import agency_info, render_declaration_pdf
from bot.flows.agencies import import_agencies, load_directory
from bot.flows.events import Event
from bot.flows.places import catalogue
from bot.flows.steps.base import COMMANDS
from bot.i18n import Translator
from bot.wiring import Components, build
from tests.conftest import START, FakeClock, make_settings
from tests.story import (
    BHYT_NEW,
    CCCD_2021,
    TYPED_UNTIL_PHONE,
    Citizen,
    code_from_outbox,
    fill_until_review,
    photo_bytes,
    qr_photo,
)
from tests.test_telegram_e2e import Running, telegram  # noqa: F401 - the emulator fixture

EVERY_COMMAND = ("/start", "/register", "/status", "/cancel", "/language", "/help", "/deletemydata")
HEADER = "code,name,province_code,communes,address,phone,active,confirmed\n"


# ------------------------------------------------------------------ Vietnamese first


async def test_a_citizen_whose_telegram_speaks_english_is_greeted_in_vietnamese(
    citizen: Citizen,
) -> None:
    await citizen.send(Event(kind="command", command="start", language_hint="en"))
    assert citizen.locale == "vi" and "Xin chào" in citizen.text
    labels = [label for label, _ in citizen.buttons()]
    assert "English" in labels
    await citizen.presses("English")
    assert citizen.locale == "en" and "Hello" in citizen.text  # the same question, in English
    await citizen.says("yes")  # typed, in English: the conversation stays in English
    assert citizen.locale == "en" and await citizen.state() == "bhxh_code"
    assert "BHXH code" in citizen.text


async def test_a_bot_set_to_english_greets_in_english_with_a_vietnamese_button(
    tmp_path: Path, clock: FakeClock
) -> None:
    parts = await build(make_settings(tmp_path, bot_default_locale="en"), clock)
    try:
        citizen = Citizen(parts, "tg:4401")
        await citizen.send(Event(kind="command", command="start", language_hint="vi"))
        assert citizen.locale == "en" and "Hello" in citizen.text
        await citizen.presses("Tiếng Việt")
        assert citizen.locale == "vi" and "Xin chào" in citizen.text
    finally:
        await parts.close()


async def test_over_telegram_an_english_client_is_greeted_in_vietnamese_and_register_is_in_the_menu(
    telegram: Running,  # noqa: F811
) -> None:
    telegram.emu.send_text(7101, "/start", language_code="en")
    user = telegram.user(7101)
    greeting = await user._activity()  # noqa: SLF001 - the answer to the message just sent
    assert "Xin chào" in greeting
    switched = await user.presses("English")
    assert "Hello" in switched and "Xin chào" not in switched
    for language in ("vi", "en"):
        [menu] = [
            c for c in telegram.emu.calls("setMyCommands") if c.params["language_code"] == language
        ]
        names = [c["command"] for c in menu.params["commands"]]
        assert {"start", "register", "help", "deletemydata"} <= set(names)


# ------------------------------------------------------------------ commands


async def test_register_starts_the_registration_and_later_resumes_it(citizen: Citizen) -> None:
    await citizen.command("register")
    assert "đồng ý" in citizen.text
    await citizen.presses("consent:yes:")
    await citizen.says("0312345678")
    await citizen.command("register")
    assert citizen.keys[0] == "start.resume" and "Họ và tên" in citizen.text
    assert await citizen.state() == "full_name"


async def test_help_and_an_unknown_command_list_every_command(citizen: Citizen) -> None:
    await citizen.command("help")
    assert all(command in citizen.text for command in EVERY_COMMAND), citizen.text
    await citizen.command("dangky")
    assert "/dangky" in citizen.text
    assert all(command in citizen.text for command in EVERY_COMMAND), citizen.text
    translator = Translator()
    for language in ("vi", "en"):
        for key in ("help.text", "help.text_agency", "err.unknown_command"):
            shown = translator.text(language, key, {"commands": COMMANDS})
            assert all(command in shown for command in EVERY_COMMAND), (language, key)


# ------------------------------------------------------------------ typed answers to buttons


async def test_typing_co_or_khong_answers_a_yes_no_question(citizen: Citizen) -> None:
    await citizen.command("start")
    await citizen.says("có")
    assert await citizen.state() == "bhxh_code"  # consent given by typing
    await citizen.answers_in_turn(*TYPED_UNTIL_PHONE, "0983 847 986")
    assert await citizen.state() == "email_choice"
    await citizen.says("khong")
    assert citizen.keys[0] == "note.email_no" and await citizen.state() == "portrait"


@pytest.mark.parametrize("typed", ["1", "Có, nhận qua email", "CO, NHAN QUA EMAIL", "yes", "ok"])
async def test_a_button_answered_by_its_number_its_text_or_yes(
    citizen: Citizen, typed: str
) -> None:
    await citizen.agrees()
    await citizen.answers_in_turn(*TYPED_UNTIL_PHONE, "0983 847 986")
    await citizen.says(typed)
    assert citizen.keys[0] == "note.email_yes" and await citizen.state() == "email"


async def test_at_the_review_typing_a_field_name_edits_it(citizen: Citizen) -> None:
    await fill_until_review(citizen)
    await citizen.says("ho va ten")
    assert await citizen.state() == "full_name"
    await citizen.says("Nguyễn Văn Bình")
    assert await citizen.state() == "review"
    await citizen.says("đúng")  # "it is right": confirm, as the confirm button does
    assert await citizen.state() == "otp" and citizen.keys[-1] == "otp.choose_channel"


async def test_a_card_reading_is_confirmed_by_typing_dung(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.sends_photo(qr_photo(BHYT_NEW))
    await citizen.says("Đúng")
    assert (await citizen.answers())["bhxh_code"] == "0312345678"
    assert await citizen.state() == "id_number"


async def test_cancel_answered_khong_at_a_typed_step_keeps_everything(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.says("0312345678")
    await citizen.command("cancel")
    await citizen.says("không")
    assert citizen.keys[0] == "cancel.kept" and await citizen.state() == "full_name"
    assert (await citizen.answers())["bhxh_code"] == "0312345678"


async def test_a_language_is_chosen_by_typing_its_name(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.command("language")
    await citizen.says("english")
    assert citizen.locale == "en" and "BHXH" in citizen.text


async def test_numbers_typed_at_a_question_answered_by_typing_stay_typed_answers(
    citizen: Citizen, parts: Components
) -> None:
    await citizen.agrees()
    await citizen.answers_in_turn("0312345678", "Nguyễn Văn An", "001099012345")
    await citizen.says("1")  # the province question shows buttons, but "1" is no province
    assert await citizen.state() == "province" and "province_code" not in await citizen.answers()
    other = Citizen(parts, "tg:4402")
    await fill_until_review(other)
    await other.presses("review:confirm")
    await other.presses("otp:via:email")
    await other.says("1")  # a short code, not the first button ("send a new code")
    assert other.keys == ["err.otp_format"]
    assert len(await parts.outbox.latest()) == 1


async def test_an_answer_that_matches_no_button_gets_the_usual_reply(citizen: Citizen) -> None:
    await citizen.command("start")
    await citizen.says("xin chào")
    assert citizen.keys[0] == "consent.needed"
    await citizen.says("7")  # three buttons only
    assert citizen.keys[0] == "consent.needed"
    assert await citizen.state() == "(nothing stored)"


# ------------------------------------------------------------------ the citizen's own numbers


async def test_the_review_shows_the_citizens_full_numbers_grouped_for_reading(
    citizen: Citizen, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    caplog.set_level(logging.DEBUG, logger="storage")
    await fill_until_review(citizen)
    assert "001 099 012 345" in citizen.text
    assert "03 1234 5678" in citizen.text
    logged = caplog.text.replace(" ", "")
    assert "001099012345" not in logged and "0312345678" not in logged


async def test_the_qr_confirmation_shows_the_full_card_numbers(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.sends_photo(qr_photo(BHYT_NEW))
    assert "03 1234 5678" in citizen.text
    await citizen.presses("bhxh_code:card:yes")
    await citizen.sends_photo(qr_photo(CCCD_2021))
    assert "031 099 012 345" in citizen.text and "*" not in citizen.text


# ------------------------------------------------------------------ waits, words, places


async def test_a_wait_for_a_new_code_is_said_in_minutes_and_vietnam_time(
    citizen: Citizen,
) -> None:
    await fill_until_review(citizen, email=None)
    await citizen.presses("review:confirm")
    await citizen.presses("otp:resend")
    assert citizen.keys[0] == "otp.wait"
    assert "1 phút" in citizen.text and "10:01 giờ Việt Nam" in citizen.text
    assert "giây" not in citizen.text


def test_no_message_counts_a_wait_in_seconds() -> None:
    translator = Translator()
    for language in ("vi", "en"):
        for key in translator.keys(language):
            text = translator.catalogues[language][key]
            assert "{seconds}" not in text, (language, key)
    assert "giờ Việt Nam" in translator.text("vi", "otp.locked", {"time": "10:15"})
    assert "Vietnam time" in translator.text("en", "otp.locked", {"time": "10:15"})


async def test_a_phone_that_got_too_many_codes_is_called_a_phone_not_an_address(
    parts: Components, clock: FakeClock
) -> None:
    first, second = Citizen(parts, "tg:4501"), Citizen(parts, "tg:4502")
    for citizen in (first, second):
        await fill_until_review(citizen, email=None)  # the same phone
        await citizen.presses("review:confirm")
    assert second.keys[-1] == "otp.address_busy"
    assert "Số điện thoại" in second.text and "Địa chỉ" not in second.text
    assert "giờ Việt Nam" in second.text


async def test_other_agencies_are_in_the_city_for_a_city_and_in_the_province_for_a_province(
    citizen: Citizen, parts: Components
) -> None:
    await fill_until_review(citizen)  # Hải Phòng, a city
    await citizen.presses("review:edit:agency")
    assert "Các cơ quan khác trong thành phố" in [label for label, _ in citizen.buttons()]
    await citizen.presses("agency:all")
    assert "trong thành phố" in citizen.text
    other = Citizen(parts, "tg:4601")
    await other.agrees()
    await other.answers_in_turn("0312345678", "Nguyễn Văn An", "001099012345", "cao bang")
    await other.says("khong co xa nay")
    assert "trong tỉnh này" in other.text


async def test_the_commune_example_belongs_to_the_chosen_province(citizen: Citizen) -> None:
    places = catalogue()
    await citizen.agrees()
    await citizen.answers_in_turn("0312345678", "Nguyễn Văn An", "001099012345", "cao bang")
    example = re.search(r"\(ví dụ: ([^)]+)\)", citizen.text)
    assert example, citizen.text
    assert "Gia Vien" not in citizen.text
    [found] = places.find_communes("04", example.group(1))[:1]
    assert found.province_code == "04"
    await citizen.says(example.group(1))  # the example works as typed
    assert await citizen.state() == "street"


def test_provinces_and_communes_are_in_vietnamese_alphabetical_order() -> None:
    places = catalogue()
    provinces = [p.short_name for p in places.provinces()]
    assert provinces[:2] == ["Hà Nội", "Hồ Chí Minh"]  # most citizens: kept on top
    rest = provinces[2:]
    for before, after in [
        ("Cà Mau", "Cao Bằng"),
        ("Cao Bằng", "Cần Thơ"),
        ("Đà Nẵng", "Đắk Lắk"),
        ("Đắk Lắk", "Điện Biên"),
        ("Hà Tĩnh", "Hải Phòng"),
        ("Huế", "Hưng Yên"),
        ("Lai Châu", "Lạng Sơn"),
        ("Lạng Sơn", "Lào Cai"),
        ("Lào Cai", "Lâm Đồng"),
    ]:
        assert rest.index(before) < rest.index(after), (before, after)
    cao_bang = [c.short_name for c in places.communes("04")]
    for before, after in [("Ca Thành", "Canh Tân"), ("Canh Tân", "Cần Yên"), ("Cô Ba", "Cốc Pàng")]:
        assert cao_bang.index(before) < cao_bang.index(after), (before, after)
    can_tho = [c.short_name for c in places.communes("92")]
    assert can_tho.index("Hòa An") < can_tho.index("Hỏa Lựu") < can_tho.index("Hồ Đắc Kiện")


async def test_the_province_buttons_follow_vietnamese_order(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.answers_in_turn("0312345678", "Nguyễn Văn An", "001099012345")
    labels = [label for label, _ in citizen.buttons()]
    names = ("Tỉnh Cà Mau", "Tỉnh Cao Bằng", "Thành phố Cần Thơ")
    shown = [label for label in labels if label in names]
    assert shown == ["Tỉnh Cà Mau", "Tỉnh Cao Bằng", "Thành phố Cần Thơ"], labels


# ------------------------------------------------------------------ honest agency data


async def pick_hanoi_agency(citizen: Citizen) -> str:
    """A citizen of Hà Nội up to the agency, whose chosen agency's note is returned."""
    await citizen.agrees()
    await citizen.answers_in_turn(
        "0312345678", "Nguyễn Văn An", "001099012345", "ha noi", "ba dinh", "Số 1 Phan Đình Phùng"
    )
    await citizen.says("0983 847 986")
    await citizen.presses("email_choice:no")
    for seed in (1, 2, 3):
        await citizen.sends_photo(photo_bytes(seed=seed))
    await citizen.presses("agency:pick:001")
    return citizen.text


async def note_after_import(tmp_path: Path, clock: FakeClock, row: str) -> str:
    """The operator imports ``row``; a citizen of Hà Nội then picks that agency."""
    data = tmp_path / "data"
    checked = tmp_path / "checked.csv"
    checked.write_text(HEADER + row + "\n", encoding="utf-8")
    import_agencies(checked, data)
    parts = await build(make_settings(data), clock)
    try:
        return await pick_hanoi_agency(Citizen(parts, "tg:4701"))
    finally:
        await parts.close()


async def test_an_unconfirmed_agency_is_not_presented_as_fact(
    citizen: Citizen, parts: Components
) -> None:
    note = await pick_hanoi_agency(citizen)
    assert "BHXH thành phố Hà Nội" in note
    assert "Tô Hiệu" not in note and "Quận Hà Đông" not in note and "3723" not in note
    assert "1900 9068" in note and "chưa được xác nhận" in note
    await citizen.command("help")
    assert "3723" not in citizen.text and "1900 9068" in citizen.text
    await citizen.command("start")  # back to the review
    await citizen.presses("review:confirm")
    await citizen.says(await code_from_outbox(parts))
    assert await citizen.state() == "done"
    assert "Tô Hiệu" not in citizen.text and "3723" not in citizen.text
    assert "1900 9068" in citizen.text


async def test_an_agency_the_operator_imported_is_shown_with_its_address_and_phone(
    tmp_path: Path, clock: FakeClock
) -> None:
    row = '001,BHXH thành phố Hà Nội,01,,"162 Tô Hiệu, phường Hà Đông, Hà Nội",024.37236555,yes,'
    note = await note_after_import(tmp_path, clock, row)
    assert load_directory(tmp_path / "data").by_code("001").confirmed  # type: ignore[union-attr]
    assert "162 Tô Hiệu, phường Hà Đông, Hà Nội" in note and "024 3723 6555" in note
    assert "chưa được xác nhận" not in note


async def test_an_address_naming_a_district_abolished_in_2025_is_never_shown(
    tmp_path: Path, clock: FakeClock
) -> None:
    row = '001,BHXH thành phố Hà Nội,01,,"162 Tô Hiệu, Quận Hà Đông, Hà Nội",024.37236555,yes,yes'
    note = await note_after_import(tmp_path, clock, row)
    assert "Quận Hà Đông" not in note and "Tô Hiệu" not in note
    assert "024 3723 6555" in note and "1900 9068" in note


def test_an_explicit_no_in_an_import_keeps_the_row_unconfirmed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    unsure = tmp_path / "unsure.csv"
    unsure.write_text(HEADER + "03103,BHXH cơ sở Lê Chân,31,,,,yes,no\n", encoding="utf-8")
    import_agencies(unsure, data)
    directory = load_directory(data)
    assert not directory.by_code("03103").confirmed  # type: ignore[union-attr]
    assert not directory.by_code("031").confirmed  # type: ignore[union-attr] # the seed


def test_the_declaration_pdf_shows_no_unconfirmed_address_or_phone() -> None:
    agency = agency_info(load_directory().by_code("001"))  # the seed: unconfirmed
    declaration = {
        "bhxh_code": "0312345678",
        "full_name": "Nguyễn Văn An",
        "id_number": "001099012345",
        "province_code": "01",
        "street": "Số 1 Phan Đình Phùng",
        "phone": "+84983847986",
        "agency_code": "001",
        "locale": "vi",
    }
    receipt = "00001.GD/2026/001"
    pdf = render_declaration_pdf(declaration, receipt, agency, START, "vi", Translator())
    pages = PdfReader(io.BytesIO(pdf)).pages
    text = unicodedata.normalize("NFC", "\n".join(page.extract_text() for page in pages))
    assert "BHXH thành phố Hà Nội" in text
    assert "Tô Hiệu" not in text and "3723" not in text


def test_the_operator_sees_which_addresses_citizens_are_not_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VSSID_DATA_DIR", str(tmp_path / "data"))
    assert main(["agencies", "list", "--province", "01"]) == 0
    [hanoi] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[001]")]
    assert "unconfirmed" in hanoi and "pre-2025 district" in hanoi
