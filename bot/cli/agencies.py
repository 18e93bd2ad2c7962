"""``vssid-bot agencies``: list the receiving BHXH agencies, import an operator CSV.

Operator-facing (terminal), so plain English messages here are fine. The data folder comes
from ``VSSID_DATA_DIR`` (default ``./data``), where the bot reads ``agencies.csv`` from.

    vssid-bot agencies list [--province 31|031|"Hải Phòng"] [--all]
    vssid-bot agencies import agencies.csv     # exit 2 and every bad row on error

``list`` exits 2 when ``--province`` names no province or several (it says which), 1 when
the province has no agency to list.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.flows.agencies import (
    AgencyCsvError,
    format_agency,
    import_agencies,
    load_directory,
    names_old_district,
)
from bot.flows.places import Province, catalogue

EXIT_OK = 0
EXIT_NOTHING_LISTED = 1
EXIT_BAD_INPUT = 2


def data_dir() -> Path:
    """The operator data folder: ``$VSSID_DATA_DIR`` or ``./data``."""
    return Path(os.environ.get("VSSID_DATA_DIR") or "./data")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``agencies`` (with ``list`` and ``import``) to the ``vssid-bot`` command."""
    parser = subparsers.add_parser("agencies", help="receiving BHXH agencies: list, import")
    actions = parser.add_subparsers(dest="agencies_action", metavar="{list,import}")
    parser.set_defaults(func=lambda _args: _usage(parser))

    listing = actions.add_parser("list", help="print the agencies the bot offers")
    listing.add_argument(
        "--province",
        metavar="CODE|NAME",
        help="2025 province: code (31, or 031 as in agency codes) or name (Hải Phòng, Hai Phong)",
    )
    listing.add_argument("--all", action="store_true", help="include inactive agencies")
    listing.set_defaults(func=_list)

    importing = actions.add_parser(
        "import", help="validate a CSV and merge it into $VSSID_DATA_DIR/agencies.csv"
    )
    importing.add_argument("file", type=Path, metavar="FILE.csv")
    importing.set_defaults(func=_import)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_BAD_INPUT


def _print_errors(exc: AgencyCsvError) -> None:
    for line, message in exc.errors:
        print(f"line {line}: {message}", file=sys.stderr)  # noqa: T201


def _list(args: argparse.Namespace) -> int:
    try:
        directory = load_directory(data_dir())
    except AgencyCsvError as exc:
        _print_errors(exc)
        return EXIT_BAD_INPUT
    agencies = directory.all()
    province = None
    if args.province:
        found = provinces_named(args.province)
        if len(found) != 1:
            _say_which(args.province, found)
            return EXIT_BAD_INPUT
        province = found[0]
        agencies = [a for a in agencies if a.province_code == province.code]
    if not args.all:
        agencies = [a for a in agencies if a.active]
    if province is not None and not agencies:
        inactive = "" if args.all else " (--all also lists inactive ones)"
        say = f"no agency listed for {province.code} {province.name}{inactive}"
        print(say, file=sys.stderr)  # noqa: T201
        return EXIT_NOTHING_LISTED
    for agency in agencies:
        flags = [] if agency.confirmed else ["unconfirmed"]
        if agency.address and names_old_district(agency.address):
            flags.append("address names a pre-2025 district: not shown to citizens")
        if not agency.active:
            flags.append("inactive")
        served = f" (communes served: {len(agency.communes)})" if agency.communes else ""
        suffix = f"  [{', '.join(flags)}]" if flags else ""
        print(f"{format_agency(agency)}{served}{suffix}")  # noqa: T201
    return EXIT_OK


def provinces_named(text: str) -> list[Province]:
    """The provinces ``text`` may mean: a code (``31``, or ``031`` as agency codes write
    it), else a name as the citizen's province question reads it (official, short, old or
    popular; with or without diacritics; ``TP``/``tỉnh`` or not)."""
    places = catalogue()
    key = text.strip()
    if key.isdigit():
        province = places.province(f"{int(key):02d}")
        return [province] if province is not None else []
    exact = places.match_province(key)
    return [exact] if exact is not None else places.find_provinces(key)


def _say_which(text: str, found: list[Province]) -> None:
    if found:
        names = ", ".join(f"{p.code} {p.short_name}" for p in found)
        say = f"{text!r} matches several provinces: {names}; give one of these codes"
    else:
        say = f"no province matches {text!r}: give a 2025 code (31 or 031) or a name (Hải Phòng)"
    print(say, file=sys.stderr)  # noqa: T201


def _import(args: argparse.Namespace) -> int:
    target = data_dir()
    try:
        count = import_agencies(args.file, target)
    except FileNotFoundError:
        print(f"{args.file}: no such file", file=sys.stderr)  # noqa: T201
        return EXIT_BAD_INPUT
    except AgencyCsvError as exc:
        _print_errors(exc)
        print(f"nothing imported; {target / 'agencies.csv'} unchanged", file=sys.stderr)  # noqa: T201
        return EXIT_BAD_INPUT
    print(f"imported {count} agencies into {target / 'agencies.csv'}")  # noqa: T201
    return EXIT_OK
