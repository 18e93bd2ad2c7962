"""``vssid-bot agencies``: list the receiving BHXH agencies, import an operator CSV.

Operator-facing (terminal), so plain English messages here are fine. The data folder comes
from ``VSSID_DATA_DIR`` (default ``./data``), where the bot reads ``agencies.csv`` from.

    vssid-bot agencies list [--province 31] [--all]
    vssid-bot agencies import agencies.csv     # exit 2 and every bad row on error
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

EXIT_OK = 0
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
    listing.add_argument("--province", metavar="CODE", help="2-digit 2025 province code")
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
    if args.province:
        agencies = [a for a in agencies if a.province_code == args.province]
    if not args.all:
        agencies = [a for a in agencies if a.active]
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
