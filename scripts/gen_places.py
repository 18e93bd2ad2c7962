"""Regenerate ``bot/flows/data/places.json`` from the ``vietnamadminunits`` data files.

Why a generated file: the bot must not import ``vietnamadminunits`` at run time (it pulls in
shapely/numpy/geopy, ~0.35 s, and its converter geocodes split wards through ArcGIS — a
network call carrying the user's address, DOMAIN §4.4). We only need its *data*: the 2025
units with official codes, the legacy 63/696/10k units and the old-ward → new-commune table.

This script never imports the package either: it locates the installed distribution with
``importlib.util.find_spec`` (which does not execute it) and reads ``data/dataset.db`` (SQLite)
and ``data/converter_2025.json`` directly, so no geocoder can be reached.

Usage (from the repository root, in a venv with the ``data`` extra installed)::

    python scripts/gen_places.py            # writes bot/flows/data/places.json
    python scripts/gen_places.py --check    # regenerate in memory, compare with the file

Re-run it after upgrading ``vietnamadminunits``; it asserts the official counts
(34 provinces, 3,321 communes = 2,621 xã + 687 phường + 13 đặc khu) so a data regression
fails loudly instead of shipping.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import sqlite3
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bot" / "flows" / "data" / "places.json"

FORMAT_VERSION = 1

# DOMAIN §4.1: centrally-run cities since the 2026 upgrades. The package (1.0.4, 2025-10)
# still calls three of them "Tỉnh …"; codes are unchanged, only the name and kind move.
CITY_CODES_2026 = {"01", "31", "46", "48", "79", "92", "22", "24", "75"}

# Names people use for a province that are neither its official name nor an old province
# name (those are added from the legacy table). Keys are free text; the loader folds them.
CURATED_PROVINCE_ALIASES: dict[str, list[str]] = {
    "01": ["HN", "Hà Nội", "Thủ đô Hà Nội", "Hà Tây"],
    "79": [
        "HCM",
        "TP HCM",
        "TPHCM",
        "TP.HCM",
        "Hồ Chí Minh",
        "Sài Gòn",
        "Saigon",
        "SG",
        "Ho Chi Minh City",
        "HCMC",
    ],
    "46": ["Thừa Thiên Huế", "Thừa Thiên - Huế", "TT Huế", "TTH", "Huế"],
    "31": ["HP", "Hải Phòng"],
    "48": ["Đà Nẵng"],
    "92": ["Cần Thơ"],
    "66": ["Đắc Lắc", "Daklak", "Đắk Lắc"],
    "68": ["Đắc Nông", "Daknong"],
}

# Old-province aliases the package ships (e.g. "vungtau") are keyed by legacy code; these add
# the spellings seen on older cards/forms.
CURATED_LEGACY_PROVINCE_ALIASES: dict[str, list[str]] = {
    "46": ["Thừa Thiên Huế", "Thừa Thiên - Huế", "TT Huế", "TTH"],
    "77": ["BRVT", "BR-VT", "Bà Rịa Vũng Tàu", "Vũng Tàu", "Bà Rịa"],
    "79": ["HCM", "TP HCM", "TPHCM", "Sài Gòn", "Saigon", "SG"],
    "01": ["HN"],
}

COMMUNE_KINDS = {"Xã": "xã", "Phường": "phường", "Đặc khu": "đặc khu"}
DISTRICT_TYPES = ("Thành phố", "Thị xã", "Quận", "Huyện")
WARD_TYPES = ("Thị trấn", "Phường", "Xã")


def package_data_dir() -> tuple[Path, str]:
    """Find vietnamadminunits' data folder without importing (and so without geopy)."""
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("vietnamadminunits is not installed: pip install 'vietnamadminunits==1.0.4'")
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return data, importlib.metadata.version("vietnamadminunits")


def split_type(name: str, types: tuple[str, ...]) -> tuple[str, str]:
    """("Thành Phố Bắc Kạn", DISTRICT_TYPES) -> ("Thành phố", "Bắc Kạn"); case-insensitive."""
    for t in types:
        if name.lower().startswith(t.lower() + " "):
            return t, name[len(t) + 1 :].strip()
    raise ValueError(f"no type word in {name!r}")


