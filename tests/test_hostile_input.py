"""Input that must not get through: digits of other scripts, invisible characters, a name a
QR code smuggles in, buttons that were never offered, and photos with nothing in them.

Every one of them gets the usual polite answer in the citizen's language and the
conversation goes on; none of them is stored.
"""

from __future__ import annotations

import dataclasses
import io
import json
import unicodedata
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.console import to_event
from bot.flows import autofill, cards, otp
from bot.flows.agencies import AgencyDirectory, load_directory
from bot.flows.conversation import Conversation
from bot.flows.events import Button, Event
from bot.flows.photos import CheckedPhoto, PhotoProblem, check_photo
from bot.flows.places import catalogue
from bot.flows.qr import scan_card
from bot.flows.registration import RegistrationFlow
from bot.wiring import Components
from tests import corpus
from tests.conftest import FakeClock
from tests.story import (
    BHYT_NEW,
    CCCD_2021,
    TYPED_UNTIL_PHONE,
    Citizen,
    photo_bytes,
    qr_photo,
)
from tests.test_flow_properties import FLOW, NOW, STATE_NAMES, assert_renders, conversation_at
from tests.test_telegram_e2e import Running, answer_until_phone, telegram  # noqa: F401

#: The same numbers in other scripts: Arabic-Indic, Persian, Devanagari, Ethiopic,
#: superscript, fullwidth, mathematical bold, circled.
FOREIGN_DIGITS = "٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹०१२३४५፩፪፫፬፭¹²³⁴⁵⁶⁷⁸⁹⁰０１２３４５６７８９𝟎𝟏𝟐𝟑①②③"

NUMERIC_ANSWERS = ("bhxh_code", "id_number", "phone", "agency_code", "commune_code")


def arabic_indic(number: str) -> str:
    return number.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))


def superscript(number: str) -> str:
    return number.translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))


def fullwidth(number: str) -> str:
    return number.translate(str.maketrans("0123456789", "０１２３４５６７８９"))


async def reach_the_phone_question(c: Citizen) -> None:
    await c.agrees()
    await c.answers_in_turn(*TYPED_UNTIL_PHONE)
    assert await c.state() == "phone"


async def reach_the_agency_question(c: Citizen) -> None:
    await reach_the_phone_question(c)
    await c.says("0983 847 986")
    await c.presses("email_choice:no")
    for seed in (1, 2, 3):
        await c.sends_photo(photo_bytes(seed=seed))
    assert await c.state() == "agency"


def asked_again_politely(c: Citizen) -> None:
    """The first reply says what was wrong (never the internal-error apology)."""
    assert "err.internal" not in c.keys
    assert c.keys[0] == "err.digits_not_ascii", c.keys
    assert "0–9" in c.text


# ---------------------------------------------------------------------------------- digits


