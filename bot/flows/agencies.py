"""The receiving BHXH agency directory ("Cơ quan BHXH tiếp nhận").

Why a curated file: no public machine-readable list of VSS offices with codes, addresses and
phones exists (DOMAIN §5), and the 2025 restructuring (34 provincial BHXH + "BHXH cơ sở")
left the old codes partly in use. So the bot ships a small seed (``data/agencies.csv``: one
provincial office per province plus the offices the seed notices name) and lets the operator
overlay their own list with ``vssid-bot agencies import FILE.csv``, which is validated as a
whole and written atomically to ``{VSSID_DATA_DIR}/agencies.csv``.

CSV columns: ``code,name,province_code,communes,address,phone,active,confirmed``
- ``code``: ``PPP`` (provincial: ``0`` + province code) or ``PPPNN`` (sub-unit); keep the
  leading zero (format the column as text in a spreadsheet).
- ``communes``: 2025 commune codes the office serves, ``;``-separated, may be empty.
- ``active``: listed and suggested; inactive rows stay resolvable by code (old receipts).
- ``confirmed``: the row was checked against a current source; the seed is all ``no``.
  An operator's import confirms the rows it brings unless they say ``no``.
- Lines starting with ``#`` are comments; an empty ``active`` means yes, an empty
  ``confirmed`` no in the seed and yes in an operator's import.

Honesty (``public_contact``): a citizen is shown an office's address and phone as fact only
for a confirmed row, and never an address naming a district (quận, huyện, thị xã), a level
abolished on 2025-07-01; otherwise they are told to check with the hotline.

Agency names are data, not UI prose; error messages here are for the operator's terminal.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.flows.places import Catalogue, catalogue, fold
from bot.flows.ports import AgencyLike

if TYPE_CHECKING:  # phonenumbers is imported lazily: it is only needed to validate/format
    import phonenumbers

__all__ = [
    "COLUMNS",
    "Agency",
    "AgencyCsvError",
    "AgencyDirectory",
    "dump_agency_csv",
    "format_agency",
    "import_agencies",
    "load_directory",
    "names_old_district",
    "parse_agency_csv",
    "public_contact",
]

DATA_FILE = Path(__file__).with_name("data") / "agencies.csv"
OPERATOR_FILE_NAME = "agencies.csv"
COLUMNS = ("code", "name", "province_code", "communes", "address", "phone", "active", "confirmed")

_CODE = re.compile(r"^\d{3}(\d{2})?$")
_TRUE = {"yes", "y", "true", "1", "có", "co", "x"}
_FALSE = {"no", "n", "false", "0", "không", "khong"}
# Words that say "social insurance office" and so carry no search signal.
_NOISE = re.compile(r"\b(bao hiem xa hoi|bhxh|co so)\b")
_TYPE_WORDS = re.compile(r"^(thanh pho|tinh|quan|huyen|thi xa|phuong|xa|dac khu|tp|tx)\s+")
# District-level words of the pre-2025 three-level addresses, also abbreviated ("Q. 1",
# "TX. Sơn Tây"). Matched with diacritics: folded, "quận" would also hit "Quán Thánh".
_OLD_DISTRICT = re.compile(r"\b(?:quận|huyện|thị xã)\b|\b(?:q|h|tx)\.\s?\w", re.IGNORECASE)


@dataclass(frozen=True)
class Agency:
    """One receiving office. ``communes`` are 2025 commune codes it serves (may be empty)."""

    code: str
    name: str
    province_code: str
    communes: tuple[str, ...]
    address: str
    phone: str
    active: bool
    confirmed: bool

    @property
    def is_provincial(self) -> bool:
        """Provincial offices have 3-digit codes (``031``); sub-units 5 digits (``03102``)."""
        return len(self.code) == 3


def names_old_district(address: str) -> bool:
    """The address names a quận/huyện/thị xã: written before the 2025 reform, out of date."""
    return bool(_OLD_DISTRICT.search(unicodedata.normalize("NFC", address)))


def public_contact(agency: AgencyLike) -> tuple[str, str]:
    """The (address, phone) a citizen may take as fact; an empty part is to be asked by
    phone (the hotline). Nothing from a row the operator has not confirmed, and no address
    naming a district abolished in 2025."""
    if not agency.confirmed:
        return "", ""
    address = "" if names_old_district(agency.address) else agency.address
    return address, agency.phone


class AgencyCsvError(ValueError):
    """A CSV that cannot be used; ``errors`` lists every problem as (line number, message)."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        super().__init__("\n".join(f"line {n}: {msg}" for n, msg in errors))


