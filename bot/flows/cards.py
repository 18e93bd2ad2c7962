"""Pure parsers for the QR payloads printed on Vietnamese ID (CCCD / Căn cước) and health
insurance (BHYT) cards, and a classifier that names the wrong QR codes people send.

Formats and rules: shared/DOMAIN.md §1.2–1.3 (CCCD), §2 (BHYT), §3.1 (12-digit number).
Why parse strictly: a QR read from a photo is exact or absent (QR has its own error
correction), so anything that does not fit the layout is a *different* QR — a payment code,
a link, the VNeID app's encrypted code — and the user must be told which card to photograph.
Nothing here is user-facing text; results are data and problem codes.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Final, Literal

from bot.flows.sanitize import ascii_digits, visible

Gender = Literal["male", "female"]
QrKind = Literal["cccd", "bhyt", "vietqr", "url", "vneid", "unknown"]


@dataclass(frozen=True)
class CccdCard:
    """Fields of a CCCD (2021) or Căn cước (2024+) QR.

    ``birth_date`` is ``None`` when the card only records the year (``0000yyyy``/``yyyy``);
    ``birth_year`` is always set. ``extra`` holds the raw fields after the 7th (the 2024
    card's four, normally empty, slots) so they can be surfaced when non-empty.
    """

    id_number: str
    old_id: str | None
    full_name: str
    birth_date: date | None
    birth_year: int
    gender: Gender
    address: str
    issue_date: date | None
    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class BhytCard:
    """Fields of a BHYT QR (9-, 14- or 16-field forms). Absent (``-``/empty/missing) → None.

    ``bhxh_code`` is the 10-digit social-insurance code: the whole card number on the 2021
    form, its last 10 characters on the old 15-character form.
    """

    card_number: str
    bhxh_code: str
    full_name: str | None
    birth_date: date | None
    birth_year: int | None
    gender: Gender | None
    address: str | None
    facility: str | None
    valid_from: date | None
    valid_to: date | None
    issued: date | None
    parent_name: str | None
    issuer: str | None


# --- helpers ------------------------------------------------------------------------------

_MIN_YEAR: Final = 1890
_MAX_YEAR: Final = 2100

# ``[0-9]``, not ``\d`` (which matches the digits of every script): card numbers are ASCII.
_CCCD_ID: Final = re.compile(r"[0-9]{12}")
_OLD_ID: Final = re.compile(r"[0-9]{9}|[0-9]{12}")
_BHYT_OLD: Final = re.compile(r"[A-Z]{2}[1-5][0-9]{2}[0-9]{10}")
_BHXH: Final = re.compile(r"[0-9]{10}")
_HEX: Final = re.compile(r"(?:[0-9a-fA-F]{2})+")
_SPACES: Final = re.compile(r"\s+")


def clean_text(value: str) -> str:
    """NFC, single-spaced, trimmed, without control or format characters: how names and
    addresses are compared and stored.

    Why NFC: the same Vietnamese letter can arrive precomposed or with combining marks
    (``ữ`` vs ``ư`` + tilde), and the bot must treat both alike. Why ``visible``: a printed
    QR can carry terminal escapes or bidi overrides, which must not reach the database.
    """
    return _SPACES.sub(" ", unicodedata.normalize("NFC", visible(value))).strip()


def _strip_payload(text: str) -> str:
    """Remove what scanners and decoders add around a payload: BOM, NUL, CR/LF, spaces."""
    return text.strip().strip("\ufeff\x00").strip()


def _year_ok(year: int) -> bool:
    return _MIN_YEAR <= year <= _MAX_YEAR


def _parse_ddmmyyyy(value: str) -> tuple[date | None, int | None] | None:
    """``ddmmyyyy`` (CCCD). Returns (date, year); date is None for year-only forms
    (``yyyy``, ``0000yyyy``, ``00mmyyyy``). ``None`` means malformed."""
    value = value.strip()
    if len(value) == 4 and ascii_digits(value):
        year = int(value)
        return (None, year) if _year_ok(year) else None
    if len(value) != 8 or not ascii_digits(value):
        return None
    day, month, year = int(value[:2]), int(value[2:4]), int(value[4:])
    return _make_date(day, month, year)


def _parse_slashed(value: str) -> tuple[date | None, int | None] | None:
    """``dd/mm/yyyy`` (BHYT), also ``yyyy``, ``mm/yyyy`` and zero day/month (year only)."""
    value = value.strip()
    parts = value.split("/")
    if not all(ascii_digits(p) for p in parts):
        return None
    if len(parts) == 1 and len(value) == 4:
        year = int(value)
        return (None, year) if _year_ok(year) else None
    if len(parts) == 2 and len(parts[1]) == 4:
        year = int(parts[1])
        return (None, year) if _year_ok(year) and 0 <= int(parts[0]) <= 12 else None
    if len(parts) == 3 and len(parts[2]) == 4 and len(parts[0]) <= 2 and len(parts[1]) <= 2:
        return _make_date(int(parts[0]), int(parts[1]), int(parts[2]))
    return None


def _make_date(day: int, month: int, year: int) -> tuple[date | None, int | None] | None:
    if not _year_ok(year):
        return None
    if day == 0 or month == 0:  # unknown day or month: the year is still meaningful
        return (None, year) if month <= 12 and day <= 31 else None
    try:
        return date(year, month, day), year
    except ValueError:
        return None


def _cccd_gender(value: str) -> Gender | None:
    key = clean_text(value).casefold()
    if key == "nam":
        return "male"
    if key in ("nữ", "nu"):
        return "female"
    return None


def _absent(value: str) -> bool:
    return value.strip() in ("", "-")


def decode_hex_text(value: str) -> str:
    """BHYT text fields are hex of UTF-8; decode when they are, else keep the raw text
    (some issuers wrote plain text). Why not fail: the field is optional information."""
    raw = value.strip()
    if _HEX.fullmatch(raw):
        try:
            return clean_text(bytes.fromhex(raw).decode("utf-8"))
        except UnicodeDecodeError:
            pass
    return clean_text(raw)


# --- CCCD ---------------------------------------------------------------------------------


def parse_cccd(text: str) -> CccdCard | None:
    """Parse a CCCD/Căn cước QR payload (DOMAIN §1.3), or ``None`` if it is not one.

    Empty fields are kept (the old-ID slot is often empty; 2024 cards add ``||||``).
    The number/birth-date cross-check is *not* applied here: see
    :func:`id_number_consistency`, so the caller can say what is wrong.
    """
    parts = _strip_payload(text).split("|")
    if len(parts) < 7:
        return None
    id_number, old_id, name, birth, gender_text, address, issued = (p.strip() for p in parts[:7])
    if not _CCCD_ID.fullmatch(id_number):
        return None
    if old_id and not _OLD_ID.fullmatch(old_id):
        return None
    full_name = clean_text(name)
    if not full_name or any(ch.isdigit() for ch in full_name):
        return None
    birth_parsed = _parse_ddmmyyyy(birth)
    if birth_parsed is None:
        return None
    birth_date, birth_year = birth_parsed
    gender = _cccd_gender(gender_text)
    if gender is None or birth_year is None:
        return None
    issue_date: date | None = None
    if issued:
        issued_parsed = _parse_ddmmyyyy(issued)
        if issued_parsed is None or issued_parsed[0] is None:
            return None
        issue_date = issued_parsed[0]
    return CccdCard(
        id_number=id_number,
        old_id=old_id or None,
        full_name=full_name,
        birth_date=birth_date,
        birth_year=birth_year,
        gender=gender,
        address=clean_text(address),
        issue_date=issue_date,
        extra=tuple(p.strip() for p in parts[7:]),
    )


def id_number_consistency(id_number: str, birth_year: int, gender: str) -> list[str]:
    """Problems between a 12-digit number ``PPP G YY RRRRRR`` and the birth year/gender.

    ``G`` encodes century and gender (1900s: 0 male / 1 female, 2000s: 2/3, …), ``YY`` the
    last two digits of the birth year (DOMAIN §3.1). Codes: ``"invalid_format"`` (not 12
    digits), ``"century_gender_mismatch"``, ``"birth_year_mismatch"``. Empty list = consistent.
    Why a list rather than a bool: the bot says *which* field to re-check.
    """
    if not _CCCD_ID.fullmatch(id_number):
        return ["invalid_format"]
    problems: list[str] = []
    digit = int(id_number[3])
    century = 1900 + (digit // 2) * 100
    coded_gender = "male" if digit % 2 == 0 else "female"
    if not (century <= birth_year < century + 100) or gender != coded_gender:
        problems.append("century_gender_mismatch")
    if int(id_number[4:6]) != birth_year % 100:
        problems.append("birth_year_mismatch")
    return problems


# --- BHYT ---------------------------------------------------------------------------------


def _field(fields: list[str], index: int) -> str | None:
    """Field ``index`` stripped, or None when missing/``-``/empty (tails may be absent)."""
    if index >= len(fields) or _absent(fields[index]):
        return None
    return fields[index].strip()


def _bhyt_date(fields: list[str], index: int) -> date | None:
    value = _field(fields, index)
    if value is None:
        return None
    parsed = _parse_slashed(value)
    return parsed[0] if parsed else None


def parse_bhyt(text: str) -> BhytCard | None:
    """Parse a BHYT QR payload (DOMAIN §2), or ``None`` if it is not one.

    Lenient on optional fields (a malformed date becomes ``None``: the user confirms the
    values anyway), strict on the card number, which is what identifies a BHYT QR together
    with the final ``$``.
    """
    payload = _strip_payload(text)
    fields = payload.split("|")
    if fields[-1].strip() == "$":
        fields = fields[:-1]
    elif len(fields) > 1 and fields[-1].endswith("$"):  # terminator glued to the last field
        fields[-1] = fields[-1][:-1]
    elif len(fields) < 9:  # without the terminator, demand a full old-form layout
        return None
    if len(fields) < 4:
        return None
    card_number = fields[0].strip().upper()
    if _BHXH.fullmatch(card_number):
        bhxh_code = card_number
    elif _BHYT_OLD.fullmatch(card_number):
        bhxh_code = card_number[-10:]
    else:
        return None
    name = _field(fields, 1)
    birth = _field(fields, 2)
    birth_parsed = _parse_slashed(birth) if birth else None
    gender_code = _field(fields, 3)
    gender: Gender | None = None
    if gender_code == "1":
        gender = "male"
    elif gender_code == "2":
        gender = "female"
    elif gender_code is not None:
        gender = _cccd_gender(gender_code)
    address = _field(fields, 4)
    parent = _field(fields, 10)
    issuer = _field(fields, 15)
    return BhytCard(
        card_number=card_number,
        bhxh_code=bhxh_code,
        full_name=decode_hex_text(name) if name else None,
        birth_date=birth_parsed[0] if birth_parsed else None,
        birth_year=birth_parsed[1] if birth_parsed else None,
        gender=gender,
        address=decode_hex_text(address) if address else None,
        facility=_field(fields, 5),
        valid_from=_bhyt_date(fields, 6),
        valid_to=_bhyt_date(fields, 7),
        issued=_bhyt_date(fields, 8),
        parent_name=decode_hex_text(parent) if parent else None,
        issuer=decode_hex_text(issuer) if issuer else None,
    )


# --- classification -----------------------------------------------------------------------

_URL: Final = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)


def classify_payload(text: str) -> QrKind:
    """Name what a decoded QR is, so a wrong one can be explained to the user.

    ``vietqr``: EMVCo merchant/transfer payloads start with the payload-format indicator
    ``000201``. ``vneid``: the VNeID app's own QR is opaque; only payloads that mention
    VNeID are named so (we found no public description of its format — anything else
    opaque stays ``unknown`` rather than being guessed).
    """
    payload = _strip_payload(text)
    if parse_cccd(payload) is not None:
        return "cccd"
    if parse_bhyt(payload) is not None:
        return "bhyt"
    if payload.startswith("000201"):
        return "vietqr"
    if "vneid" in payload.casefold():
        return "vneid"
    if _URL.match(payload):
        return "url"
    return "unknown"