async def test_arabic_indic_digits_are_not_a_bhxh_code(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.says("٠٣١٢٣٤٥٦٧٨")
    asked_again_politely(citizen)
    assert await citizen.state() == "bhxh_code"
    assert "bhxh_code" not in await citizen.answers()
    await citizen.says("0312345678")
    assert (await citizen.answers())["bhxh_code"] == "0312345678"


@pytest.mark.parametrize(
    "typed",
    ["001፩99012345", "001³99012345", fullwidth("001099012345"), "00109901234𝟓"],
    ids=["ethiopic", "superscript", "fullwidth", "math-bold"],
)
async def test_an_id_number_with_a_foreign_digit_is_asked_again_not_apologised_for(
    citizen: Citizen, typed: str
) -> None:
    await citizen.agrees()
    await citizen.answers_in_turn("0312345678", "Nguyễn Văn An")
    await citizen.says(typed)
    asked_again_politely(citizen)
    assert await citizen.state() == "id_number"
    await citizen.says("001099012345")
    assert (await citizen.answers())["id_number"] == "001099012345"


@pytest.mark.parametrize(
    "typed",
    [arabic_indic("0983847986"), "0983 847 98⁶", fullwidth("0983847986")],
    ids=["arabic-indic", "superscript", "fullwidth"],
)
async def test_a_phone_number_in_foreign_digits_is_asked_again(
    citizen: Citizen, typed: str
) -> None:
    await reach_the_phone_question(citizen)
    await citizen.says(typed)
    asked_again_politely(citizen)
    assert "phone" not in await citizen.answers()
    await citizen.says("0983 847 986")
    assert (await citizen.answers())["phone"] == "+84983847986"


@pytest.mark.parametrize("spell", [arabic_indic, superscript, fullwidth])
def test_the_right_code_in_other_digits_is_not_a_code_and_costs_no_try(
    spell: Any,
) -> None:
    conv = conversation_at("otp")
    code, conv.otp = otp.issue(None, FLOW.otp_secret, NOW, FLOW._destination(conv))
    before = dict(conv.otp)
    replies = FLOW.handle(conv, Event.typed(spell(code)), NOW)
    assert replies[0].key == "err.digits_not_ascii"
    assert conv.state == "otp" and conv.otp == before  # not verified, no try counted


def test_a_superscript_number_in_the_console_is_not_taken_for_a_button() -> None:
    shown = [Button("a:1"), Button("a:2"), Button("a:3")]
    assert to_event("2", shown) == Event.pressed("a:2")
    for typed in ("³", "２", "፩"):
        assert to_event(typed, shown) == Event.typed(typed)


def test_a_card_qr_with_foreign_digits_is_no_card_and_no_crash() -> None:
    birth_in_superscript = CCCD_2021.replace("05061999", "0506199⁹")
    number_in_arabic = CCCD_2021.replace("031099012345", arabic_indic("031099012345"))
    bhyt_birth = BHYT_NEW.replace("05/06/1990", "05/06/199³")
    assert cards.parse_cccd(birth_in_superscript) is None
    assert cards.parse_cccd(number_in_arabic) is None
    parsed = cards.parse_bhyt(bhyt_birth)
    assert parsed is not None and parsed.birth_date is None  # optional field dropped
    assert cards.parse_bhyt(BHYT_NEW.replace("0312345678", arabic_indic("0312345678"))) is None


_DIGIT = st.one_of(
    st.sampled_from("0123456789"),
    st.sampled_from(FOREIGN_DIGITS),
    st.characters(categories=["Nd", "No", "Nl"]),
    st.characters(categories=["Sm", "Sc", "Sk", "So", "Pd", "Zs"]),
)
NUMBER_LIKE = st.lists(_DIGIT, min_size=1, max_size=16).map("".join)
CHOICE_PREFIXES = (
    "agency:page:",
    "agency:pick:",
    "province:page:",
    "province:pick:",
    "province:whole:",
    "commune:page:",
    "commune:pick:",
    "review:edit:",
    "otp:via:",
    "consent:yes:",
    "g:erase:yes:",
    "g:cancel:yes:",
    "g:lang:",
)
NUMERIC_EVENTS = st.one_of(
    NUMBER_LIKE.map(Event.typed),
    NUMBER_LIKE.map(lambda n: Event.typed("+84 " + n)),
    NUMBER_LIKE.map(lambda n: Event(kind="contact", text=n)),
    st.tuples(st.sampled_from(CHOICE_PREFIXES), NUMBER_LIKE).map(
        lambda parts: Event.pressed("".join(parts))
    ),
    NUMBER_LIKE.map(Event.slash),
)


def _at(state: str) -> Conversation:
    conv = conversation_at(state)
    if state == "otp":
        _, conv.otp = otp.issue(None, FLOW.otp_secret, NOW, FLOW._destination(conv))
    if state == "agency":
        conv.listing = {"codes": ["03102", "031"]}
    return conv


@pytest.mark.parametrize("state", STATE_NAMES)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=NUMERIC_EVENTS)
@example(event=Event.typed("001፩99012345"))
@example(event=Event.typed("٠٣١٢٣٤٥٦٧٨"))
@example(event=Event.pressed("agency:page:³"))
@example(event=Event.pressed("province:page:፩"))
def test_digits_and_symbols_of_any_script_at_any_step_get_an_answer_and_store_only_ascii(
    state: str, event: Event
) -> None:
    conv = _at(state)
    replies = FLOW.handle(conv, event, NOW)
    assert replies or conv.effects, "the user must hear something"
    for reply in replies:
        assert_renders(reply.key, dict(reply.params))
    for name in NUMERIC_ANSWERS:
        assert str(conv.answers.get(name, "")).isascii(), (name, conv.answers.get(name))
    conv.to_json()


