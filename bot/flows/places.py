"""Vietnam's administrative units (2025 two-tier system) and the old → new address bridge.

Why this exists: the address step asks for a province, then a commune, and must also read
the *old* 3-level address printed in most CCCD QR codes (``Đằng Giang, Ngô Quyền, Hải
Phòng``) and map it onto the 2025 units (DOMAIN §4). The data is a static JSON generated at
dev time by ``scripts/gen_places.py`` from ``vietnamadminunits``; that package is never
imported here, because importing it costs ~0.35 s and its converter geocodes split wards
through ArcGIS (a network call carrying the user's address, DOMAIN §4.4).

Design notes
- Import is cheap (stdlib only; ICU comes with the data); the JSON is read on the first
  :func:`catalogue` call and kept for the life of the process (~50 ms). The ~10k old wards
  are indexed one old province at a time on first use (1–3 ms each), so no call pays for
  all of them unless it searches the whole country.
- Every name gets a diacritics-free search key (NFD → lower → marks stripped, ``đ`` → ``d``,
  punctuation → space, leading zeros of numbers dropped). Because all marks go, the two
  tone-mark placements (``Hoà``/``Hòa``, ``Thuỷ``/``Thủy``) fold to the same key. Diacritics
  the user *did* type are still used to break ties (``Cẩm Giàng`` before ``Cẩm Giang``),
  compared on a key whose tone mark is moved to the end of each syllable, so placement
  differences do not matter there either.
- Type words are optional everywhere (``P. Gia Viên``, ``phuong gia vien``, ``gia vien``,
  ``F1``, ``Q.1``, ``TP HCM``); when given they only break ties.
- Ranking of :meth:`Catalogue.find_communes`: exact name, exact alias, name prefix, alias
  prefix, prefix of an inner word, substring, and last *old* ward names (someone typing the
  pre-2025 ward they know gets the commune it became).
- :meth:`Catalogue.provinces` lists Hà Nội and TP Hồ Chí Minh first (they hold the largest
  share of users), then the rest in Vietnamese alphabetical order (``bot.flows.collation``:
  Cà Mau, Cao Bằng, Cần Thơ); communes are in that order too.

Names of places are data, not UI sentences; nothing here is user-facing prose.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache
from pathlib import Path
from typing import Any, Generic, NamedTuple, TypeVar

__all__ = [
    "Catalogue",
    "Commune",
    "LegacyMatch",
    "Province",
    "catalogue",
    "fold",
    "load_catalogue",
    "unaccented",
]

DATA_FILE = Path(__file__).with_name("data") / "places.json"

#: Provinces pinned to the top of :meth:`Catalogue.provinces` (Hà Nội, TP Hồ Chí Minh).
PINNED_PROVINCES = ("01", "79")


# --------------------------------------------------------------------------------------------
# Public value types
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Province:
    """A 2025 province-level unit. ``name`` is official ("Thành phố Hải Phòng")."""

    code: str
    name: str
    kind: str  # "tỉnh" | "thành phố"
    short_name: str  # "Hải Phòng"


@dataclass(frozen=True)
class Commune:
    """A 2025 commune-level unit. ``name`` includes the kind ("Phường Gia Viên")."""

    code: str
    name: str
    kind: str  # "xã" | "phường" | "đặc khu"
    province_code: str

    @property
    def short_name(self) -> str:
        """The name without its kind word ("Gia Viên"), for compact buttons."""
        return self.name[len(self.kind) + 1 :]


@dataclass(frozen=True)
class LegacyMatch:
    """What an address text resolved to.

    For an old (pre-2025-07) address, ``old_*`` are the official names of the units it named
    and ``candidates`` the 2025 communes they became — several when the old ward was split
    (``split=True``; the package's default is first, the user must confirm). For an address
    already in the 2025 form, ``old_*`` are empty and ``candidates`` holds the one commune.
    ``old_text`` is the input as given (keep it: DOMAIN §4.1); ``street`` the part before the
    administrative units, to re-attach to the new commune.
    """

    old_text: str
    old_ward: str
    old_district: str
    old_province: str
    candidates: tuple[Commune, ...]
    split: bool
    street: str = ""

    @property
    def is_legacy(self) -> bool:
        """True when the text was a pre-2025 address (so "trước đây: …" is worth showing)."""
        return bool(self.old_province)


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_LEADING_ZEROS = re.compile(r"\b0+(?=\d)")
_WORD = re.compile(r"[^\W_]+")
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")


def fold(text: str) -> str:
    """Diacritics-free, lower-case, single-spaced search key.

    ``fold("Phường 01, Đằng Giang") == "phuong 1 dang giang"``
    """
    s = unicodedata.normalize("NFD", text.lower()).replace("đ", "d").replace("ð", "d")
    s = _NON_ALNUM.sub(" ", s.encode("ascii", "ignore").decode("ascii")).strip()
    return _LEADING_ZEROS.sub("", s) if "0" in s else s


def unaccented(text: str) -> str:
    """``Đằng Giang`` → ``Dang Giang``: case kept, marks dropped (how many people type)."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _compact(folded: str) -> str:
    return folded.replace(" ", "")


@lru_cache(maxsize=8192)
def _toned(text: str) -> str:
    """Compact key that keeps diacritics, with each syllable's tone mark moved to its end.

    "Hoà" and "Hòa" both give "hoa" + U+0300, so tone placement never causes a mismatch.
    """
    out = []
    for word in _WORD.findall(unicodedata.normalize("NFC", text.lower())):
        tone = ""
        base = []
        for ch in unicodedata.normalize("NFD", word):
            if ch in _TONE_MARKS:
                tone = tone or ch
            else:
                base.append(ch)
        out.append("".join(base) + tone)
    return "".join(out)


def _has_marks(text: str) -> bool:
    return not text.isascii()


# Type words, folded, longest first. The value is the kind they denote (None: only stripped).
_TypeTable = tuple[tuple[str, str | None], ...]
_PROVINCE_TYPES: _TypeTable = (("thanh pho", "thành phố"), ("tinh", "tỉnh"), ("tp", "thành phố"))
_COMMUNE_TYPES: _TypeTable = (
    ("dac khu", "đặc khu"),
    ("thi tran", None),
    ("phuong", "phường"),
    ("xa", "xã"),
    ("dk", "đặc khu"),
    ("tt", None),
    ("p", "phường"),
    ("f", "phường"),
    ("x", "xã"),
)
_WARD_TYPES: _TypeTable = (
    ("thi tran", "thị trấn"),
    ("phuong", "phường"),
    ("xa", "xã"),
    ("tt", "thị trấn"),
    ("p", "phường"),
    ("f", "phường"),
    ("x", "xã"),
)
_DISTRICT_TYPES: _TypeTable = (
    ("thanh pho", "thành phố"),
    ("thi xa", "thị xã"),
    ("quan", "quận"),
    ("huyen", "huyện"),
    ("tp", "thành phố"),
    ("tx", "thị xã"),
    ("q", "quận"),
    ("h", "huyện"),
)
_GLUED = re.compile(r"^([a-z]{1,2})(\d+)$")  # "p1", "q10", "f12"


def _strip_type(key: str, table: _TypeTable) -> tuple[str | None, str] | None:
    """Split a folded key into (kind, rest) when it starts with a type word of ``table``."""
    for word, kind in table:
        if key.startswith(word + " ") and len(key) > len(word) + 1:
            return kind, key[len(word) + 1 :]
    m = _GLUED.match(key)
    if m:
        for word, kind in table:
            if word == m.group(1):
                return kind, m.group(2)
    return None


def _variants(text: str, table: _TypeTable) -> tuple[list[str], str | None]:
    """Compact query keys to try (as typed, and without a leading type word) + the kind."""
    key = fold(text)
    if key.startswith("t p "):  # "T.P Hồ Chí Minh"
        key = "tp " + key[4:]
    if not key:
        return [], None
    out = [_compact(key)]
    stripped = _strip_type(key, table)
    kind = None
    if stripped:
        kind, rest = stripped
        if _compact(rest) not in out:
            out.append(_compact(rest))
    return out, kind


# --------------------------------------------------------------------------------------------
# Search index
# --------------------------------------------------------------------------------------------

T = TypeVar("T")

# Match tiers, best first.
_EXACT, _ALIAS_EXACT, _PREFIX, _ALIAS_PREFIX, _WORD_PREFIX, _CONTAINS = range(6)


class _Entry(NamedTuple, Generic[T]):
    """One searchable item (a NamedTuple: cheaper to define and build than a dataclass)."""

    item: T
    names: tuple[str, ...]  # compact keys of the official names
    aliases: tuple[str, ...]  # compact keys of other names
    inner: tuple[str, ...]  # compact suffixes starting at an inner word ("tho" of "phuc tho")
    kind: str
    order: tuple[Any, ...]  # tie-break order
    display: tuple[str, str]  # (short name, full name) for the diacritics tie-break


class _Index(Generic[T]):
    """Sorted compact keys for exact/prefix lookups by bisection, plus a substring fallback."""

    def __init__(self, entries: Sequence[_Entry[T]]) -> None:
        self.entries = list(entries)
        rows: list[tuple[str, int, int]] = []
        for i, e in enumerate(self.entries):
            rows.extend((k, 0, i) for k in e.names)
            rows.extend((k, 1, i) for k in e.aliases)
            rows.extend((k, 2, i) for k in e.inner)
        rows.sort()
        self._keys = [r[0] for r in rows]
        self._meta = [(r[1], r[2]) for r in rows]
        # All official names in one string, so a substring search runs in C (str.find).
        self._blob_starts: list[int] = []
        self._blob_owner: list[int] = []
        pos = 0
        for i, e in enumerate(self.entries):
            for k in e.names:
                self._blob_starts.append(pos)
                self._blob_owner.append(i)
                pos += len(k) + 1
        self._blob = "\n".join(k for e in self.entries for k in e.names)

    def hits(self, queries: Iterable[str], want: int) -> dict[int, int]:
        """Entry index -> best tier over all ``queries``."""
        best: dict[int, int] = {}
        qs = [q for q in queries if q]
        for q in qs:
            j = bisect_left(self._keys, q)
            keys, meta = self._keys, self._meta
            while j < len(keys) and keys[j].startswith(q):
                rank, i = meta[j]
                if rank == 0:
                    tier = _EXACT if keys[j] == q else _PREFIX
                elif rank == 1:
                    tier = _ALIAS_EXACT if keys[j] == q else _ALIAS_PREFIX
                else:
                    tier = _WORD_PREFIX
                if tier < best.get(i, 99):
                    best[i] = tier
                j += 1
        if len(best) < want:
            for q in qs:
                if len(q) >= 3:
                    self._contains(q, best)
        return best

    def _contains(self, q: str, best: dict[int, int]) -> None:
        blob, starts = self._blob, self._blob_starts
        pos = blob.find(q)
        while pos >= 0:
            j = bisect_right(starts, pos) - 1
            best.setdefault(self._blob_owner[j], _CONTAINS)
            pos = blob.find(q, starts[j + 1]) if j + 1 < len(starts) else -1

    def fuzzy(self, queries: Sequence[str], cutoff: float = 0.6) -> dict[int, float]:
        """Entry index -> best similarity ratio (difflib) over short names and aliases.

        Only the last query variant is used (the one without a kind word, when there was
        one), against short names: kind words would only add noise to the ratio.
        """
        best: dict[int, float] = {}
        sm = SequenceMatcher(autojunk=False)
        for q in [q for q in queries[-1:] if q]:
            sm.set_seq2(q)
            for i, e in enumerate(self.entries):
                for k in (e.names[0], *e.aliases):
                    sm.set_seq1(k)
                    if sm.real_quick_ratio() < cutoff or sm.quick_ratio() < cutoff:
                        continue
                    r = sm.ratio()
                    if r >= cutoff and r > best.get(i, 0.0):
                        best[i] = r
        return best


def _rank(
    index: _Index[T],
    hits: dict[int, int],
    text: str,
    kind: str | None,
    limit: int,
) -> list[T]:
    toned_q = _toned(text) if _has_marks(text) else ""

    def tone_miss(e: _Entry[T]) -> int:
        if not toned_q:
            return 0
        for name in e.display:
            t = _toned(name)
            if t.startswith(toned_q) or toned_q.endswith(t):
                return 0
        return 1

    def key(i: int) -> tuple[Any, ...]:
        e = index.entries[i]
        return (
            hits[i],
            int(kind is not None and e.kind != kind),
            tone_miss(e),
            len(e.names[0]),
            e.order,
        )

    return [index.entries[i].item for i in sorted(hits, key=key)[:limit]]


# --------------------------------------------------------------------------------------------
# Legacy (pre-2025) units
# --------------------------------------------------------------------------------------------


class _OldUnit(NamedTuple):
    code: str
    name: str
    parent: str  # province code for districts, district code for wards, new code for provinces
    targets: tuple[str, ...] = ()  # new commune codes (wards, island districts)


class _Found(NamedTuple):
    match: LegacyMatch
    street: str
    admin: str


_PLAIN_KEY = re.compile(r"^[a-z0-9]+$")


def _key_set(short_key: str, type_key: str, aliases: Iterable[str]) -> set[str]:
    """Compact keys of a unit: short name, typed name, aliases (package aliases are keys)."""
    keys = {short_key, type_key + short_key}
    for a in aliases:
        keys.add(a if _PLAIN_KEY.match(a) else _compact(fold(a)))
    keys.discard("")
    return keys


# parent code -> compact key -> unit codes
_KeyTable = dict[str, dict[str, list[str]]]


def _index_keys(
    names: _KeyTable,
    aliases: _KeyTable,
    parent: str,
    code: str,
    short_key: str,
    type_key: str,
    alias_list: Iterable[str],
) -> None:
    """Index a unit under its names and, separately, its other names (aliases lose ties)."""
    own = {short_key, type_key + short_key}
    table = names.setdefault(parent, {})
    for k in own:
        table.setdefault(k, []).append(code)
    others = _key_set(short_key, type_key, alias_list) - own
    if others:
        table = aliases.setdefault(parent, {})
        for k in others:
            table.setdefault(k, []).append(code)


_WARD_TYPE_KEYS = {"Thị trấn": "thitran", "Phường": "phuong", "Xã": "xa"}
_DISTRICT_TYPE_KEYS = {"Thành phố": "thanhpho", "Thị xã": "thixa", "Quận": "quan", "Huyện": "huyen"}
_PROVINCE_TYPE_KEYS = {"Thành phố": "thanhpho", "Tỉnh": "tinh"}


def _split_name(name: str, type_keys: dict[str, str]) -> tuple[str, str]:
    """("Phường Đằng Giang", _WARD_TYPE_KEYS) -> ("Đằng Giang", "phuong")."""
    for word, key in type_keys.items():
        if name.startswith(word + " "):
            return name[len(word) + 1 :], key
    return name, ""


class _Legacy:
    """Lookup tables for old provinces/districts/wards, keyed by compact search keys.

    Provinces and districts (~760 rows) are indexed at load; the ~10k wards one old province
    at a time, on first use (≈1–3 ms each), which keeps the catalogue load well under budget.
    """

    def __init__(self, raw: dict[str, Any], dashed_names: Iterable[str]) -> None:
        self.provinces: dict[str, _OldUnit] = {}
        self.province_keys: dict[str, list[str]] = {}
        self.by_new_province: dict[str, list[str]] = {}
        for code, name, new_code, aliases in raw["provinces"]:
            self.provinces[code] = _OldUnit(code, name, new_code)
            self.by_new_province.setdefault(new_code, []).append(code)
            short, tkey = _split_name(name, _PROVINCE_TYPE_KEYS)
            for k in sorted(_key_set(_compact(fold(short)), tkey, aliases)):
                self.province_keys.setdefault(k, []).append(code)

        self.districts: dict[str, _OldUnit] = {}
        self.district_keys: _KeyTable = {}  # by old province code
        self.district_alias_keys: _KeyTable = {}
        self.districts_of: dict[str, list[str]] = {}  # old province code -> district codes
        for code, name, pcode, aliases in raw["districts"]:
            self.districts[code] = _OldUnit(code, name, pcode)
            self.districts_of.setdefault(pcode, []).append(code)
            short, tkey = _split_name(name, _DISTRICT_TYPE_KEYS)
            _index_keys(
                self.district_keys,
                self.district_alias_keys,
                pcode,
                code,
                _compact(fold(short)),
                tkey,
                aliases,
            )

        self.islands: dict[str, tuple[str, ...]] = {d: tuple(t) for d, t in raw["islands"].items()}
        self._raw_wards: dict[str, list[list[Any]]] = raw["wards"]
        self._dashed_names = list(dashed_names)
        self._dashed: set[str] | None = None
        self._built: set[str] = set()
        self._lock = threading.Lock()
        # Filled per old province by ensure():
        self.wards: dict[str, _OldUnit] = {}
        self.ward_keys: _KeyTable = {}  # by district code
        self.ward_alias_keys: _KeyTable = {}
        # (new province code, compact old short name) -> new commune codes, for find_communes
        self.old_names: dict[tuple[str, str], list[str]] = {}

    def ensure(self, pcode: str) -> None:
        """Index the wards of one old province (idempotent, thread-safe)."""
        if pcode in self._built or pcode not in self.provinces:
            return
        with self._lock:
            if pcode in self._built:
                return
            new_pcode = self.provinces[pcode].parent
            old_names = self.old_names
            for row in self._raw_wards.get(pcode, ()):
                code, name, dcode, targets = row[0], row[1], row[2], row[3]
                self.wards[code] = _OldUnit(code, name, dcode, tuple(targets))
                short, tkey = _split_name(name, _WARD_TYPE_KEYS)
                short_key = _compact(fold(short))
                _index_keys(
                    self.ward_keys,
                    self.ward_alias_keys,
                    dcode,
                    code,
                    short_key,
                    tkey,
                    row[4] if len(row) > 4 else (),
                )
                bucket = old_names.setdefault((new_pcode, short_key), [])
                for t in targets:
                    if t not in bucket:
                        bucket.append(t)
            self._built.add(pcode)

    def ensure_new(self, new_pcode: str) -> None:
        """Index the wards of every old province merged into a 2025 province."""
        for pcode in self.by_new_province.get(new_pcode, ()):
            self.ensure(pcode)

    @property
    def dashed(self) -> set[str]:
        """Compact keys of names written with " - " ("Bà Rịa - Vũng Tàu"), to re-join them."""
        if self._dashed is None:
            names = [u.name for u in self.provinces.values() if " - " in u.name]
            names += [u.name for u in self.districts.values() if " - " in u.name]
            names += [r[1] for rows in self._raw_wards.values() for r in rows if " - " in r[1]]
            names += [n for n in self._dashed_names if " - " in n]
            self._dashed = {_compact(fold(_short_after_any(n))) for n in names}
        return self._dashed


def _short_after_type(name: str, types: Sequence[str]) -> str:
    for t in types:
        if name.startswith(t + " "):
            return name[len(t) + 1 :]
    return name


def _short_after_any(name: str) -> str:
    return _short_after_type(
        name,
        ("Thành phố", "Tỉnh", "Thị xã", "Quận", "Huyện", "Thị trấn", "Phường", "Xã", "Đặc khu"),
    )


# Folded type words that start an administrative part of an address (for split_street).
_ADMIN_WORDS = (
    "tinh",
    "thanh pho",
    "tp",
    "quan",
    "huyen",
    "thi xa",
    "phuong",
    "xa",
    "thi tran",
    "dac khu",
)
_COUNTRY = {"viet nam", "vietnam", "vn"}
_PORTAL_PART = re.compile(r"^\s*(\d{2}|\d{3}|\d{5})\s*-\s*(.+?)\s*$")


# --------------------------------------------------------------------------------------------
# Catalogue
# --------------------------------------------------------------------------------------------


class Catalogue:
    """Provinces and communes of the 2025 system, searchable, plus the legacy bridge."""

    def __init__(self, raw: dict[str, Any]) -> None:
        if raw.get("format") != 1:
            raise ValueError(f"unsupported places.json format {raw.get('format')!r}")
        from bot.flows.collation import sort_key  # ICU: ~40 ms to import, only when loading

        self._prov_aliases: dict[str, list[str]] = raw["province_aliases"]

        self._provinces: dict[str, Province] = {}
        p_entries: list[_Entry[Province]] = []
        for code, name, short, kind in raw["provinces"]:
            p = Province(code=code, name=name, kind=kind, short_name=short)
            self._provinces[code] = p
        pinned = {c: i for i, c in enumerate(PINNED_PROVINCES)}
        ordered = sorted(
            self._provinces.values(),
            key=lambda p: (pinned.get(p.code, len(pinned)), sort_key(p.short_name)),
        )
        self._province_order = {p.code: i for i, p in enumerate(ordered)}
        for p in ordered:
            names = (_compact(fold(p.short_name)), _compact(fold(p.name)))
            aliases: set[str] = set()
            for a in self._prov_aliases.get(p.code, []):
                a_key = fold(a)
                aliases.add(_compact(a_key))
                stripped = _strip_type(a_key, _PROVINCE_TYPES)
                if stripped:
                    aliases.add(_compact(stripped[1]))
            aliases -= set(names)
            p_entries.append(
                _Entry(
                    item=p,
                    names=names,
                    aliases=tuple(sorted(aliases)),
                    inner=_inner_words(fold(p.short_name)),
                    kind=p.kind,
                    order=(self._province_order[p.code],),
                    display=(p.short_name, p.name),
                )
            )
        self._province_index = _Index(p_entries)

        self._communes: dict[str, Commune] = {}
        self._by_province: dict[str, list[_Entry[Commune]]] = {c: [] for c in self._provinces}
        for code, name, kind, pcode in raw["communes"]:
            c = Commune(code=code, name=name, kind=kind, province_code=pcode)
            self._communes[code] = c
            short_key = fold(c.short_name)
            self._by_province[pcode].append(
                _Entry(
                    item=c,
                    names=(_compact(short_key), _compact(fold(name))),
                    aliases=(),
                    inner=_inner_words(short_key),
                    kind=kind,
                    order=(self._province_order[pcode], sort_key(c.short_name), kind, code),
                    display=(c.short_name, c.name),
                )
            )
        for entries in self._by_province.values():
            entries.sort(key=lambda e: e.order)
        self._commune_indexes: dict[str | None, _Index[Commune]] = {}
        # Old provinces and districts are indexed now; old wards per old province on first
        # use (see _Legacy).
        dashed = [c.name for c in self._communes.values()]
        dashed += [a for v in self._prov_aliases.values() for a in v]
        self._legacy_tables = _Legacy(raw["legacy"], dashed)

    # ---- provinces ------------------------------------------------------------------------

    def provinces(self) -> list[Province]:
        """All 34, Hà Nội and TP Hồ Chí Minh first, then in Vietnamese alphabetical order."""
        return [e.item for e in self._province_index.entries]

    def province(self, code: str) -> Province | None:
        """The province with this 2-digit code, or None."""
        return self._provinces.get(code)

    def find_provinces(self, text: str, limit: int = 8) -> list[Province]:
        """Provinces matching typed text: official, short, old (pre-2025) and popular names."""
        queries, _kind = _variants(text, _PROVINCE_TYPES)
        if not queries:
            return []
        hits = self._province_index.hits(queries, limit)
        return _rank(self._province_index, hits, text, None, limit)

    def match_province(self, text: str) -> Province | None:
        """The province a text names exactly (official, short, old or popular name), else None.

        No prefix or fuzzy guessing: for reading card texts such as a BHYT "nơi cấp".
        """
        codes = self._new_provinces_for(text)
        return self._provinces[codes[0]] if codes else None

    def closest_provinces(self, text: str, limit: int = 5) -> list[Province]:
        """Best fuzzy guesses for a province name with typos (for "did you mean …")."""
        queries, _kind = _variants(text, _PROVINCE_TYPES)
        scores = self._province_index.fuzzy(queries)
        order = sorted(scores, key=lambda i: (-scores[i], i))
        return [self._province_index.entries[i].item for i in order[:limit]]

    # ---- communes -------------------------------------------------------------------------

    def communes(self, province_code: str) -> list[Commune]:
        """The province's communes in Vietnamese alphabetical order ("2" before "10")."""
        return [e.item for e in self._by_province.get(province_code, [])]

    def commune(self, code: str) -> Commune | None:
        """The commune with this 5-digit code, or None."""
        return self._communes.get(code)

    def _commune_index(self, province_code: str | None) -> _Index[Commune] | None:
        index = self._commune_indexes.get(province_code)
        if index is None:
            if province_code is None:
                entries = [e for es in self._by_province.values() for e in es]
                entries.sort(key=lambda e: e.order)
            elif province_code in self._by_province:
                entries = self._by_province[province_code]
            else:
                return None
            index = self._commune_indexes.setdefault(province_code, _Index(entries))
        return index

    def find_communes(self, province_code: str | None, text: str, limit: int = 8) -> list[Commune]:
        """Communes matching typed text, best first; ``province_code=None`` searches all."""
        index = self._commune_index(province_code)
        queries, kind = _variants(text, _COMMUNE_TYPES)
        if index is None or not queries:
            return []
        hits = index.hits(queries, limit)
        ranked = _rank(index, hits, text, kind, limit)
        if len(ranked) < limit:
            seen = {c.code for c in ranked}
            for code in self._old_name_targets(province_code, queries):
                if code not in seen and len(ranked) < limit:
                    ranked.append(self._communes[code])
                    seen.add(code)
        return ranked

    def _old_name_targets(self, province_code: str | None, queries: list[str]) -> list[str]:
        legacy = self._legacy()
        out: list[str] = []
        provinces = [province_code] if province_code else list(self._provinces)
        for p in provinces:
            legacy.ensure_new(p)
        for q in queries:
            for p in provinces:
                for code in legacy.old_names.get((p, q), ()):
                    if code not in out:
                        out.append(code)
        return out

    def closest_communes(
        self, province_code: str | None, text: str, limit: int = 5
    ) -> list[Commune]:
        """Best fuzzy guesses for a commune name with typos (for "did you mean …")."""
        index = self._commune_index(province_code)
        queries, _kind = _variants(text, _COMMUNE_TYPES)
        if index is None or not queries:
            return []
        scores = index.fuzzy(queries)
        order = sorted(scores, key=lambda i: (-scores[i], index.entries[i].order))
        return [index.entries[i].item for i in order[:limit]]

    # ---- old addresses --------------------------------------------------------------------

    def _legacy(self) -> _Legacy:
        return self._legacy_tables

    def convert_legacy(self, text: str) -> LegacyMatch | None:
        """Map an address (old 3-level, CCCD QR style, or already 2025) to 2025 communes.

        Accepts "Đằng Giang, Ngô Quyền, Hải Phòng", "Số 5 Lạch Tray, Đằng Giang, Ngô Quyền,
        Hải Phòng", the same with type words, the old portal form "01 - Thành phố Hà Nội x 272
        - Huyện Phúc Thọ x 09763 - Xã Phúc Hòa x Thôn 4", and 2025 addresses ("…, Phường Ngọc
        Hà, Thành phố Hà Nội"). Returns None when no commune can be determined.
        """
        found = self._resolve(text)
        return found.match if found else None

    def split_street(self, text: str) -> tuple[str, str]:
        """(street part, administrative part) of an address; ("", "") for empty text.

        Uses the same recognition as :meth:`convert_legacy`; when nothing is recognised,
        falls back to the first comma part that starts with a type word ("Phường", "Xã",
        "Quận", "Tỉnh", …), else treats the whole text as street.
        """
        clean = " ".join(unicodedata.normalize("NFC", text).split())
        found = self._resolve(clean)
        if found:
            return found.street, found.admin
        parts = [p.strip() for p in clean.split(",") if p.strip()]
        for i, part in enumerate(parts):
            key = fold(part)
            if any(key == w or key.startswith(w + " ") for w in _ADMIN_WORDS):
                return ", ".join(parts[:i]), ", ".join(parts[i:])
        return ", ".join(parts), ""

    def _resolve(self, text: str) -> _Found | None:
        original = " ".join(unicodedata.normalize("NFC", text).split())
        if not original:
            return None
        portal = self._resolve_portal(original)
        if portal:
            return portal
        parts = self._split_parts(original)
        while parts and fold(parts[-1]) in _COUNTRY:
            parts.pop()
        if len(parts) < 2:
            return None
        # Most specific first: an exact old triple; the same with a typo in the ward only
        # (a known district is strong evidence); the 2025 form; old ward + province; and
        # last a typo in the district too.
        return (
            self._resolve_old(original, parts, fuzzy_ward=False, fuzzy_district=False)
            or self._resolve_old(original, parts, fuzzy_ward=True, fuzzy_district=False)
            or self._resolve_new(original, parts)
            or self._resolve_old_short(original, parts)
            or self._resolve_old(original, parts, fuzzy_ward=True, fuzzy_district=True)
        )

    def _split_parts(self, text: str) -> list[str]:
        parts = [p.strip() for p in re.split(r"[,;\n]", text) if p.strip()]
        if len(parts) > 1:
            return parts
        pieces = [p.strip() for p in re.split(r"\s+-\s+", text) if p.strip()]
        if len(pieces) < 2:
            return parts
        dashed = self._legacy().dashed
        merged: list[str] = []
        for piece in pieces:
            if merged and _compact(fold(_short_after_any(merged[-1]) + " " + piece)) in dashed:
                merged[-1] = f"{merged[-1]} - {piece}"
            else:
                merged.append(piece)
        return merged

    def _resolve_portal(self, text: str) -> _Found | None:
        """The old portal form: "01 - Thành phố Hà Nội x 272 - Huyện … x 09763 - Xã … x street"."""
        chunks = re.split(r"\s+x\s+", text)
        coded = [m for m in (_PORTAL_PART.match(c) for c in chunks[:3]) if m]
        if len(coded) < 2 or len(coded[0].group(1)) != 2:
            return None
        legacy = self._legacy()
        codes = [m.group(1) for m in coded]
        n = len(coded)
        street = " x ".join(chunks[n:]).strip()
        admin = " x ".join(chunks[:n])
        if n == 3 and [len(c) for c in codes] == [2, 3, 5] and codes[1] in legacy.districts:
            legacy.ensure(legacy.districts[codes[1]].parent)
            ward = legacy.wards.get(codes[2])
            if ward and ward.parent == codes[1]:
                return self._legacy_found(text, codes[2], street, admin)
        if [len(c) for c in codes[:2]] == [2, 5]:
            commune = self._communes.get(codes[1])
            if commune and commune.province_code == codes[0]:
                return _Found(_new_match(text, commune, street), street, admin)
        return None

    def _legacy_found(self, text: str, ward_code: str, street: str, admin: str) -> _Found:
        legacy = self._legacy()
        ward = legacy.wards[ward_code]
        district = legacy.districts[ward.parent]
        province = legacy.provinces[district.parent]
        cands = tuple(self._communes[c] for c in ward.targets)
        match = LegacyMatch(
            old_text=text,
            old_ward=ward.name,
            old_district=district.name,
            old_province=province.name,
            candidates=cands,
            split=len(cands) > 1,
            street=street,
        )
        return _Found(match, street, admin)

    def _old_provinces_for(self, part: str) -> list[str]:
        """Legacy province codes a text may mean: direct names first, then merged ones."""
        legacy = self._legacy()
        queries, _kind = _variants(part, _PROVINCE_TYPES)
        out: list[str] = []
        for q in queries:
            for code in legacy.province_keys.get(q, ()):
                if code not in out:
                    out.append(code)
        for p in self._new_provinces_for(part):
            for code in legacy.by_new_province.get(p, ()):
                if code not in out:
                    out.append(code)
        return out

    def _new_provinces_for(self, part: str) -> list[str]:
        queries, _kind = _variants(part, _PROVINCE_TYPES)
        hits = self._province_index.hits(queries, 0)
        exact = [i for i, t in hits.items() if t <= _ALIAS_EXACT]
        exact.sort(key=lambda i: (hits[i], i))
        return [self._province_index.entries[i].item.code for i in exact]

    def _resolve_old(
        self, text: str, parts: list[str], *, fuzzy_ward: bool, fuzzy_district: bool
    ) -> _Found | None:
        """Old "…, ward, district, province" (or an island district without ward)."""
        legacy = self._legacy()
        district_part = parts[-2]
        if _starts_with_type(district_part, _COMMUNE_TYPES):
            return None
        for pcode in self._old_provinces_for(parts[-1]):
            for dcode in self._lookup(
                (legacy.district_keys, legacy.district_alias_keys),
                pcode,
                district_part,
                _DISTRICT_TYPES,
                fuzzy=fuzzy_district,
            ):
                if dcode in legacy.islands:
                    return self._island_found(text, parts, dcode)
                if len(parts) < 3:
                    continue
                legacy.ensure(pcode)
                wards = self._lookup(
                    (legacy.ward_keys, legacy.ward_alias_keys),
                    dcode,
                    parts[-3],
                    _WARD_TYPES,
                    fuzzy=fuzzy_ward,
                )
                if wards:
                    return self._pick_ward(text, parts, wards, n_admin=3)
        return None

    def _resolve_old_short(self, text: str, parts: list[str]) -> _Found | None:
        """Old "…, ward, province" without the district (unique within the province)."""
        legacy = self._legacy()
        part = parts[-2]
        if _starts_with_type(part, _DISTRICT_TYPES):
            return None
        for pcode in self._old_provinces_for(parts[-1]):
            legacy.ensure(pcode)
            wards: list[str] = []
            for dcode in legacy.districts_of.get(pcode, ()):
                tables = (legacy.ward_keys, legacy.ward_alias_keys)
                wards += self._lookup(tables, dcode, part, _WARD_TYPES)
            if wards and len({legacy.wards[w].targets for w in wards}) == 1:
                return self._pick_ward(text, parts, wards[:1], n_admin=2)
        return None

    def _resolve_new(self, text: str, parts: list[str]) -> _Found | None:
        """2025 form "…, commune, province"."""
        part = parts[-2]
        if _starts_with_type(part, _DISTRICT_TYPES):
            return None
        queries, kind = _variants(part, _COMMUNE_TYPES)
        for pcode in self._new_provinces_for(parts[-1]):
            index = self._commune_index(pcode)
            if index is None:
                continue
            hits = {i: t for i, t in index.hits(queries, 0).items() if t == _EXACT}
            if not hits:
                continue
            best = _rank(index, hits, part, kind, 1)[0]
            street = ", ".join(parts[:-2])
            return _Found(_new_match(text, best, street), street, ", ".join(parts[-2:]))
        return None

    def _lookup(
        self,
        tables: tuple[_KeyTable, _KeyTable],
        parent: str,
        part: str,
        types: _TypeTable,
        *,
        fuzzy: bool = False,
    ) -> list[str]:
        """Codes of the units under ``parent`` that ``part`` names: names, then aliases."""
        queries, _kind = _variants(part, types)
        for table in tables:
            keys = table.get(parent, {})
            out: list[str] = []
            for q in queries:
                out.extend(c for c in keys.get(q, ()) if c not in out)
            if out:
                return out
        if not fuzzy:
            return []
        # Typos: the closest key under this parent (only tried after exact lookups fail).
        sm = SequenceMatcher(autojunk=False)
        best: tuple[float, list[str]] = (0.0, [])
        for q in queries:
            sm.set_seq2(q)
            for table in tables:
                for key, codes in table.get(parent, {}).items():
                    sm.set_seq1(key)
                    if sm.real_quick_ratio() < 0.85 or sm.quick_ratio() < 0.85:
                        continue
                    r = sm.ratio()
                    if r >= 0.85 and r > best[0]:
                        best = (r, codes)
        return list(best[1])

    def _pick_ward(self, text: str, parts: list[str], wards: list[str], n_admin: int) -> _Found:
        legacy = self._legacy()
        street = ", ".join(parts[:-n_admin])
        admin = ", ".join(parts[-n_admin:])
        part = parts[-n_admin]
        kind = _variants(part, _WARD_TYPES)[1]
        if kind and len(wards) > 1:
            typed = [w for w in wards if legacy.wards[w].name.lower().startswith(kind)]
            wards = typed or wards
        if len(wards) > 1 and _has_marks(part):
            # "Minh Quán" / "Minh Quân" in one district: the diacritics typed decide.
            toned = _toned(part)
            marked = [
                w for w in wards if toned.endswith(_toned(_short_after_any(legacy.wards[w].name)))
            ]
            wards = marked or wards
        found = self._legacy_found(text, wards[0], street, admin)
        if len(wards) == 1:
            return found
        # Same name twice in one district (e.g. "Thị trấn Yên Viên" / "Xã Yên Viên"): offer all.
        codes: list[str] = []
        for w in wards:
            codes.extend(c for c in legacy.wards[w].targets if c not in codes)
        cands = tuple(self._communes[c] for c in codes)
        m = found.match
        match = LegacyMatch(
            m.old_text, m.old_ward, m.old_district, m.old_province, cands, len(cands) > 1, street
        )
        return _Found(match, street, admin)

    def _island_found(self, text: str, parts: list[str], dcode: str) -> _Found:
        legacy = self._legacy()
        district = legacy.districts[dcode]
        province = legacy.provinces[district.parent]
        cands = tuple(self._communes[c] for c in legacy.islands[dcode])
        street = ", ".join(parts[:-2])
        match = LegacyMatch(
            old_text=text,
            old_ward="",
            old_district=district.name,
            old_province=province.name,
            candidates=cands,
            split=len(cands) > 1,
            street=street,
        )
        return _Found(match, street, ", ".join(parts[-2:]))


def _new_match(text: str, commune: Commune, street: str) -> LegacyMatch:
    return LegacyMatch(
        old_text=text,
        old_ward="",
        old_district="",
        old_province="",
        candidates=(commune,),
        split=False,
        street=street,
    )


def _starts_with_type(part: str, table: _TypeTable) -> bool:
    """True when the part *explicitly* names a unit type of ``table``.

    Single-letter abbreviations ("p", "q", "h", "x") are ignored: too easily part of a name.
    """
    key = fold(part)
    return any(len(w) > 1 and key.startswith(w + " ") for w, _k in table)


def _inner_words(folded: str) -> tuple[str, ...]:
    words = folded.split()
    return tuple("".join(words[i:]) for i in range(1, len(words)))


# --------------------------------------------------------------------------------------------
# Singleton
# --------------------------------------------------------------------------------------------

_instance: Catalogue | None = None
_instance_lock = threading.Lock()


def load_catalogue(path: Path = DATA_FILE) -> Catalogue:
    """Read a places.json into a new Catalogue (uncached; tests and the bench use it)."""
    with path.open("rb") as fh:
        raw = json.loads(fh.read().decode("utf-8"))
    return Catalogue(raw)


def catalogue() -> Catalogue:
    """The process-wide catalogue, loaded on first use."""
    global _instance  # noqa: PLW0603 - a lazily created module singleton is the point
    if _instance is None:
        with _instance_lock:
            if _instance is None:
                _instance = load_catalogue()
    return _instance


def _reset_cache() -> None:
    """Forget the singleton and key caches (for load-time measurements)."""
    global _instance  # noqa: PLW0603
    with _instance_lock:
        _instance = None
    _toned.cache_clear()
