"""``vssid-bot org``: an organisation's registration campaign, for its coordinator.

    vssid-bot org create --name "Sở GD&ĐT An Giang" --agency 08901 --deadline 2026-12-08 \
        [--coordinator 123456789] [--bot vssid_bot]
    vssid-bot org rotate ORG            a new invite link; the old one stops working
    vssid-bot org qr ORG --out poster.png
    vssid-bot org roster ORG danh_sach.xlsx    (or .csv; all rows or none)
    vssid-bot org report ORG [--format text|csv|xlsx] [--out FILE] [--full]
    vssid-bot org bundle ORG [--department NAME] --out FILE.pdf
    vssid-bot org close ORG [--purge]   --purge (after the deadline) deletes the roster

Operator-facing (terminal), so plain English here; what people typed is printed escaped
(``bot.cli.terminal``) and BHXH codes are masked unless ``--full``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.campaigns import report as formats
from bot.campaigns.bundle import department_bundle
from bot.campaigns.roster import RosterError
from bot.campaigns.service import invite_link, parse_deadline
from bot.cli.terminal import printable
from bot.clock import VIETNAM
from bot.settings import Settings
from bot.wiring import Components, build
from storage.campaigns import Campaign


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("org", help="organisations: invite link, roster, progress")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new campaign and its invite link")
    create.add_argument("--name", required=True)
    create.add_argument("--agency", required=True, metavar="CODE", help="receiving BHXH agency")
    create.add_argument("--deadline", required=True, type=_deadline, metavar="YYYY-MM-DD")
    create.add_argument("--coordinator", metavar="TG_USER_ID", type=_telegram_id)
    for action in ("rotate", "qr", "roster", "report", "bundle", "close"):
        sub = actions.add_parser(action)
        sub.add_argument("org", type=int, metavar="ORG", help="the campaign's id")
        if action in ("rotate", "qr"):
            sub.add_argument("--bot", metavar="USERNAME", help="the bot's @username")
    create.add_argument("--bot", metavar="USERNAME", help="the bot's @username")
    qr = actions.choices["qr"]
    qr.add_argument("--out", required=True, type=Path, metavar="FILE.png")
    actions.choices["roster"].add_argument("file", type=Path, metavar="FILE")
    report = actions.choices["report"]
    report.add_argument("--format", choices=("text", "csv", "xlsx"), default="text")
    report.add_argument("--out", type=Path, metavar="FILE")
    report.add_argument("--full", action="store_true", help="BHXH codes unmasked")
    bundle = actions.choices["bundle"]
    bundle.add_argument("--department", metavar="NAME", help="one department (default: all)")
    bundle.add_argument("--out", required=True, type=Path, metavar="FILE.pdf")
    actions.choices["close"].add_argument(
        "--purge", action="store_true", help="delete the roster (only after the deadline)"
    )
    parser.set_defaults(func=run)


def _deadline(text: str) -> str:
    try:
        return parse_deadline(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError("a date as YYYY-MM-DD") from None


def _telegram_id(text: str) -> str:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError("a Telegram user id (digits)")
    return text.strip()


def _say(text: str, *, error: bool = False) -> None:
    print(printable(text), file=sys.stderr if error else sys.stdout)  # noqa: T201


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args, Settings()))


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    parts = await build(settings)
    try:
        if args.action == "create":
            return await _create(parts, args)
        campaign = await parts.campaigns.store.get(args.org)
        if campaign is None:
            _say(f"no campaign {args.org}", error=True)
            return 2
        return await _ACTIONS[args.action](parts, campaign, args)
    finally:
        await parts.close()


def _link(parts: Components, args: argparse.Namespace, token: str) -> str | None:
    username = args.bot or parts.settings.telegram_bot_username
    if not username:
        _say("the bot's username is unknown: give --bot or set TELEGRAM_BOT_USERNAME", error=True)
        return None
    return invite_link(username, token)


async def _create(parts: Components, args: argparse.Namespace) -> int:
    agency = parts.service.flow.agencies.by_code(args.agency)
    if agency is None or not agency.active:
        _say(f"no active BHXH agency {args.agency} (see `vssid-bot agencies`)", error=True)
        return 2
    campaign = await parts.campaigns.create(
        " ".join(args.name.split()), agency.code, parse_deadline(args.deadline), args.coordinator
    )
    said = f"campaign {campaign.id}: {campaign.name}, agency {agency.code}, "
    _say(said + f"until {campaign.deadline}")
    link = _link(parts, args, campaign.token)
    if link is not None:
        _say(link)
    return 0


async def _rotate(parts: Components, campaign: Campaign, args: argparse.Namespace) -> int:
    token = await parts.campaigns.rotate(campaign.id)
    link = _link(parts, args, token)
    _say(f"campaign {campaign.id}: new invite link; the old one no longer works")
    if link is not None:
        _say(link)
    return 0


async def _qr(parts: Components, campaign: Campaign, args: argparse.Namespace) -> int:
    import segno

    link = _link(parts, args, campaign.token)
    if link is None:
        return 2
    segno.make(link, error="m", micro=False).save(str(args.out), kind="png", scale=10, border=4)
    _say(f"{args.out}: QR code of {link}")
    return 0


async def _roster(parts: Components, campaign: Campaign, args: argparse.Namespace) -> int:
    try:
        count = await parts.campaigns.import_roster(campaign.id, args.file)
    except RosterError as refused:
        for problem in refused.problems:
            _say(f"{args.file.name}, line {problem.line}: {problem.reason}", error=True)
        _say("nothing was imported", error=True)
        return 2
    except (OSError, ValueError) as unreadable:  # not a CSV or XLSX at all
        _say(f"{args.file.name}: cannot be read ({unreadable})", error=True)
        return 2
    _say(f"campaign {campaign.id}: {count} people imported or updated")
    return 0


def _step_names(parts: Components) -> formats.StepName:
    """A conversation's state as the citizen's own step name, in the bot's language."""
    catalogue = parts.translator.catalogues.get(parts.settings.bot_default_locale, {})
    return lambda state: catalogue.get(f"step.{state}", state)