@settings(max_examples=200, deadline=None)
@given(number=NUMBER_LIKE, buttons=st.integers(0, 12))
@example(number="~0", buttons=0)  # a "home directory" of a user who does not exist
@example(number="~", buttons=0)  # the home directory itself: a path, not a file
def test_the_console_never_fails_on_a_number(number: str, buttons: int) -> None:
    shown = [Button(f"x:{i}") for i in range(buttons)]
    event = to_event(number, shown)
    if isinstance(event, Event) and event.kind == "choice":
        assert number.strip().isascii()


@settings(max_examples=200, deadline=None)
@given(fields=st.lists(NUMBER_LIKE, min_size=4, max_size=4))
def test_card_qr_payloads_with_any_digits_never_break_the_parser(fields: list[str]) -> None:
    number, birth, issued, code = fields
    payloads = (
        f"{number}||Nguyễn Văn An|{birth}|Nam|Số 5 Lạch Tray|{issued}",
        f"{code}|4e677579e1bb856e|{birth[:2]}/{birth[2:4]}/{birth[4:]}|1|-|x|{issued}|-|-|$",
    )
    for payload in payloads:
        cards.classify_payload(payload)  # names it, whatever it is
        card = cards.parse_cccd(payload)
        if card is not None:
            assert card.id_number.isascii() and (card.old_id or "").isascii()
        bhyt = cards.parse_bhyt(payload)
        if bhyt is not None:
            assert bhyt.bhxh_code.isascii()


# ---------------------------------------------------------------------- invisible characters

INVISIBLE = "\u202e\u202d\u200b\u200d\ufeff\u2066\x00\x1b\x07\x85\x9b\u00ad\u061c"


def _visible_only(text: str) -> bool:
    return not any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in text)


async def test_bidi_overrides_and_zero_width_characters_are_never_stored(citizen: Citizen) -> None:
    await citizen.agrees()
    await citizen.says("0312345678\u200b")
    await citizen.says("Nguyễn\u200b Văn\u202e An\ufeff")
    assert "err.name_bad_char" not in citizen.keys
    await citizen.says("001099012345")
    await citizen.says("hai phong")
    await citizen.says("gia vien")
    await citizen.says("Số 5\u202e Lạch\u200d Tray\x1b[2J\x07")
    answers = await citizen.answers()
    assert answers["bhxh_code"] == "0312345678"
    assert answers["full_name"] == "Nguyễn Văn An"
    assert answers["street"] == "Số 5 Lạch Tray[2J"  # the escape is gone, the rest is text


async def test_invisible_characters_in_a_card_qr_are_not_stored(citizen: Citizen) -> None:
    payload = CCCD_2021.replace("Phạm Minh Đức", "Phạm\u202e Minh\u200b Đức").replace(
        "Số 5 Lạch Tray", "Số 5 Lạch\u2066 Tray\x1b[31m"
    )
    await citizen.agrees()
    await citizen.answers_in_turn("0312345678", "Pham Minh Duc")
    await citizen.presses("name_confirm:keep")
    await citizen.sends_photo(qr_photo(payload))
    await citizen.presses("id_number:card:yes")
    answers = await citizen.answers()
    assert answers["full_name"] == "Phạm Minh Đức"
    stored = json.dumps(answers, ensure_ascii=False)
    assert _visible_only(stored), stored


