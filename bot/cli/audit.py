"""``vssid-bot audit``: what support staff did in the staff chat, newest first.

One line per action: when (UTC), the staff member's Telegram id, the action and the
request's reference. No citizen is named: the reference is random (``bot.helpdesk.desk``).

    vssid-bot audit              # the last 200 actions
    vssid-bot audit --limit 50
"""

from __future__ import annotations

import argparse
import asyncio

from bot.cli.terminal import printable
from bot.settings import Settings
from storage.db import Database
from storage.helpdesk import AuditEntry, HelpRequests

EXIT_OK = 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("audit", help="help desk: every staff action, newest first")
    parser.add_argument("--limit", type=int, default=200, help="print at most this many")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args, Settings()))


def format_entry(entry: AuditEntry) -> str:
    when = entry.at[:19].replace("T", " ") + "Z"
    detail = f"  {entry.detail}" if entry.detail else ""
    who = f"staff {entry.staff_id:<12}"
    return printable(f"{when}  {who} {entry.action:<9} {entry.reference}{detail}")


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    db = await Database(settings.database_path).open()
    try:
        for entry in await HelpRequests(db).audit_trail(args.limit):
            print(format_entry(entry))  # noqa: T201
        return EXIT_OK
    finally:
        await db.close()
