"""``vssid-bot review``: what the agency officers do with submitted declarations.

Operator-facing (terminal), so plain English here is fine. The name (as initials) and the
numbers (BHXH code, ID number, phone) are masked unless ``--full`` is given, and whatever
a citizen or a QR code put in a field is printed escaped (``bot.cli.terminal``). A
decision records the officer who took it, deletes the declaration's photos and leaves a
notice the bot delivers to the citizen (even if the bot is down right now).

    vssid-bot review list [--agency 03102] [--full]
    vssid-bot review approve 00001.GD/2026/03102 --officer "Trần Thị Bình"
    vssid-bot review reject 00001.GD/2026/03102 --officer "Trần Thị Bình" \
        --reason "Ảnh CCCD bị mờ"
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable

from bot.cli.terminal import printable
from bot.guardians.declaration import guardian, is_child
from bot.masking import mask_name, mask_number, mask_phone
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
    reject = actions.add_parser("reject", help="reject a declaration, with the reason")
    for decision in (approve, reject):
        decision.add_argument("receipt")
        decision.add_argument(
            "--officer",
            required=True,
            type=_not_blank("name the officer who decides"),
            metavar="NAME",
            help="who decides (kept with the decision)",
        )
    reject.add_argument(
        "--reason",
        required=True,
        type=_not_blank("say why, in words the citizen will read"),
        help="told to the citizen as written (required, not blank)",
    )
    parser.set_defaults(func=run)


def _not_blank(refusal: str) -> Callable[[str], str]:
    """An argument type for what a decision must carry: who decides, why it is refused.
    Blank (empty, spaces, line breaks) is refused with ``refusal``; runs of white space
    become one space."""

    def check(text: str) -> str:
        cleaned = " ".join(text.split())
        if not cleaned:
            raise argparse.ArgumentTypeError(refusal)
        return cleaned

    return check


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args, Settings()))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    parts = await build(settings)
    try:
        if args.action == "list":
            return await _list(parts, args.agency, full=args.full)
        decision: Decision = "approved" if args.action == "approve" else "rejected"
        decided = await parts.reviews.decide(
            args.receipt, decision, getattr(args, "reason", None), officer=args.officer
        )
        if decided is None:
            say = f"no declaration {args.receipt} is waiting for a decision"
            print(printable(say), file=sys.stderr)  # noqa: T201
            return 2
        said = (
            f"{decided.receipt}: {decision} by {args.officer}; photos deleted; "
            "the citizen will be told"
        )
        print(printable(said))  # noqa: T201
        return 0
    finally:
        await parts.close()


def _child_note(data: dict[str, object], *, full: bool) -> str:
    """A child's declaration says so, with the guardian's BHXH code and relationship."""
    if not is_child(data):
        return ""
    code = str(guardian(data).get("bhxh_code") or "")
    shown = code if full else mask_number(code)
    return f"  CHILD of BHXH {shown} ({data.get('relationship') or '?'})"


async def _list(parts: Components, agency: str | None, *, full: bool) -> int:
    waiting = await parts.reviews.waiting(agency)
    for item in waiting:
        data = item.data
        name, bhxh, id_number, phone = (
            str(data.get(field) or "") for field in ("full_name", "bhxh_code", "id_number", "phone")
        )
        if not full:
            name, bhxh, id_number = mask_name(name), mask_number(bhxh), mask_number(id_number)
            phone = mask_phone(phone)
        line = f"{item.receipt}  {item.submitted_at[:10]}  {name}  BHXH {bhxh}  ID {id_number}  "
        print(printable(line + phone + _child_note(data, full=full)))  # noqa: T201
    print(f"{len(waiting)} waiting")  # noqa: T201
    return 0
