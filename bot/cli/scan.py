"""``vssid-bot scan FILE…``: read the QR of card photos, one JSON line per file.

For operators checking what the bot would read from a photo (support requests, new card
layouts), with the same pipeline as the bot (``bot.flows.qr.scan_card``):

    $ vssid-bot scan card.jpg
    {"file": "card.jpg", "kind": "cccd", "fields": {"id_number": "…", …}, "ms": 6.1,
     "problem": null, "checks": []}

``kind`` is ``"cccd"``, ``"bhyt"`` or ``null``; ``fields`` holds the parsed card (dates as
ISO strings) or is empty; ``problem`` says why nothing was read (``"blurred"``,
``"no_qr"``, ``"too_dark"``, …), names a wrong QR (``"wrong_qr:vietqr"``), or is
``"card_inconsistent"`` when the bot would refuse the card it read, with ``checks``
saying why (``bot.flows.autofill.problems``: the ID number disagrees with the birth year,
``"birth_year_mismatch"``, or with the century and gender, ``"century_gender_mismatch"``);
else ``null``. What the QR holds is printed with its control and format characters as
JSON escapes (``bot.cli.terminal``): a hostile code cannot drive the terminal.
Exit code 0 when every file gave a card the bot would take, 1 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from bot.cli.terminal import printable_json
from bot.flows import autofill
from bot.flows.qr import CardScan, scan_card

EXIT_OK = 0
EXIT_NOT_ALL_READ = 1
#: The bot's refusal of such a card (``err.card_inconsistent``), named the same here.
INCONSISTENT = "card_inconsistent"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``scan`` to the ``vssid-bot`` command."""
    parser = subparsers.add_parser(
        "scan", help="read the QR of card photos (CCCD / BHYT), one JSON line per file"
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.set_defaults(func=run)


def _jsonable(value: Any) -> Any:
    """Dates as ISO strings, tuples as lists: what ``json`` needs from the card dataclasses."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value


def describe(
    path: Path, scan: CardScan | None, ms: float, problem: str | None = None
) -> dict[str, Any]:
    """The JSON object printed for one file (public so tests can check the shape)."""
    card = None if scan is None else (scan.cccd or scan.bhyt)
    fields = (
        {name: _jsonable(value) for name, value in dataclasses.asdict(card).items()}
        if card is not None
        else {}
    )
    if problem is None and scan is not None and card is None:
        problem = scan.problem or (f"wrong_qr:{scan.kind}" if scan.kind else None)
    # The very check the bot makes before offering a card's data (bot/flows/steps/cards.py)
    checks = autofill.problems(autofill.reading_from_scan(scan)) if scan and card else []
    if problem is None and checks:
        problem = INCONSISTENT
    return {
        "file": str(path),
        "kind": None if scan is None or card is None else scan.kind,
        "fields": fields,
        "ms": round(ms, 1),
        "problem": problem,
        "checks": checks,
    }


def run(args: argparse.Namespace) -> int:
    """Scan every file; a missing or unreadable file is reported, not fatal."""
    all_read = True
    for path in args.files:
        try:
            data = path.read_bytes()
        except OSError:
            line = describe(path, None, 0.0, problem="unreadable_file")
        else:
            started = time.perf_counter()
            scan = scan_card(data)
            line = describe(path, scan, (time.perf_counter() - started) * 1000)
        all_read = all_read and line["kind"] is not None and line["problem"] is None
        sys.stdout.write(printable_json(json.dumps(line, ensure_ascii=False)) + "\n")
    sys.stdout.flush()
    return EXIT_OK if all_read else EXIT_NOT_ALL_READ
