"""What each answer accepts, and that no text whatsoever makes a validator raise."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.flows import validators as v

TODAY = date(2026, 11, 23)


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("0113099841", "0113099841"),
        ("01 1309 9841", "0113099841"),
        ("0113.099.841", "0113099841"),
        ("HS4310312345678", "0312345678"),
        ("hs4 31 0312345678", "0312345678"),
    ],
)
def test_bhxh_code_accepts_what_people_type(typed: str, code: str) -> None:
    assert v.bhxh_code(typed) == v.Valid(code, v.bhxh_code(typed).extra)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("123456789", "bhxh_length"),
        ("01130998412", "bhxh_length"),
        ("abc", "bhxh_not_digits"),
        ("  ", "bhxh_empty"),
        ("XX6310312345678", "bhxh_not_digits"),
    ],
)
def test_bhxh_code_refuses_with_a_reason(typed: str, error: str) -> None:
    result = v.bhxh_code(typed)
    assert isinstance(result, v.Invalid) and result.code == error


def test_a_name_is_nfc_single_spaced_and_title_cased_when_typed_in_one_case() -> None:
    decomposed = "Nguye\u0302\u0303n  Va\u0306n   An"
    assert v.full_name(decomposed) == v.Valid("Nguyễn Văn An")
    assert v.full_name("TRẦN THỊ BÍCH NGỌC") == v.Valid("Trần Thị Bích Ngọc")
    assert v.full_name("đỗ mỹ linh") == v.Valid("Đỗ Mỹ Linh")
    assert v.full_name("Nguyễn van AN") == v.Valid("Nguyễn van AN")


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("An", "name_one_word"),
        ("Nguyễn Văn 3", "name_bad_char"),
        ("", "name_empty"),
        ("Nguyễn 😀 An", "name_bad_char"),
        ("A " * 60, "name_too_long"),
    ],
)
def test_a_name_is_refused_with_a_reason(typed: str, error: str) -> None:
    result = v.full_name(typed)
    assert isinstance(result, v.Invalid) and result.code == error


def test_the_id_number_century_digit_gives_birth_year_and_gender() -> None:
    result = v.id_number("031 304 012345", TODAY)
    assert isinstance(result, v.Valid)
    assert result.extra == {"type": "cccd", "birth_year": "2004", "gender": "female"}
    future = v.id_number("001226012345", TODAY)  # born 2026+? "22" → 2000s female, 26 → 2026 ok
    assert isinstance(future, v.Valid)
    assert v.id_number("001227012345", TODAY) == v.Invalid("id_century")
    assert v.id_number("001499012345", TODAY) == v.Invalid("id_century")


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("123456789", "id_cmnd"),
        ("00109901234", "id_length"),
        ("101099012345", "id_prefix"),
        ("???", "id_format"),
    ],
)
def test_id_number_refusals(typed: str, error: str) -> None:
    result = v.id_number(typed, TODAY)
    assert isinstance(result, v.Invalid) and result.code == error


def test_passports_are_accepted() -> None:
    assert v.id_number("b1234567", TODAY) == v.Valid("B1234567", {"type": "passport"})
    assert v.id_number("X12AB3456", TODAY) == v.Valid("X12AB3456", {"type": "passport_foreign"})


@pytest.mark.parametrize(
    "typed", ["0983 847 986", "0983.847.986", "+84983847986", "84983847986", "0084983847986"]
)
def test_vietnamese_mobiles_in_any_spelling_become_e164(typed: str) -> None:
    assert v.mobile_phone(typed) == v.Valid("+84983847986")


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("02253826582", "phone_landline"),
        ("hello", "phone_not_number"),
        ("+14155552671", "phone_not_vn"),
        ("0123", "phone_invalid"),
    ],
)
def test_phone_refusals(typed: str, error: str) -> None:
    result = v.mobile_phone(typed)
    assert isinstance(result, v.Invalid) and result.code == error


def test_email_is_normalised_without_a_network_lookup() -> None:
    assert v.email(" An.Nguyen@Example.COM ") == v.Valid("An.Nguyen@example.com")
    assert v.email("an@") == v.Invalid("email_invalid")


@given(st.text(max_size=300))
def test_no_text_makes_any_validator_raise(text: str) -> None:
    for check in (v.bhxh_code, v.full_name, v.mobile_phone, v.email, v.street, v.otp_code):
        assert isinstance(check(text), v.Valid | v.Invalid)
    assert isinstance(v.id_number(text, TODAY), v.Valid | v.Invalid)