_TEXT_WITH_INVISIBLES = st.lists(
    st.one_of(
        st.sampled_from(INVISIBLE),
        st.characters(categories=["Cc", "Cf"]),
        st.characters(categories=["Ll", "Lu", "Mn", "Nd", "Zs"]),
    ),
    max_size=40,
).map("".join)


@pytest.mark.parametrize("state", STATE_NAMES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXT_WITH_INVISIBLES)
@example(text="Số 5\u202e Lạch Tray")
@example(text="Nguyễn\u200b Văn An")
def test_no_control_or_format_character_is_ever_stored(state: str, text: str) -> None:
    conv = _at(state)
    conv.answers = {k: v for k, v in conv.answers.items() if k not in ("full_name", "street")}
    for event in (Event.typed(text), Event(kind="contact", text=text)):
        FLOW.handle(conv, event, NOW)
        stored = conv.to_json()
        assert _visible_only(stored), stored


# -------------------------------------------------------------------------- names from a QR


def _bhyt_with_name(name: str) -> str:
    fields = BHYT_NEW.split("|")
    fields[1] = name.encode().hex()
    return "|".join(fields)


async def test_a_health_card_whose_name_breaks_the_name_rules_leaves_the_name_to_type(
    citizen: Citizen,
) -> None:
    await citizen.agrees()
    await citizen.sends_photo(qr_photo(_bhyt_with_name("<b>Nguyễn Văn An</b>")))
    assert "<b>" not in citizen.text and "03 1234 5678" in citizen.text  # grouped, in full
    await citizen.presses("bhxh_code:card:yes")
    assert await citizen.state() == "full_name"  # asked, not skipped
    assert "full_name" not in await citizen.answers()
    await citizen.says("Nguyễn Văn An")
    assert (await citizen.answers())["full_name"] == "Nguyễn Văn An"


async def test_an_id_card_whose_name_breaks_the_rules_keeps_the_typed_name(
    citizen: Citizen,
) -> None:
    payload = CCCD_2021.replace("Phạm Minh Đức", "Phạm Minh Đức; DROP TABLE")
    await citizen.agrees()
    await citizen.answers_in_turn("0312345678", "Phạm Minh Đức")
    await citizen.sends_photo(qr_photo(payload))
    assert "DROP" not in citizen.text
    await citizen.presses("id_number:card:yes")
    answers = await citizen.answers()
    assert answers["full_name"] == "Phạm Minh Đức" and answers["id_number"] == "031099012345"


def test_a_card_name_is_held_to_the_rules_of_a_typed_name() -> None:
    good = autofill.reading_from_scan(scan_card(qr_photo(_bhyt_with_name("NGUYỄN VĂN AN"))))
    assert good["full_name"] == "Nguyễn Văn An"  # as the typed name would be stored
    for bad in ("An", "Nguyễn Văn An ☠", "Nguyễn V@n An"):
        reading = autofill.reading_from_scan(scan_card(qr_photo(_bhyt_with_name(bad))))
        assert reading["kind"] == "bhyt" and reading["full_name"] is None, bad


# ------------------------------------------------------------------ only what was offered


@pytest.mark.parametrize(
    "code", ["001", "089", "99999"], ids=["other-province", "inactive", "unknown"]
)
async def test_an_agency_that_was_not_offered_cannot_be_chosen_with_a_forged_button(
    citizen: Citizen, code: str
) -> None:
    await reach_the_agency_question(citizen)
    await citizen.send(Event.pressed(f"agency:pick:{code}"))
    assert citizen.keys[0] == "err.choice_not_offered"
    assert "không còn hiệu lực" in citizen.text
    assert await citizen.state() == "agency"
    assert "agency_code" not in await citizen.answers()
    await citizen.presses("agency:pick:")  # what is on screen still works
    assert (await citizen.answers())["agency_code"] == "03102"