# --------------------------------------------------------------------------------------------
# Phones (phonenumbers imported on first use: it is ~30 MB of metadata we rarely need)
# --------------------------------------------------------------------------------------------


def _parse_phone(text: str) -> phonenumbers.PhoneNumber | None:
    import phonenumbers  # noqa: PLC0415 - lazy on purpose, see section note

    try:
        number = phonenumbers.parse(text, "VN")
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def _national(text: str) -> str:
    """Format a phone for display ("02253826582" -> "0225 3826 582"); else unchanged."""
    import phonenumbers  # noqa: PLC0415

    number = _parse_phone(text)
    if number is None:
        return text
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


# --------------------------------------------------------------------------------------------
# CSV
# --------------------------------------------------------------------------------------------


def _bool(value: str, default: bool) -> bool | None:
    v = value.strip().lower()
    if not v:
        return default
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    return None


def _rows_with_lines(text: str) -> Iterable[tuple[int, list[str]]]:
    """CSV rows with the line each starts on; ``#`` comment lines and blank lines skipped."""
    # Blank out comments first (keeping line numbers) so a quote in a comment cannot swallow
    # the following rows.
    lines = text.splitlines()
    cleaned = "\n".join("" if ln.lstrip().startswith("#") else ln for ln in lines)
    reader = csv.reader(io.StringIO(cleaned))
    start = 1
    for row in reader:
        line = start
        start = reader.line_num + 1
        if not row or all(not cell.strip() for cell in row):
            continue
        yield line, row


def parse_agency_csv(
    text: str, catalogue: Catalogue, *, confirmed_default: bool = False
) -> list[Agency]:
    """Validate a whole agency CSV; raise :class:`AgencyCsvError` listing every bad row.

    ``confirmed_default``: what an empty ``confirmed`` cell means (yes in an operator's
    import: the operator vouches for what they bring)."""
    text = text.removeprefix("\ufeff")
    errors: list[tuple[int, str]] = []
    agencies: list[Agency] = []
    header: list[str] | None = None
    seen: dict[str, int] = {}
    for line, row in _rows_with_lines(text):
        if header is None:
            header = [h.strip().lower() for h in row]
            missing = [c for c in COLUMNS if c not in header]
            unknown = [h for h in header if h not in COLUMNS]
            if missing or unknown or len(set(header)) != len(header):
                detail = []
                if missing:
                    detail.append(f"missing column(s) {', '.join(missing)}")
                if unknown:
                    detail.append(f"unknown column(s) {', '.join(unknown)}")
                if len(set(header)) != len(header):
                    detail.append("repeated column")
                errors.append(
                    (line, f"bad header ({'; '.join(detail)}); expected {','.join(COLUMNS)}")
                )
                raise AgencyCsvError(errors)
            continue
        if len(row) != len(header):
            errors.append((line, f"expected {len(header)} fields, got {len(row)}"))
            continue
        cells = {h: v.strip() for h, v in zip(header, row, strict=True)}
        agency, row_errors = _agency_from_cells(cells, catalogue, confirmed_default)
        errors.extend((line, e) for e in row_errors)
        if agency is None:
            continue
        if agency.code in seen:
            first = seen[agency.code]
            errors.append((line, f"duplicate code {agency.code} (first on line {first})"))
            continue
        seen[agency.code] = line
        agencies.append(agency)
    if header is None:
        errors.append((1, f"empty file; expected a header {','.join(COLUMNS)}"))
    if errors:
        raise AgencyCsvError(sorted(errors, key=lambda e: e[0]))
    return agencies


def _agency_from_cells(
    cells: dict[str, str], places: Catalogue, confirmed_default: bool
) -> tuple[Agency | None, list[str]]:
    errors: list[str] = []
    code = cells["code"]
    if not _CODE.fullmatch(code):
        errors.append(
            f"bad code {code!r}: expected 3 or 5 digits (PPP or PPPNN), keep the leading zero"
        )
    name = " ".join(cells["name"].split())
    if not name:
        errors.append("missing name")
    province_code = cells["province_code"]
    if places.province(province_code) is None:
        errors.append(f"unknown province code {province_code!r} (2025 codes, e.g. 01, 31, 79)")
    communes: list[str] = []
    for raw in cells["communes"].split(";"):
        commune_code = raw.strip()
        if not commune_code or commune_code in communes:
            continue
        commune = places.commune(commune_code)
        if commune is None:
            errors.append(f"unknown commune code {commune_code!r}")
        elif places.province(province_code) and commune.province_code != province_code:
            errors.append(
                f"commune {commune_code} ({commune.name}) is in province "
                f"{commune.province_code}, not {province_code}"
            )
        else:
            communes.append(commune_code)
    phone = cells["phone"]
    if phone and _parse_phone(phone) is None:
        errors.append(f"bad phone {phone!r}: not a valid Vietnamese number")
    active = _bool(cells["active"], default=True)
    if active is None:
        errors.append(f"bad active value {cells['active']!r}: use yes or no")
    confirmed = _bool(cells["confirmed"], default=confirmed_default)
    if confirmed is None:
        errors.append(f"bad confirmed value {cells['confirmed']!r}: use yes or no")
    if errors or active is None or confirmed is None:
        return None, errors
    agency = Agency(
        code=code,
        name=name,
        province_code=province_code,
        communes=tuple(communes),
        address=" ".join(cells["address"].split()),
        phone=phone,
        active=active,
        confirmed=confirmed,
    )
    return agency, []


