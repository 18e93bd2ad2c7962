"""Answers an officer would send back days later: well-formed, but wrong.

A passport number that is a place name, a street of emojis, a name without its diacritics,
a card photo whose QR carries another number than the one typed, an agency left in the
province the citizen moved away from, an e-mail at ``gmial.com``, a picture with nothing
in it. Each is caught while the citizen is still in the chat, politely, and nothing they
gave is lost.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot.flows import email_typos
from bot.flows import validators as v
from bot.flows.events import Event
from bot.flows.photos import CheckedPhoto, PhotoProblem, check_photo
from tests.conftest import START
from tests.story import (
    CCCD_2021,
    CCCD_2024,
    TYPED_UNTIL_PHONE,
    Citizen,
    fill_until_review,
    photo_bytes,
    qr_photo,
)

TODAY = START.date()


async def reach_the_id_question(c: Citizen) -> None:
    await c.agrees()
    await c.answers_in_turn("0312345678", "Nguyễn Văn An")
    assert await c.state() == "id_number"


async def reach_the_email_question(c: Citizen) -> None:
    await c.agrees()
    await c.answers_in_turn(*TYPED_UNTIL_PHONE, "0983 847 986")
    await c.presses("email_choice:yes")
    assert await c.state() == "email"


async def reach_the_id_photos(c: Citizen) -> None:
    """Up to the front of the card, the ID number 001099012345 typed."""
    await c.agrees()
    await c.answers_in_turn(*TYPED_UNTIL_PHONE, "0983 847 986")
    await c.presses("email_choice:no")
    await c.sends_photo(photo_bytes(seed=1))
    assert await c.state() == "id_front"


async def reach_the_id_photos_with(c: Citizen, name: str, number: str) -> None:
    """Up to the front of the card (or the passport page), ``number`` typed as the ID."""
    await c.agrees()
    await c.answers_in_turn("0312345678", name, number)
    if await c.state() == "passport_confirm":
        await c.presses("passport_confirm:yes")
    await c.answers_in_turn(*TYPED_UNTIL_PHONE[3:], "0983 847 986")
    await c.presses("email_choice:no")
    await c.sends_photo(photo_bytes(seed=1))


# ------------------------------------------------------------------ passport numbers
@pytest.mark.parametrize("typed", ["hai phong", "khong biet", "HAIPHONG", "abcdefgh"])
async def test_a_citizen_who_types_hai_phong_at_the_id_step_is_asked_again(
    citizen: Citizen, typed: str
) -> None:
    await reach_the_id_question(citizen)
    await citizen.says(typed)
    assert await citizen.state() == "id_number"
    assert "id_number" not in await citizen.answers()
    assert citizen.keys[0].startswith("err.id_")
    # What an ID or passport number looks like, in the citizen's language.
    assert "12 chữ số" in citizen.text and "hộ chiếu" in citizen.text
    assert "HAI" not in citizen.text  # nothing taken as a passport


def test_a_passport_number_has_a_shape() -> None:
    assert v.id_number("c1234567", TODAY) == v.Valid("C1234567", {"type": "passport"})
    assert v.id_number("X12AB3456", TODAY) == v.Valid("X12AB3456", {"type": "passport_foreign"})
    assert v.id_number("AB 123 456", TODAY) == v.Valid("AB123456", {"type": "passport_foreign"})
    for words in ("hai phong", "khong biet", "ABCDEFGH", "passport", "A1234", "ABCDE1234X"):
        assert isinstance(v.id_number(words, TODAY), v.Invalid), words


async def test_a_passport_number_is_taken_only_after_the_citizen_says_it_is_one(
    citizen: Citizen,
) -> None:
    await reach_the_id_question(citizen)
    await citizen.says("C1234567")
    assert await citizen.state() == "passport_confirm"
    assert "id_number" not in await citizen.answers()
    assert "C1234567" in citizen.text and "hộ chiếu" in citizen.text
    await citizen.presses("passport_confirm:yes")
    answers = await citizen.answers()
    assert answers["id_number"] == "C1234567" and answers["id_type"] == "passport"
    assert await citizen.state() == "province"


async def test_a_citizen_who_says_no_it_is_not_a_passport_types_the_id_number_again(
    citizen: Citizen,
) -> None:
    await reach_the_id_question(citizen)
    await citizen.says("AB123456")
    await citizen.presses("passport_confirm:no")
    assert await citizen.state() == "id_number"
    assert "12 chữ số" in citizen.text  # the ID question again
    answers = await citizen.answers()
    assert "id_number" not in answers
    assert answers["bhxh_code"] == "0312345678" and answers["full_name"] == "Nguyễn Văn An"
    await citizen.says("001099012345")
    assert await citizen.state() == "province"


async def test_a_foreign_passport_confirmed_is_noted_as_foreign(citizen: Citizen) -> None:
    await reach_the_id_question(citizen)
    await citizen.says("X12AB3456")
    await citizen.presses("passport_confirm:yes")
    assert (await citizen.answers())["id_type"] == "passport_foreign"
    assert "nước ngoài" in citizen.text


# ------------------------------------------------------------------ streets
@pytest.mark.parametrize("typed", ["🏠🏠", "🏠 🏠 🏠", "...", "-- //"])
async def test_a_street_of_emojis_or_dots_is_asked_again(citizen: Citizen, typed: str) -> None:
    await citizen.agrees()
    await citizen.answers_in_turn(*TYPED_UNTIL_PHONE[:-1])
    assert await citizen.state() == "street"
    await citizen.says(typed)
    assert citizen.keys[0] == "err.street_no_words"
    assert "chữ hoặc số" in citizen.text
    assert await citizen.state() == "street" and "street" not in await citizen.answers()
    await citizen.says("Ấp An Thái")  # Vietnamese letters are letters
    assert (await citizen.answers())["street"] == "Ấp An Thái"


def test_a_street_needs_a_letter_or_a_digit() -> None:
    assert v.street("🏠🏠") == v.Invalid("street_no_words")
    assert v.street("12") == v.Valid("12")
    assert v.street("Tổ 3 🏠") == v.Valid("Tổ 3 🏠")


# ------------------------------------------------------------------ names without diacritics
async def test_a_name_typed_without_diacritics_is_asked_once_and_can_be_kept(
    citizen: Citizen,
) -> None:
    await citizen.agrees()
    await citizen.says("0312345678")
    await citizen.says("nguyen van an")
    assert await citizen.state() == "name_confirm"
    assert "Nguyen Van An" in citizen.text and "dấu" in citizen.text
    assert "full_name" not in await citizen.answers()
    await citizen.presses("name_confirm:keep")
    assert (await citizen.answers())["full_name"] == "Nguyen Van An"
    assert await citizen.state() == "id_number"


async def test_a_citizen_who_retypes_gives_the_name_with_its_diacritics(
    citizen: Citizen,
) -> None:
    await citizen.agrees()
    await citizen.answers_in_turn("0312345678", "nguyen van an")
    await citizen.presses("name_confirm:retype")
    assert await citizen.state() == "full_name"
    await citizen.says("Nguyễn Văn An")
    assert (await citizen.answers())["full_name"] == "Nguyễn Văn An"
    assert await citizen.state() == "id_number"


async def test_the_same_name_without_diacritics_is_never_asked_about_twice(
    citizen: Citizen,
) -> None:
    await citizen.agrees()
    await citizen.answers_in_turn("0312345678", "john smith")
    await citizen.presses("name_confirm:retype")
    await citizen.says("JOHN SMITH")  # the same name: the citizen has answered already
    assert (await citizen.answers())["full_name"] == "John Smith"
    assert await citizen.state() == "id_number"


async def test_a_kept_name_is_not_asked_about_again_when_edited_at_the_review(
    citizen: Citizen,
) -> None:
    await fill_until_review(citizen)
    await citizen.presses("review:edit:full_name")
    await citizen.says("kim anh")
    await citizen.presses("name_confirm:keep")
    assert await citizen.state() == "review"
    await citizen.presses("review:edit:full_name")
    await citizen.says("Kim Anh")
    assert await citizen.state() == "review"


async def test_a_name_read_from_a_card_qr_is_not_asked_about(citizen: Citizen) -> None:
    await reach_the_id_question(citizen)
    await citizen.sends_photo(qr_photo(CCCD_2021.replace("Phạm Minh Đức", "Pham Minh Duc")))
    await citizen.presses("id_number:card:yes")
    assert (await citizen.answers())["full_name"] == "Pham Minh Duc"
    assert await citizen.state() == "phone"


def test_which_names_lack_their_diacritics() -> None:
    assert v.lacks_diacritics("Nguyen Van An")
    assert not v.lacks_diacritics("Nguyễn Văn An")
    assert not v.lacks_diacritics("Lê Lan")


# ------------------------------------------------------------------ cards and answers agree
async def test_an_id_photo_whose_qr_number_differs_from_the_typed_one_is_flagged(
    citizen: Citizen,
) -> None:
    await reach_the_id_photos(citizen)
    await citizen.sends_photo(qr_photo(CCCD_2021))  # its QR says 031099012345
    assert await citizen.state() == "id_conflict"
    # The citizen's own chat: both numbers in full, grouped for reading.
    assert "031 099 012 345" in citizen.text and "001 099 012 345" in citizen.text
    labels = " | ".join(label for label, _ in citizen.buttons())
    assert "031 099 012 345" in labels and "001 099 012 345" in labels
    await citizen.presses("id_conflict:card")
    answers = await citizen.answers()
    assert answers["id_number"] == "031099012345" and answers["id_front"]
    assert await citizen.state() == "id_back"


async def test_a_citizen_who_says_the_typed_number_is_right_sends_a_photo_of_that_card(
    citizen: Citizen,
) -> None:
    await reach_the_id_photos(citizen)
    await citizen.sends_photo(qr_photo(CCCD_2021))
    await citizen.presses("id_conflict:typed")
    answers = await citizen.answers()
    assert answers["id_number"] == "001099012345"
    assert "id_front" not in answers  # the photo is of another card
    assert await citizen.state() == "id_front"
    assert "001 099 012 345" in citizen.text
    await citizen.sends_photo(photo_bytes(seed=2))
    assert await citizen.state() == "id_back"


async def test_a_card_back_whose_qr_differs_is_flagged_too_and_comes_back_to_the_back(
    citizen: Citizen,
) -> None:
    await reach_the_id_photos(citizen)
    await citizen.sends_photo(photo_bytes(seed=2))
    await citizen.sends_photo(qr_photo(CCCD_2024))  # the 2024 card carries its QR behind
    assert await citizen.state() == "id_conflict"
    await citizen.presses("id_conflict:typed")
    assert await citizen.state() == "id_back"


async def test_an_id_photo_whose_qr_matches_the_typed_number_needs_no_question(
    citizen: Citizen,
) -> None:
    await reach_the_id_photos_with(citizen, "Phạm Minh Đức", "031099012345")
    await citizen.sends_photo(qr_photo(CCCD_2021))
    assert await citizen.state() == "id_back"
    assert (await citizen.answers())["id_verified_by_qr"] is True


async def test_once_the_front_qr_proved_the_number_the_back_is_not_read_for_one_again(
    citizen: Citizen, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A card carries one QR: the worker's QR read (~3 ms a photo) is spent once."""
    read = spy_on_id_photo_reads(citizen, monkeypatch)
    await reach_the_id_photos_with(citizen, "Phạm Minh Đức", "031099012345")
    await citizen.sends_photo(qr_photo(CCCD_2021))
    await citizen.sends_photo(photo_bytes(seed=2))
    assert await citizen.state() == "agency"
    assert read == ["id_front"]  # the back was kept as any photo, not read


