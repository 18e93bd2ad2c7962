"""``vssid-bot review``: what the agency officers do with submitted declarations.

Operator-facing (terminal), so plain English here is fine. Identifiers are masked unless
``--full`` is given; a decision deletes the declaration's photos and leaves a notice the
bot delivers to the citizen (even if the bot is down right now).

    vssid-bot review list [--agency 03102] [--full]
    vssid-bot review approve 00001.GD/2026/03102
    vssid-bot review reject 00001.GD/2026/03102 --reason "Ảnh CCCD bị mờ"
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from bot.masking import mask_number, mask_phone
from bot.review import Decision
from bot.settings import Settings
from bot.wiring import Components, build


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("review", help="officers: list, approve or reject declarations")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="declarations waiting for a decision")
    listing.add_argument("--agency", help="only this agency code")
    listing.add_argument("--full", action="store_true", help="show identifiers unmasked")
    approve = actions.add_parser("approve", help="approve a declaration")
    approve.add_argument("receipt")
    reject = actions.add_parser("reject", help="reject a declaration, with the reason")
    reject.add_argument("receipt")
    reject.add_argument("--reason", required=True, help="told to the citizen as written")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args, Settings()))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    parts = await build(settings)
    try:
        if args.action == "list":
            return await _list(parts, args.agency, full=args.full)
        decision: Decision = "approved" if args.action == "approve" else "rejected"
        decided = await parts.reviews.decide(args.receipt, decision, getattr(args, "reason", None))
        if decided is None:
            print(f"no declaration {args.receipt} is waiting for a decision", file=sys.stderr)  # noqa: T201
            return 2
        print(f"{decided.receipt}: {decision}; photos deleted; the citizen will be told")  # noqa: T201
        return 0
    finally:
        await parts.close()


async def _list(parts: Components, agency: str | None, *, full: bool) -> int:
    waiting = await parts.reviews.waiting(agency)
    for item in waiting:
        data = item.data
        id_number = str(data.get("id_number", ""))
        phone = str(data.get("phone", ""))
        print(  # noqa: T201
            f"{item.receipt}  {item.submitted_at[:10]}  {data.get('full_name', '')}  "
            f"BHXH {data.get('bhxh_code', '')}  "
            f"ID {id_number if full else mask_number(id_number)}  "
            f"{phone if full else mask_phone(phone)}"
        )
    print(f"{len(waiting)} waiting")  # noqa: T201
    return 0
