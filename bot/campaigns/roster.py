"""Reading a roster file (CSV or XLSX) laid out like the seeds' tables.

The seed's table (STT, Họ và tên, Chức vụ/phòng ban, Mã số BHXH) is split over several
pages, each starting with the header again, with the header's spelling drifting ("Mã số
BHHH"): every row that reads as a header is skipped, headers are recognised with or without
diacritics, and a header broken over two rows ("Mã số" above "BHXH") is joined. Rows above
the first header (titles) are ignored. Every bad row is reported with its line number, and
nothing is returned unless every row is good: the import is all or nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.flows import validators
from bot.flows.places import fold
from storage.campaigns import RosterPerson

Column = str  # "stt" | "name" | "role" | "department" | "bhxh"


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str


class RosterError(ValueError):
    """The file cannot be imported; ``problems`` say where and why (nothing was imported)."""

    def __init__(self, problems: list[RowProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"line {p.line}: {p.reason}" for p in problems))


def _column(header: str) -> Column | None:
    """What a header cell names, diacritics and case ignored."""
    h = fold(header)
    if not h:
        return None
    if h in ("stt", "tt", "so tt", "so thu tu", "no"):
        return "stt"
    # The seed itself spells it "Mã số BHHH" and "Mã số BHH" on later pages.
    if h.startswith("ma so bh") or "bhxh" in h.split() or h in ("social insurance code",):
        return "bhxh"
    if "ho va ten" in h or h in ("ho ten", "ten", "full name", "name"):
        return "name"
    if h in ("phong ban", "phong", "don vi", "department", "bo phan"):
        return "department"
    if h.startswith("chuc vu") or h in ("position", "role", "chuc danh"):
        return "role"
    return None


def _header(cells: list[str]) -> dict[Column, int] | None:
    """Column positions if ``cells`` is a header row (it names at least the name and code)."""
    found: dict[Column, int] = {}
    for index, cell in enumerate(cells):
        column = _column(cell)
        if column is not None and column not in found:
            found[column] = index
    return found if "name" in found and "bhxh" in found else None


def _joined(upper: list[str], lower: list[str]) -> list[str]:
    width = max(len(upper), len(lower))
    padded = [*upper, *[""] * (width - len(upper))], [*lower, *[""] * (width - len(lower))]
    return [" ".join(part for part in pair if part).strip() for pair in zip(*padded, strict=True)]


def department_of(role: str) -> str:
    """The department in a "Chức vụ, phòng ban" cell: after the first comma ("Chuyên viên,
    phòng Thanh tra"), else from the word "phòng" on ("Trưởng phòng Tổ chức Cán bộ" →
    "Phòng Tổ chức Cán bộ"), else the cell itself ("Giám đốc Sở")."""
    text = " ".join(role.split())
    if "," in text:
        text = text.split(",", 1)[1].strip()
    else:
        folded = [fold(word) for word in text.split()]
        for i, word in enumerate(folded):
            # "Trưởng phòng X": the head's title, not yet the department's name.
            if word == "phong" and i + 1 < len(folded) and (i == 0 or folded[i - 1] != "van"):
                text = " ".join(text.split()[i:])
                break
    return text[:1].upper() + text[1:] if text else ""


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        # A spreadsheet cell typed as a number lost its leading zero: codes are 10 digits.
        return str(value).zfill(10) if 0 < len(str(value)) < 10 else str(value)
    return " ".join(str(value).split())


def read_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """``(line number, cells)`` of a CSV or XLSX file's first sheet."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            sheet = book.worksheets[0]
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                yield number, [_cell(v) for v in row]
        finally:
            book.close()
        return
    text = path.read_bytes().decode("utf-8-sig")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], ",;\t")
    except csv.Error:
        dialect = csv.excel
    for number, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1):
        yield number, [_cell(v) for v in row]


def parse(rows: Iterable[tuple[int, list[str]]]) -> list[RosterPerson]:
    """The roster's people in file order, or ``RosterError`` naming every bad line."""
    people: list[RosterPerson] = []
    problems: list[RowProblem] = []
    seen: dict[str, int] = {}
    # The seed spells one department two ways ("phòng Tổ chức Cán bộ", "… cán bộ"): the
    # first spelling met names it for every row.
    spellings: dict[str, str] = {}
    columns: dict[Column, int] | None = None
    pending: list[str] | None = None  # a row that may be the top half of a header
    for line, cells in rows:
        if not any(cells):
            continue
        header = _header(cells)
        if header is None and pending is not None:
            header = _header(_joined(pending, cells))
        if header is not None:
            columns, pending = header, None
            continue
        if columns is None or all(_column(c) or not c for c in cells):
            pending = cells if any(_column(c) for c in cells) else None
            continue
        pending = None

        def get(
            column: Column, cells: list[str] = cells, columns: dict[Column, int] = columns
        ) -> str:
            index = columns.get(column)
            return cells[index] if index is not None and index < len(cells) else ""

        name, raw_code = get("name"), get("bhxh")
        if not name:
            problems.append(RowProblem(line, "no name (Họ và tên)"))
            continue
        checked = validators.bhxh_code(raw_code)
        if not isinstance(checked, validators.Valid):
            problems.append(RowProblem(line, f"BHXH code is not 10 digits: {raw_code[:20]!r}"))
            continue
        code = str(checked.value)
        if code in seen:
            problems.append(RowProblem(line, f"same BHXH code as line {seen[code]}"))
            continue
        seen[code] = line
        role = get("role")
        department = get("department") or department_of(role)
        department = spellings.setdefault(department.casefold(), department)
        people.append(RosterPerson(len(people) + 1, name, role, department, code))
    if columns is None:
        problems.append(RowProblem(1, "no header row with Họ và tên and Mã số BHXH"))
    if problems:
        raise RosterError(problems)
    return people


def load(path: Path) -> list[RosterPerson]:
    return parse(read_rows(path))