def test_an_agency_closed_after_it_was_listed_cannot_be_chosen() -> None:
    conv = conversation_at("agency")
    del conv.answers["agency_code"]
    conv.answers.update(province_code="01", commune_code="")
    FLOW.handle(conv, Event.slash("start"), NOW)  # lists Hà Nội's office
    assert "001" in str(conv.listing)
    places = catalogue()
    closed = [
        dataclasses.replace(a, active=False) if a.code == "001" else a
        for a in load_directory(None).all()
    ]
    after_import = RegistrationFlow(places, AgencyDirectory(closed, places), FLOW.otp_secret)
    replies = after_import.handle(conv, Event.pressed("agency:pick:001"), NOW)
    assert replies[0].key == "err.choice_not_offered"
    assert "agency_code" not in conv.answers and conv.state == "agency"


async def test_a_button_of_an_earlier_list_at_the_same_question_still_works(
    citizen: Citizen,
) -> None:
    await reach_the_agency_question(citizen)
    await citizen.says("Hà Nội")  # searched, then changed their mind
    assert "agency:pick:001" in [b.data for _, b in citizen.buttons()]
    await citizen.send(Event.pressed("agency:pick:03102"))  # the first suggestion
    assert (await citizen.answers())["agency_code"] == "03102"


def test_the_review_does_not_edit_a_back_side_a_passport_does_not_have() -> None:
    conv = conversation_at("review")
    conv.answers.update(id_number="B1234567", id_type="passport")
    del conv.answers["id_back"]
    replies = FLOW.handle(conv, Event.pressed("review:edit:id_back"), NOW)
    assert conv.state == "review" and replies[0].key == "err.stale_button"


def _yes_button(c: Citizen) -> Button:
    [yes] = [b for _, b in c.buttons() if b.data.startswith("g:erase:yes")]
    return yes


async def test_an_old_yes_delete_button_deletes_nothing(citizen: Citizen, clock: FakeClock) -> None:
    await reach_the_phone_question(citizen)
    await citizen.command("deletemydata")
    stale = _yes_button(citizen)
    clock.advance(hours=2)
    await citizen.says("0983 847 986")  # the citizen went on with the registration
    await citizen.send(Event.pressed(stale.data))
    assert citizen.keys[0] == "err.confirm_expired"
    assert "/deletemydata" in citizen.text and "chưa có gì bị xóa" in citizen.text
    answers = await citizen.answers()
    assert answers["phone"] == "+84983847986" and answers["bhxh_code"] == "0312345678"
    assert await citizen.state() == "email_choice"


@pytest.mark.parametrize("forged", ["g:erase:yes", "g:erase:yes:0:0", "g:cancel:yes"])
async def test_a_forged_yes_button_deletes_nothing(citizen: Citizen, forged: str) -> None:
    await reach_the_phone_question(citizen)
    await citizen.send(Event.pressed(forged))
    assert citizen.keys[0] == "err.confirm_expired"
    assert (await citizen.answers())["bhxh_code"] == "0312345678"
    assert await citizen.state() == "phone"


async def test_a_fresh_yes_delete_button_still_deletes(citizen: Citizen, clock: FakeClock) -> None:
    await reach_the_phone_question(citizen)
    await citizen.command("deletemydata")
    clock.advance(minutes=2)
    await citizen.presses("g:erase:yes")
    assert await citizen.state() == "(nothing stored)"


async def test_yes_delete_offered_to_one_citizen_does_nothing_for_another(
    citizen: Citizen, parts: Components
) -> None:
    await citizen.agrees()
    await citizen.command("deletemydata")
    offered = _yes_button(citizen)
    other = Citizen(parts, "tg:2002")
    await reach_the_phone_question(other)
    await other.send(Event.pressed(offered.data))
    assert other.keys[0] == "err.confirm_expired"
    assert await other.state() == "phone"


async def _forge(telegram: Running, user_id: int, data: str) -> str:  # noqa: F811
    """Send a callback the client never showed (a modified client can)."""
    [last] = telegram.emu.messages(user_id)[-1:]
    telegram.emu.press_button(user_id, last.message_id, data, strict=False)
    calls = await telegram.emu.next_bot_activity(user_id, timeout=10)
    return "\n".join(str(c.params.get("text") or "") for c in calls)