async def test_a_passport_page_is_not_read_for_a_card_qr(
    citizen: Citizen, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = spy_on_id_photo_reads(citizen, monkeypatch)
    await reach_the_id_photos_with(citizen, "Nguyễn Văn An", "C1234567")
    await citizen.sends_photo(photo_bytes(seed=2))
    assert await citizen.state() == "agency"
    assert read == []


def spy_on_id_photo_reads(citizen: Citizen, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The steps at which the CPU worker was asked to read an ID photo's QR."""
    cpu, read = citizen.parts.service.cpu, []
    keep_id_photo = cpu.keep_id_photo

    async def reading(*args: object, **kwargs: object) -> object:
        conv = await citizen.parts.service.conversations.load(citizen.user_key)
        read.append(conv.state if conv else "?")
        return await keep_id_photo(*args, **kwargs)

    monkeypatch.setattr(cpu, "keep_id_photo", reading)
    return read


async def test_a_card_photo_at_the_id_step_that_differs_from_the_typed_number_is_flagged(
    citizen: Citizen,
) -> None:
    await fill_until_review(citizen)
    await citizen.presses("review:edit:id_number")
    await citizen.sends_photo(qr_photo(CCCD_2021))
    assert "001 099 012 345" in citizen.text and "031 099 012 345" in citizen.text
    await citizen.presses("id_number:card:no")
    assert (await citizen.answers())["id_number"] == "001099012345"


async def reach_the_review_with_a_passport(c: Citizen) -> None:
    await c.agrees()
    await c.answers_in_turn("0312345678", "Nguyễn Văn An", "C1234567")
    await c.presses("passport_confirm:yes")
    await c.answers_in_turn(*TYPED_UNTIL_PHONE[3:], "0983 847 986")
    await c.presses("email_choice:no")
    await c.sends_photo(photo_bytes(seed=1))
    await c.sends_photo(photo_bytes(seed=2))  # the passport's photo page
    await c.presses("agency:pick:")
    assert await c.state() == "review"


async def test_switching_from_passport_to_cccd_drops_the_passport_photo_and_asks_both_sides(
    citizen: Citizen,
) -> None:
    await reach_the_review_with_a_passport(citizen)
    passport_page = (await citizen.answers())["id_front"]
    await citizen.presses("review:edit:id_number")
    await citizen.says("001099012345")
    assert await citizen.state() == "id_front"
    assert "mặt trước" in citizen.text
    assert "id_front" not in await citizen.answers()
    await citizen.sends_photo(photo_bytes(seed=3))
    assert await citizen.state() == "id_back"
    await citizen.sends_photo(photo_bytes(seed=4))
    assert await citizen.state() == "review"
    answers = await citizen.answers()
    assert answers["id_type"] == "cccd" and answers["id_front"] != passport_page
    assert answers["id_back"]


async def test_switching_from_cccd_to_passport_asks_for_the_passport_page(
    citizen: Citizen,
) -> None:
    await fill_until_review(citizen)
    await citizen.presses("review:edit:id_number")
    await citizen.says("C1234567")
    await citizen.presses("passport_confirm:yes")
    assert await citizen.state() == "id_front"
    assert "hộ chiếu" in citizen.text
    answers = await citizen.answers()
    assert "id_front" not in answers and "id_back" not in answers
    await citizen.sends_photo(photo_bytes(seed=5))
    assert await citizen.state() == "review"


async def test_a_card_photo_replacing_a_passport_at_the_review_asks_for_the_other_side(
    citizen: Citizen,
) -> None:
    await reach_the_review_with_a_passport(citizen)
    await citizen.presses("review:edit:id_number")
    await citizen.sends_photo(qr_photo(CCCD_2021))  # a 2021 card: the QR is on its front
    await citizen.presses("id_number:card:yes")
    assert await citizen.state() == "id_back"
    answers = await citizen.answers()
    assert answers["id_type"] == "cccd" and answers["id_front"]
    await citizen.sends_photo(photo_bytes(seed=6))
    assert await citizen.state() == "review"


async def test_a_cccd_retyped_at_the_review_keeps_its_photos(citizen: Citizen) -> None:
    await fill_until_review(citizen)
    before = await citizen.answers()
    await citizen.presses("review:edit:id_number")
    await citizen.says("001099012346")
    assert await citizen.state() == "review"
    after = await citizen.answers()
    assert (after["id_front"], after["id_back"]) == (before["id_front"], before["id_back"])


async def test_changing_the_province_at_the_review_suggests_an_agency_of_the_new_province(
    citizen: Citizen,
) -> None:
    await fill_until_review(citizen)  # Hải Phòng, and an agency there
    agencies = citizen.parts.service.flow.agencies
    assert agencies.by_code((await citizen.answers())["agency_code"]).province_code == "31"
    await citizen.presses("review:edit:address")
    await citizen.says("ha noi")
    await citizen.says("phuc tho")
    await citizen.says("Thôn 4")
    assert await citizen.state() == "agency"
    assert "agency_code" not in await citizen.answers()
    suggested = [b.data.split(":")[-1] for _, b in citizen.buttons() if ":pick:" in b.data]
    assert suggested and agencies.by_code(suggested[0]).province_code == "01"
    await citizen.presses("agency:pick:")
    assert await citizen.state() == "review"
    assert agencies.by_code((await citizen.answers())["agency_code"]).province_code == "01"


async def test_a_whole_address_in_another_province_also_asks_for_an_agency_there(
    citizen: Citizen,
) -> None:
    await fill_until_review(citizen)
    await citizen.presses("review:edit:address")
    await citizen.says("86 Hoàng Diệu, Phường Đông Hà, Quảng Trị")
    await citizen.presses("province:whole:")
    assert await citizen.state() == "agency"
    assert "agency_code" not in await citizen.answers()
    assert "Quảng Trị" in citizen.text  # why the question comes back


async def test_a_new_commune_in_the_same_province_keeps_the_agency(citizen: Citizen) -> None:
    await fill_until_review(citizen)
    agency = (await citizen.answers())["agency_code"]
    await citizen.presses("review:edit:address")
    await citizen.says("hai phong")
    await citizen.says("ngo quyen")
    await citizen.says("Số 7 Lạch Tray")
    assert await citizen.state() == "review"
    assert (await citizen.answers())["agency_code"] == agency


# ------------------------------------------------------------------ e-mail typos
async def test_an_address_at_gmial_gets_did_you_mean_gmail(citizen: Citizen) -> None:
    await reach_the_email_question(citizen)
    await citizen.says("an@gmial.com")
    assert await citizen.state() == "email_confirm"
    assert "an@gmail.com" in citizen.text
    assert "email" not in await citizen.answers()
    await citizen.presses("email_confirm:suggested")
    assert (await citizen.answers())["email"] == "an@gmail.com"
    assert await citizen.state() == "portrait"


async def test_a_citizen_may_keep_the_address_as_typed(citizen: Citizen) -> None:
    await reach_the_email_question(citizen)
    await citizen.says("an@gmial.com")
    await citizen.presses("email_confirm:typed")
    assert (await citizen.answers())["email"] == "an@gmial.com"
    assert await citizen.state() == "portrait"


async def test_an_address_typed_at_the_yes_no_question_is_checked_too(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.answers_in_turn(*TYPED_UNTIL_PHONE, "0983 847 986")
    await citizen.says("an@yahoo.con")
    assert await citizen.state() == "email_confirm"
    assert "an@yahoo.com" in citizen.text
    await citizen.says("an@outlook.com")  # typing another address answers the question
    assert (await citizen.answers())["email"] == "an@outlook.com"
    assert await citizen.state() == "portrait"


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("an@gmial.com", "an@gmail.com"),
        ("an@gmai.com", "an@gmail.com"),
        ("an@gmail.con", "an@gmail.com"),
        ("an@gamil.com", "an@gmail.com"),
        ("an@gmail.co", "an@gmail.com"),
        ("an@gmail.com.vn", "an@gmail.com"),
        ("an@yaho.com.vn", "an@yahoo.com.vn"),
        ("an@yahoo.com.v", "an@yahoo.com.vn"),
        ("an@hotmial.com", "an@hotmail.com"),
        ("an@outlok.com", "an@outlook.com"),
        ("an@icoud.com", "an@icloud.com"),
        ("An.Nguyen@GMIAL.COM", "An.Nguyen@gmail.com"),
    ],
)
def test_common_provider_typos_are_suggested(typed: str, meant: str) -> None:
    assert email_typos.suggest(typed) == meant


@pytest.mark.parametrize(
    "typed",
    [
        "an@gmail.com",
        "an@yahoo.com.vn",
        "an@example.com",
        "an@congty.vn",
        "an@mail.com",
        "an@me.com",
        "an@fpt.com.vn",
        "an@vnpt.vn",
    ],
)
def test_known_and_unrelated_domains_are_left_alone(typed: str) -> None:
    assert email_typos.suggest(typed) is None


# ------------------------------------------------------------------ blank pictures
def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _jpeg(image: Image.Image, **options: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def _noise(mode_bands: int = 3) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 256, (900, 1200, mode_bands), dtype=np.uint8)


def blank_pictures() -> dict[str, bytes]:
    invisible = np.zeros((900, 1200), dtype=np.uint8)
    rgba = Image.fromarray(np.dstack([_noise(), invisible]), "RGBA")
    la = Image.fromarray(np.dstack([_noise(1)[..., 0], invisible]), "LA")
    palette = Image.fromarray((_noise(1)[..., 0] // 64).astype(np.uint8), "P")
    palette.putpalette([200, 30, 30, 30, 200, 30, 30, 30, 200, 9, 9, 9])
    transparent_palette = io.BytesIO()
    palette.save(transparent_palette, "PNG", transparency=bytes([0, 0, 0, 0]))
    return {
        "transparent png": _png(Image.new("RGBA", (1200, 900), (0, 0, 0, 0))),
        "rgba with alpha 0 over a picture": _png(rgba),
        "grey+alpha with alpha 0": _png(la),
        "palette whose every colour is transparent": transparent_palette.getvalue(),
        "one red png": _png(Image.new("RGB", (1200, 900), (200, 0, 0))),
        "one blue jpeg": _jpeg(Image.new("RGB", (1200, 900), (30, 120, 200)), quality=95),
        "black jpeg 4:4:4": _jpeg(Image.new("RGB", (1280, 960)), quality=87, subsampling=0),
        "white jpeg": _jpeg(Image.new("RGB", (1280, 960), (255, 255, 255)), quality=75),
    }


@pytest.mark.parametrize("name", list(blank_pictures()))
@pytest.mark.parametrize("channel_encoded", [False, True], ids=["file", "telegram-photo"])
def test_a_transparent_or_single_colour_picture_is_refused(
    name: str, channel_encoded: bool
) -> None:
    result = check_photo(blank_pictures()[name], channel_encoded=channel_encoded)
    assert isinstance(result, PhotoProblem) and result.reason == "unreadable", name


def test_a_real_looking_telegram_photo_is_still_taken_as_sent() -> None:
    data = photo_bytes(seed=4)
    result = check_photo(data, channel_encoded=True)
    assert isinstance(result, CheckedPhoto)


async def test_a_single_colour_telegram_photo_is_asked_again(citizen: Citizen) -> None:
    await reach_the_id_photos(citizen)
    black = _jpeg(Image.new("RGB", (1280, 960)), quality=87, subsampling=0)
    await citizen.send(Event(kind="photo", data=black, channel_encoded=True))
    assert citizen.keys[0] == "err.photo_unreadable"
    assert await citizen.state() == "id_front" and "id_front" not in await citizen.answers()