async def _report(parts: Components, campaign: Campaign, args: argparse.Namespace) -> int:
    report = await parts.campaigns.report(campaign)
    named = _step_names(parts)
    if args.format == "xlsx":
        if args.out is None:
            _say("--format xlsx needs --out FILE.xlsx", error=True)
            return 2
        args.out.write_bytes(formats.as_xlsx(report, full=args.full, step_name=named))
        _say(f"{args.out}: {len(report.lines)} lines")
        return 0
    render = formats.as_csv if args.format == "csv" else formats.as_text
    text = render(report, full=args.full, step_name=named)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
        _say(f"{args.out}: {len(report.lines)} lines")
    else:
        sys.stdout.write(printable(text.replace("\n", "\0")).replace("\\x00", "\n"))
    return 0


async def _bundle(parts: Components, campaign: Campaign, args: argparse.Namespace) -> int:
    report = await parts.campaigns.report(campaign)
    if args.department and args.department.casefold() not in {
        d.casefold() for d in report.departments()
    }:
        _say(f"no department {args.department!r}; the roster has: ", error=True)
        for department in report.departments():
            _say(f"  {department}", error=True)
        return 2
    pdf, count = await department_bundle(
        report,
        args.department,
        parts.service.declarations,
        parts.service.flow.agencies,
        parts.translator,
    )
    args.out.write_bytes(pdf)
    _say(f"{args.out}: {count} declarations and the cover list")
    return 0


async def _close(parts: Components, campaign: Campaign, args: argparse.Namespace) -> int:
    today = parts.campaigns.clock().astimezone(VIETNAM).date().isoformat()
    if args.purge and today <= campaign.deadline:
        _say(f"the deadline ({campaign.deadline}) has not passed: the roster is kept", error=True)
        return 2
    await parts.campaigns.store.close(campaign.id, parts.campaigns.clock(), purge=args.purge)
    _say(f"campaign {campaign.id} closed" + ("; roster and arrivals deleted" if args.purge else ""))
    return 0


_ACTIONS = {
    "rotate": _rotate,
    "qr": _qr,
    "roster": _roster,
    "report": _report,
    "bundle": _bundle,
    "close": _close,
}