def dump_agency_csv(agencies: Iterable[Agency]) -> str:
    """Serialise agencies in the same CSV format :func:`parse_agency_csv` reads."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for a in agencies:
        writer.writerow(
            [
                a.code,
                a.name,
                a.province_code,
                ";".join(a.communes),
                a.address,
                a.phone,
                "yes" if a.active else "no",
                "yes" if a.confirmed else "no",
            ]
        )
    return out.getvalue()


def _merge(base: Iterable[Agency], overlay: Iterable[Agency]) -> list[Agency]:
    """Rows of ``overlay`` replace rows of ``base`` with the same code; new codes appended."""
    merged = {a.code: a for a in base}
    for a in overlay:
        merged[a.code] = a
    return list(merged.values())


def _read_csv_file(
    path: Path, places: Catalogue, *, confirmed_default: bool = False
) -> list[Agency]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AgencyCsvError([(1, f"{path}: not UTF-8 text ({exc.reason})")]) from exc
    try:
        return parse_agency_csv(text, places, confirmed_default=confirmed_default)
    except AgencyCsvError as exc:
        raise AgencyCsvError([(n, f"{path.name}: {msg}") for n, msg in exc.errors]) from None


def load_directory(data_dir: Path | None = None) -> AgencyDirectory:
    """The packaged seed overlaid by ``{data_dir}/agencies.csv`` (operator rows win by code).

    A broken operator file raises :class:`AgencyCsvError` rather than being half-used: it
    can only be hand-edited (imports are validated), and a loud start beats wrong offices.
    """
    places = catalogue()
    agencies = _read_csv_file(DATA_FILE, places)
    if data_dir is not None:
        operator_file = Path(data_dir) / OPERATOR_FILE_NAME
        if operator_file.exists():
            agencies = _merge(agencies, _read_csv_file(operator_file, places))
    return AgencyDirectory(agencies, places)


def import_agencies(path: Path, data_dir: Path) -> int:
    """Validate ``path`` and merge it into ``{data_dir}/agencies.csv`` atomically.

    Returns the number of rows imported. The rows are confirmed (shown to citizens with
    their address and phone) unless their ``confirmed`` cell says no. Nothing is written
    unless every row is valid;
    the file is replaced with ``os.replace`` so a crash leaves the old or the new file,
    never a half-written one.
    """
    places = catalogue()
    incoming = _read_csv_file(Path(path), places, confirmed_default=True)
    data_dir = Path(data_dir)
    target = data_dir / OPERATOR_FILE_NAME
    existing = _read_csv_file(target, places) if target.exists() else []
    text = dump_agency_csv(_merge(existing, incoming))
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the bot's own: owner only
    fd, tmp_name = tempfile.mkstemp(prefix=".agencies-", suffix=".csv.tmp", dir=data_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return len(incoming)


# --------------------------------------------------------------------------------------------
# Directory
# --------------------------------------------------------------------------------------------


def _search_key(text: str) -> str:
    """Folded text without "BHXH"/"bảo hiểm xã hội"/"cơ sở", which every name contains."""
    return " ".join(_NOISE.sub(" ", fold(text)).split())


class AgencyDirectory:
    """Read-only view of the agencies, with suggestion and search."""

    def __init__(self, agencies: Iterable[Agency], places: Catalogue) -> None:
        self._places = places
        order = {p.code: i for i, p in enumerate(places.provinces())}
        self._agencies = sorted(
            agencies,
            key=lambda a: (
                order.get(a.province_code, 99),
                not a.is_provincial,
                fold(a.name),
                a.code,
            ),
        )
        self._by_code = {a.code: a for a in self._agencies}
        self._name_keys = {a.code: _search_key(a.name) for a in self._agencies}
        self._haystacks = {
            a.code: " ".join([self._name_keys[a.code], fold(self._province_name(a.province_code))])
            for a in self._agencies
        }

    def _province_name(self, code: str) -> str:
        province = self._places.province(code)
        return province.short_name if province else ""

    def all(self) -> list[Agency]:
        """Every agency, inactive included, by province then provincial office first."""
        return list(self._agencies)

    def by_code(self, code: str) -> Agency | None:
        """Any agency by code, inactive included (old receipts still name them)."""
        return self._by_code.get(code.strip())

    def for_province(self, province_code: str) -> list[Agency]:
        """Active agencies of a province, provincial office first."""
        return [a for a in self._agencies if a.active and a.province_code == province_code]

    def suggest(
        self,
        province_code: str | None,
        commune_code: str | None = None,
        issuer_text: str | None = None,
        limit: int = 3,
    ) -> list[Agency]:
        """Likely receiving offices for a person, best first (active ones only).

        Order: offices that list the person's commune; offices of the province named by the
        BHYT card's "nơi cấp" (``issuer_text``, e.g. "Quận Cầu Giấy, Thành phố Hà Nội");
        the provincial office; offices elsewhere that the issuer names; other offices of the
        province. The provincial office comes before unrelated sub-units because a sub-unit
        that does not list the commune is no nearer than any other, while the provincial
        office accepts everyone of the province (and since 2025-07, anyone at all).
        """
        pc = province_code
        if commune_code and not pc:
            commune = self._places.commune(commune_code)
            pc = commune.province_code if commune else None
        hints, issuer_province = self._issuer_hints(issuer_text)
        pc = pc or issuer_province

        def rank(a: Agency) -> int | None:
            hinted = any(f" {h} " in f" {self._name_keys[a.code]} " for h in hints)
            same = a.province_code == pc
            if commune_code and commune_code in a.communes:
                return 0
            if hinted and same:
                return 1
            if same and a.is_provincial:
                return 2
            if hinted:
                return 3
            if same:
                return 4
            return None

        scored = [
            (r, i, a)
            for i, a in enumerate(self._agencies)
            if a.active and (r := rank(a)) is not None
        ]
        scored.sort(key=lambda ria: (ria[0], ria[1]))
        return [a for _r, _i, a in scored[:limit]]

    def _issuer_hints(self, issuer_text: str | None) -> tuple[list[str], str | None]:
        """Folded place names of a "nơi cấp" text, and the province it names (if any)."""
        if not issuer_text:
            return [], None
        province: str | None = None
        hints: list[str] = []
        for part in re.split(r"[,;\n]|\s-\s", issuer_text):
            key = _search_key(part)
            if not key:
                continue
            found = self._places.match_province(key)
            if found is not None:
                province = province or found.code
                continue
            hints.append(key)
            bare = _TYPE_WORDS.sub("", key)
            if bare != key and len(bare.replace(" ", "")) >= 3:
                hints.append(bare)
        return hints, province

    def search(self, text: str, limit: int = 8) -> list[Agency]:
        """Active agencies whose code or name (or province) matches typed text."""
        raw = text.strip()
        if raw.isdigit():
            exact = [a for a in self._agencies if a.active and a.code == raw]
            prefix = [a for a in self._agencies if a.active and a.code.startswith(raw)]
            return list(dict.fromkeys(exact + prefix))[:limit]
        words = _search_key(raw).split()
        active = [a for a in self._agencies if a.active]
        if not words:
            return active[:limit] if fold(raw) else []

        def word_prefixes(hay: str) -> bool:
            tokens = hay.split()
            return all(any(t.startswith(w) for t in tokens) for w in words)

        ranked: list[tuple[int, int, Agency]] = []
        for i, a in enumerate(active):
            if word_prefixes(self._name_keys[a.code]):
                tier = 0
            elif word_prefixes(self._haystacks[a.code]):
                tier = 1
            elif word_prefixes(f"{self._haystacks[a.code]} {fold(a.address)}"):
                tier = 2
            else:
                continue
            ranked.append((tier, i, a))
        ranked.sort(key=lambda r: (r[0], r[1]))
        return [a for _t, _i, a in ranked[:limit]]


def format_agency(agency: Agency) -> str:
    """One display line: "[03102] BHXH Quận Ngô Quyền — 0225 3826 582 — Lô 20B …".

    Empty parts are left out; the phone is shown in national format.
    """
    parts: Sequence[str] = [
        f"[{agency.code}] {agency.name}",
        _national(agency.phone) if agency.phone else "",
        agency.address,
    ]
    return " — ".join(p for p in parts if p)
