"""``vssid-bot outbox``: the submission outbox as the operator sees it.

Operator-facing (terminal), so plain English here is fine. The database is the one in
``VSSID_DATA_DIR`` (default ``./data``); the bot may be running meanwhile (SQLite WAL).

    vssid-bot outbox                 # pending and parked items, then the counts (notices too)
    vssid-bot outbox --all           # delivered ones too
    vssid-bot outbox --retry 12      # un-park item 12: due now, attempts counted afresh
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from functools import partial

from bot.cli.terminal import printable
from bot.clock import Clock, utc_now
from bot.settings import Settings
from storage.db import Database
from storage.declarations import OutboxItem, SubmissionOutbox
from storage.notices import UserNotices

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser], clock: Clock = utc_now
) -> None:
    """Add ``outbox`` to the ``vssid-bot`` command; ``clock`` says when "now" is (tests move
    it, so an item retried now is due for a worker that runs on the same clock)."""
    parser = subparsers.add_parser(
        "outbox", help="submission outbox: list pending and parked items, retry a parked one"
    )
    parser.add_argument("--all", action="store_true", help="list delivered items too")
    parser.add_argument(
        "--retry", type=int, metavar="ID", help="put a parked item back in the queue, due now"
    )
    parser.add_argument("--limit", type=int, default=200, help="list at most this many items")
    parser.set_defaults(func=partial(run, clock=clock))


def run(args: argparse.Namespace, clock: Clock = utc_now) -> int:
    return asyncio.run(_run(args, Settings(), clock))


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ") if moment else "-"


def format_item(item: OutboxItem) -> str:
    """One line per item; the error, if any, on the same line at the end. The error is a
    remote server's text: printed escaped (``bot.cli.terminal``)."""
    timing = (
        f"delivered {_when(item.delivered_at)}"
        if item.status == "delivered"
        else f"next {_when(item.next_attempt_at)}"
    )
    error = f"  last error: {item.last_error}" if item.last_error else ""
    return printable(
        f"#{item.id:<5} {item.status:<9} {item.destination:<15} {item.receipt:<22} "
        f"attempts {item.attempts:<2} {timing}{error}"
    )


async def _run(args: argparse.Namespace, settings: Settings, clock: Clock) -> int:
    db = await Database(settings.database_path).open()
    try:
        outbox = SubmissionOutbox(db)
        if args.retry is not None:
            if await outbox.retry(args.retry, clock()):
                print(f"item #{args.retry} is pending again and due now")  # noqa: T201
                return EXIT_OK
            print(f"no parked item #{args.retry}", file=sys.stderr)  # noqa: T201
            return EXIT_BAD_INPUT
        statuses = ("pending", "parked", "delivered") if args.all else ("pending", "parked")
        for item in await outbox.items(statuses, limit=args.limit):
            print(format_item(item))  # noqa: T201
        counts = await outbox.counts()
        print(", ".join(f"{status} {n}" for status, n in counts.items()))  # noqa: T201
        await print_notice_counts(db)
        return EXIT_OK
    finally:
        await db.close()


async def print_notice_counts(db: Database) -> None:
    """Citizens' notices not delivered: still tried, and parked (Telegram kept refusing
    them, most likely because the citizen blocked the bot)."""
    counts = await UserNotices(db).counts()
    print("notices: " + ", ".join(f"{status} {n}" for status, n in counts.items()))  # noqa: T201
