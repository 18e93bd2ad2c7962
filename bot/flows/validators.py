"""Validators for the declaration's typed answers.

Each takes what the user typed and returns either ``Valid`` with the normalised value or
``Invalid`` with an error code (a catalogue key suffix) and parameters for the message.
They never raise on any input: the flow relies on that to answer every message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bot.flows.sanitize import ascii_digits, has_foreign_digit


@dataclass(frozen=True)
class Valid:
    value: str
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Invalid:
    code: str
    params: dict[str, str | int] = field(default_factory=dict)


Result = Valid | Invalid

MAX_TEXT = 500
_SEPARATORS = re.compile(r"[\s.\-_/]+")
# ``[0-9]``, not ``\d``: ``\d`` matches the digits of every script.
_BHYT_CARD = re.compile(r"^[A-Z]{2}[1-5][0-9]{2}([0-9]{10})$")
# A Vietnamese passport: one letter, seven digits (C1234567). Another country's: 6–9
# letters and digits with at least one digit (all-digit numbers are read as a CCCD
# first), so that words such as "hai phong" are never taken for one.
_PASSPORT_VN = re.compile(r"^[A-Z][0-9]{7}$")
_PASSPORT_OTHER = re.compile(r"^(?=.*[0-9])[A-Z0-9]{6,9}$")

#: A number typed with the digits of another script (``٠٣١…``, ``³``, fullwidth ``０``).
FOREIGN_DIGITS = "digits_not_ascii"


def _compact(text: str) -> str:
    """Drop the spaces, dots and dashes people type inside long numbers.

    NFC, not NFKC: NFKC turns superscript and fullwidth digits into ASCII ones, and a
    number is accepted only as the citizen would read it on the card, in 0–9.
    """
    return _SEPARATORS.sub("", unicodedata.normalize("NFC", text)).upper()


def bhxh_code(text: str) -> Result:
    """Mã số BHXH: 10 digits, or the 15-character BHYT card number whose last 10 it is."""
    compact = _compact(text)
    if not compact:
        return Invalid("bhxh_empty")
    if has_foreign_digit(compact):
        return Invalid(FOREIGN_DIGITS)
    if ascii_digits(compact) and len(compact) == 10:
        return Valid(compact)
    card = _BHYT_CARD.match(compact)
    if card:
        return Valid(card.group(1), {"from_card": compact})
    if ascii_digits(compact):
        return Invalid("bhxh_length", {"count": len(compact)})
    return Invalid("bhxh_not_digits")


def full_name(text: str) -> Result:
    """Họ và tên: letters with diacritics, NFC, single spaces, at least two words.

    A name typed all in lower or upper case (common on phone keyboards) is title-cased;
    mixed case is kept as typed, because the card prints it that way.
    """
    name = " ".join(unicodedata.normalize("NFC", text).split())
    if not name:
        return Invalid("name_empty")
    if len(name) > 80:
        return Invalid("name_too_long", {"max": 80})
    for char in name:
        if char == " ":
            continue
        category = unicodedata.category(char)
        if category[0] not in ("L", "M"):
            return Invalid("name_bad_char", {"char": char})
    if len(name.split()) < 2:
        return Invalid("name_one_word")
    if name.islower() or name.isupper():
        name = " ".join(word[:1].upper() + word[1:].lower() for word in name.split())
    return Valid(name)


def lacks_diacritics(name: str) -> bool:
    """A name in plain ASCII letters: almost every Vietnamese name printed on a CCCD has a
    diacritic somewhere ("Nguyen Van An" is "Nguyễn Văn An"), so the citizen is asked once
    whether they meant to type it that way."""
    return name.isascii()


def _century_base(gender_digit: int) -> int:
    return 1900 + (gender_digit // 2) * 100


def id_number(text: str, today: date) -> Result:
    """Số định danh (12 digits, CCCD/Căn cước) or a passport number.

    The 4th digit encodes century and gender (DOMAIN §3.1); a birth year in the future
    means a typo. A 9-digit CMND has not been valid since 2025-01-01, so it is refused
    with that reason rather than a generic error.
    """
    compact = _compact(text)
    if not compact:
        return Invalid("id_empty")
    if has_foreign_digit(compact):
        return Invalid(FOREIGN_DIGITS)
    if ascii_digits(compact):
        if len(compact) == 9:
            return Invalid("id_cmnd")
        if len(compact) != 12:
            return Invalid("id_length", {"count": len(compact)})
        if not compact.startswith("0"):
            return Invalid("id_prefix")
        gender_digit = int(compact[3])
        birth_year = _century_base(gender_digit) + int(compact[4:6])
        if birth_year > today.year:
            return Invalid("id_century")
        gender = "male" if gender_digit % 2 == 0 else "female"
        return Valid(compact, {"type": "cccd", "birth_year": str(birth_year), "gender": gender})
    if _PASSPORT_VN.match(compact):
        return Valid(compact, {"type": "passport"})
    if _PASSPORT_OTHER.match(compact):
        return Valid(compact, {"type": "passport_foreign"})
    if compact.isalpha():
        return Invalid("id_words")  # a place or a sentence, typed one question early or late
    return Invalid("id_format")


def mobile_phone(text: str) -> Result:
    """A Vietnamese mobile number in any common spelling, stored as E.164 (+84…)."""
    raw = text.strip()
    if not raw:
        return Invalid("phone_empty")
    if has_foreign_digit(raw):  # libphonenumber would quietly read them as 0–9
        return Invalid(FOREIGN_DIGITS)
    try:
        number = phonenumbers.parse(raw, "VN")
    except phonenumbers.NumberParseException:
        return Invalid("phone_not_number")
    if number.country_code != 84:
        return Invalid("phone_not_vn")
    if not phonenumbers.is_valid_number(number):
        return Invalid("phone_invalid")
    kind = phonenumbers.number_type(number)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return Invalid("phone_landline")
    return Valid(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def email(text: str) -> Result:
    """Syntax check and normalisation only: a deliverability look-up would leak the address."""
    raw = text.strip()
    if not raw:
        return Invalid("email_empty")
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError:
        return Invalid("email_invalid")
    return Valid(checked.normalized)


def street(text: str) -> Result:
    """House number and street or hamlet: free text, but not empty, not a novel, and
    words: at least one letter (of any script, Vietnamese ones included) or digit, so that
    emojis or punctuation alone (``🏠🏠``) are not an address an officer can read."""
    value = " ".join(unicodedata.normalize("NFC", text).split())
    if len(value) < 2:
        return Invalid("street_short")
    if len(value) > 200:
        return Invalid("street_long", {"max": 200})
    if not any(char.isalpha() or char in "0123456789" for char in value):
        return Invalid("street_no_words")
    return Valid(value)


def otp_code(text: str) -> Result:
    compact = _compact(text)
    if has_foreign_digit(compact):
        return Invalid(FOREIGN_DIGITS)
    if not (ascii_digits(compact) and len(compact) == 6):
        return Invalid("otp_format")
    return Valid(compact)


def phone_display(e164: str) -> str:
    """+84983847986 → 0983 847 986, the way people read their own number."""
    try:
        number = phonenumbers.parse(e164, "VN")
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def _grouped(value: str, sizes: tuple[int, ...]) -> str:
    parts, start = [], 0
    for size in sizes:
        parts.append(value[start : start + size])
        start += size
    return " ".join(parts)


def id_display(number: str) -> str:
    """001099012345 → 001 099 012 345: a 12-digit ID in groups of three, as people read it
    aloud (the first group is also the province of birth registration). A passport number
    is short and shown as typed."""
    return _grouped(number, (3, 3, 3, 3)) if len(number) == 12 and ascii_digits(number) else number


def bhxh_display(code: str) -> str:
    """0312345678 → 03 1234 5678: two digits (they look like a province, DOMAIN §3.4), then
    two groups of four, the way a 10-digit number is read, to check against the card."""
    return _grouped(code, (2, 4, 4)) if len(code) == 10 and ascii_digits(code) else code