async def test_forged_callbacks_over_telegram_choose_nothing(telegram: Running) -> None:  # noqa: F811
    user = telegram.user(7401)
    await answer_until_phone(user)
    await user.shares_phone("+84983847986")
    await user.presses("email_choice:no")
    for seed in (1, 2, 3):
        await user.sends_photo(photo_bytes(seed=seed))
    shown = await _forge(telegram, 7401, "agency:pick:089")
    assert "không còn hiệu lực" in shown
    shown = await _forge(telegram, 7401, "g:erase:yes")
    assert "chưa có gì bị xóa" in shown
    stored = await telegram.parts.service.conversations.load("tg:7401")
    assert stored is not None and stored.state == "agency"
    assert "agency_code" not in stored.answers and stored.answers["bhxh_code"] == "0312345678"


# ------------------------------------------------------------------------------------ photos


def _jpeg(image: Image.Image, **options: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    return out.getvalue()


def _tiny_for_its_size(width: int, height: int) -> bytes:
    """A real JPEG header claiming ``width``×``height``, 2 KB of data, an end marker:
    a decoder fills the rest with grey and says nothing."""
    whole = photo_bytes(width, height)
    return whole[:2048] + b"\xff\xd9"


def _unreadable(result: CheckedPhoto | PhotoProblem) -> bool:
    return isinstance(result, PhotoProblem) and result.reason == "unreadable"


@pytest.mark.parametrize("size", [(4000, 3000), (2560, 1920), (1280, 960)])
@pytest.mark.parametrize("channel_encoded", [False, True], ids=["file", "telegram-photo"])
def test_a_photo_tiny_for_its_declared_size_is_refused_as_unreadable(
    size: tuple[int, int], channel_encoded: bool
) -> None:
    data = _tiny_for_its_size(*size)
    assert len(data) < 2100
    assert _unreadable(check_photo(data, channel_encoded=channel_encoded))


def test_a_blank_or_nearly_blank_picture_is_refused_as_unreadable() -> None:
    rng = np.random.default_rng(7)
    grey = np.full((960, 1280), 128.0) + rng.normal(0, 1.5, (960, 1280))
    nearly = Image.fromarray(np.clip(grey, 0, 255).astype(np.uint8)).convert("RGB")
    blank = Image.new("RGB", (1280, 960), (250, 250, 250))
    png = io.BytesIO()
    blank.save(png, "PNG")
    for data in (_jpeg(blank), _jpeg(nearly, quality=90), png.getvalue()):
        assert _unreadable(check_photo(data))


async def test_a_telegram_photo_with_nothing_in_it_is_asked_again(citizen: Citizen) -> None:
    await reach_the_phone_question(citizen)
    await citizen.says("0983 847 986")
    await citizen.presses("email_choice:no")
    tiny = _tiny_for_its_size(2560, 1920)
    await citizen.send(Event(kind="photo", data=tiny, channel_encoded=True))
    assert citizen.keys[0] == "err.photo_unreadable"
    assert "chụp lại" in citizen.text
    assert await citizen.state() == "portrait" and "portrait" not in await citizen.answers()


def test_the_real_looking_test_photos_are_still_accepted() -> None:
    photos = [photo_bytes(seed=s) for s in range(3)] + [photo_bytes(fmt="PNG", seed=2)]
    photos += [qr_photo(CCCD_2021), qr_photo(BHYT_NEW)]
    photos += [
        corpus.make_card_photo(seed, bucket, size)[0]
        for bucket in corpus.BUCKETS
        for size in corpus.SIZES
        for seed in (0,)
    ]
    for data in photos:
        for channel_encoded in (False, True):
            result = check_photo(data, channel_encoded=channel_encoded)
            assert isinstance(result, CheckedPhoto), result