class _NewUnits:
    """The 2025 units, plus the key -> code maps the conversion table needs."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.provinces: dict[str, list[str]] = {}
        self.communes: list[list[str]] = []
        self.code_by_key: dict[tuple[str, str], str] = {}
        self.province_code_by_key: dict[str, str] = {}
        rows = db.execute(
            "SELECT provinceShort, provinceCode, provinceKey, ward, wardCode, wardKey "
            "FROM admin_units ORDER BY provinceCode, wardCode"
        )
        for r in rows:
            pcode = r["provinceCode"]
            if pcode not in self.provinces:
                short = r["provinceShort"]
                is_city = pcode in CITY_CODES_2026
                name = f"Thành phố {short}" if is_city else f"Tỉnh {short}"
                self.provinces[pcode] = [pcode, name, short, "thành phố" if is_city else "tỉnh"]
                self.province_code_by_key[r["provinceKey"]] = pcode
            # The kind comes from the name, not the wardType column: four rows of 1.0.4
            # disagree (e.g. 10543 "Phường Việt Hòa" typed Xã); independent lists agree with
            # the name.
            kind_word = next(k for k in COMMUNE_KINDS if r["ward"].startswith(k + " "))
            self.communes.append([r["wardCode"], r["ward"], COMMUNE_KINDS[kind_word], pcode])
            self.code_by_key[(r["provinceKey"], r["wardKey"])] = r["wardCode"]


def _targets(conv: dict[str, Any], new: _NewUnits) -> dict[str, list[str]]:
    """Old "province_district_ward" key -> new commune codes (the package default first)."""
    target: dict[str, list[str]] = {}
    for new_pkey, m in conv["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_wkey, olds in m.items():
            for old in olds:
                target[old] = [new.code_by_key[(new_pkey, new_wkey)]]
    for new_pkey, m in conv["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old, lst in m.items():
            ordered = sorted(lst, key=lambda w: not w["isDefaultNewWard"])
            target[old] = [new.code_by_key[(new_pkey, w["newWardKey"])] for w in ordered]
    return target


def _legacy(db: sqlite3.Connection, conv: dict[str, Any], new: _NewUnits) -> dict[str, Any]:
    """Old provinces/districts/wards with their aliases and 2025 targets."""
    old_to_new_prov = {
        old: new.province_code_by_key[new_key]
        for new_key, olds in conv["DICT_PROVINCE"].items()
        for old in olds
    }
    target = _targets(conv, new)
    provinces: dict[str, list[Any]] = {}
    districts: dict[str, list[Any]] = {}
    wards: dict[str, list[list[Any]]] = {}
    islands: dict[str, list[str]] = {}
    rows = db.execute(
        "SELECT province, provinceCode, provinceKey, provinceKeywords, district, districtCode, "
        "districtKey, districtKeywords, districtShortKey, ward, wardCode, wardKey, wardShortKey,"
        " wardKeywords FROM admin_units_legacy ORDER BY provinceCode, districtCode, wardCode"
    )
    for r in rows:
        pcode, dcode = r["provinceCode"], r["districtCode"]
        if pcode not in provinces:
            kws = json.loads(r["provinceKeywords"] or "[]")
            aliases = sorted(set(kws) - {r["provinceKey"]})
            aliases += CURATED_LEGACY_PROVINCE_ALIASES.get(pcode, [])
            new_code = old_to_new_prov[r["provinceKey"]]
            provinces[pcode] = [pcode, r["province"], new_code, aliases]
        if dcode not in districts:
            dtype, dshort = split_type(r["district"], DISTRICT_TYPES)
            kws = json.loads(r["districtKeywords"] or "[]")
            aliases = sorted(set(kws) - {r["districtKey"], r["districtShortKey"]})
            districts[dcode] = [dcode, f"{dtype} {dshort}", pcode, aliases]
        key = f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey'] or ''}"
        if r["ward"] is None:  # island districts have no wards; they became đặc khu
            islands[dcode] = target[key]
            continue
        wtype, wshort = split_type(r["ward"], WARD_TYPES)
        kws = json.loads(r["wardKeywords"] or "[]")
        aliases = sorted(set(kws) - {r["wardKey"], r["wardShortKey"]})
        row: list[Any] = [r["wardCode"], f"{wtype} {wshort}", dcode, target[key]]
        if aliases:
            row.append(aliases)
        wards.setdefault(pcode, []).append(row)
    return {
        "provinces": sorted(provinces.values()),
        "districts": sorted(districts.values()),
        # grouped by old province so the loader can index one province at a time
        "wards": dict(sorted(wards.items())),
        "islands": dict(sorted(islands.items())),
    }


def build(data_dir: Path, version: str) -> dict[str, Any]:
    """Read the package data and return the JSON document (plain dicts/lists)."""
    db = sqlite3.connect(f"file:{data_dir / 'dataset.db'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    conv = json.loads((data_dir / "converter_2025.json").read_text(encoding="utf-8"))
    new = _NewUnits(db)
    legacy = _legacy(db, conv, new)
    db.close()

    aliases: dict[str, list[str]] = {c: list(v) for c, v in CURATED_PROVINCE_ALIASES.items()}
    for _pcode, name, new_code, old_aliases in legacy["provinces"]:
        # Old names ("Tỉnh Bình Dương", "vungtau") keep finding the province they merged into.
        aliases.setdefault(new_code, []).extend([name, *old_aliases])
    doc: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "source": f"vietnamadminunits {version} (MIT): data/dataset.db, data/converter_2025.json",
        "provinces": sorted(new.provinces.values()),
        "communes": new.communes,
        "province_aliases": {c: sorted(set(v)) for c, v in sorted(aliases.items())},
        "legacy": legacy,
    }
    verify(doc)
    return doc


def verify(doc: dict[str, Any]) -> None:
    """Fail loudly when the data drifts from the official counts (DOMAIN §4.1)."""
    provinces, communes = doc["provinces"], doc["communes"]
    assert len(provinces) == 34, len(provinces)
    assert len(communes) == 3321, len(communes)
    kinds = Counter(c[2] for c in communes)
    assert kinds == {"xã": 2621, "phường": 687, "đặc khu": 13}, kinds
    pcodes = {p[0] for p in provinces}
    ccodes = {c[0] for c in communes}
    assert len(ccodes) == 3321 and all(c[3] in pcodes for c in communes)
    assert sum(p[3] == "thành phố" for p in provinces) == 9
    leg = doc["legacy"]
    assert len(leg["provinces"]) == 63, len(leg["provinces"])
    assert len(leg["districts"]) == 696, len(leg["districts"])
    wards = [w for rows in leg["wards"].values() for w in rows]
    assert len(wards) >= 10_000, len(wards)
    dprov = {d[0]: d[2] for d in leg["districts"]}
    for pcode, rows in leg["wards"].items():
        for w in rows:
            assert dprov[w[2]] == pcode and w[3] and set(w[3]) <= ccodes, w
    for targets in leg["islands"].values():
        assert set(targets) <= ccodes
    reached = {c for w in wards for c in w[3]} | {c for t in leg["islands"].values() for c in t}
    missing = ccodes - reached
    assert not missing, f"new communes no old ward maps to: {sorted(missing)[:10]}"


def summary(doc: dict[str, Any]) -> str:
    """One line per fact worth eyeballing after a refresh."""
    kinds = Counter(c[2] for c in doc["communes"])
    leg = doc["legacy"]
    wards = [w for rows in leg["wards"].values() for w in rows]
    split = sum(1 for w in wards if len(w[3]) > 1)
    by_new: dict[str, set[str]] = defaultdict(set)
    for p in leg["provinces"]:
        by_new[p[2]].add(p[0])
    return "\n".join(
        [
            f"provinces: {len(doc['provinces'])}"
            f" ({sum(p[3] == 'thành phố' for p in doc['provinces'])} thành phố)",
            f"communes: {len(doc['communes'])} {dict(kinds)}",
            f"legacy: {len(leg['provinces'])} provinces, {len(leg['districts'])} districts, "
            f"{len(wards)} wards ({split} split), {len(leg['islands'])} island districts",
            f"merged provinces: {sum(len(v) > 1 for v in by_new.values())}",
        ]
    )


def dumps(doc: dict[str, Any]) -> str:
    """Compact but line-per-record, so a refresh shows up as a readable git diff."""
    lines = ["{"]
    items = list(doc.items())
    for i, (key, value) in enumerate(items):
        tail = "," if i < len(items) - 1 else ""
        if key in ("provinces", "communes"):
            rows = ",\n".join(
                json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in value
            )
            lines.append(f'"{key}":[\n{rows}\n]{tail}')
        elif key == "legacy":
            parts = []
            for lkey, lval in value.items():
                if isinstance(lval, dict) and lkey == "wards":
                    groups = []
                    for pcode, rows in lval.items():
                        body = ",\n".join(
                            json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows
                        )
                        groups.append(f'"{pcode}":[\n{body}\n]')
                    parts.append('"wards":{\n' + ",\n".join(groups) + "\n}")
                elif isinstance(lval, list):
                    rows = ",\n".join(
                        json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in lval
                    )
                    parts.append(f'"{lkey}":[\n{rows}\n]')
                else:
                    parts.append(
                        f'"{lkey}":' + json.dumps(lval, ensure_ascii=False, separators=(",", ":"))
                    )
            lines.append('"legacy":{\n' + ",\n".join(parts) + "\n}" + tail)
        else:
            lines.append(
                f'"{key}":' + json.dumps(value, ensure_ascii=False, separators=(",", ":")) + tail
            )
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = ap.parse_args(argv)
    data_dir, version = package_data_dir()
    text = dumps(build(data_dir, version))
    json.loads(text)  # the hand-rolled layout must stay valid JSON
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(f"{args.out} is out of date; run scripts/gen_places.py")
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(args.out)
    print(summary(json.loads(text)))
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
