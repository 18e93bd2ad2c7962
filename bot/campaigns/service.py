"""What an organisation's campaign does, channel-free: create, invite, import, match, report.

The Telegram adapter, the registration service and the ``vssid-bot org`` command all go
through ``CampaignService``. A member's typed BHXH code is matched by its keyed hash
(``storage.campaigns.code_key``); nothing here ever tells a member what the roster holds.
"""

from __future__ import annotations

import secrets
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from bot.campaigns import roster as roster_file
from bot.clock import VIETNAM, Clock, utc_now
from bot.flows.conversation import Conversation
from bot.flows.events import Reply
from storage.campaigns import Campaign, CampaignStore, DeclarationFact, code_key

#: Keys the campaign adds to a member's answers (sealed with them, forgotten with them).
ORG_ID, ORG_NAME, ORG_AGENCY, ORG_CODE_KEY = "org_id", "org_name", "org_agency", "org_code_key"
#: The answers whose BHXH code is matched to the roster. Hook for guardians (issue 11,
#: built on another branch): when a guardian registers a child through a school's link,
#: the child's code field goes here too, and a guardian with several children needs one
#: ``campaign_arrivals`` row per code (today one per user) — the report counts them alike.
CODE_FIELDS: tuple[str, ...] = ("bhxh_code",)
#: The ``/start`` argument of an invite link: ``org_<token>``.
LINK_PREFIX = "org_"

#: When a coordinator's ``/remind`` may go out: working hours in Vietnam, Monday to Friday
#: (a reminder at 22:00 or on a Sunday would be rude, and the hotline would be closed).
OFFICE_HOURS = (8, 17)

#: Report statuses, in the order a person goes through them.
STATUSES = ("not_started", "in_progress", "submitted", "approved", "rejected", "expired")


def new_token() -> str:
    """16 random bytes, URL-safe: not guessable, and within Telegram's 64-character
    ``start`` parameter (``org_`` + 22 characters)."""
    return secrets.token_urlsafe(16)


def invite_link(bot_username: str, token: str) -> str:
    return f"https://t.me/{bot_username.lstrip('@')}?start={LINK_PREFIX}{token}"


@dataclass(frozen=True)
class ReportLine:
    """One person of the report (``on_roster`` False: came by the link, code not listed)."""

    position: int
    name: str
    role: str
    department: str
    bhxh_code: str
    status: str
    step: str = ""
    receipt: str = ""
    on_roster: bool = True
    reached: bool = False  # wrote to the bot through the link: a reminder can reach them


@dataclass
class Report:
    campaign: Campaign
    today: date
    lines: list[ReportLine] = field(default_factory=list)

    @property
    def days_left(self) -> int:
        return (date.fromisoformat(self.campaign.deadline) - self.today).days

    def departments(self) -> list[str]:
        """Departments in roster order (the first spelling met names a department)."""
        return list(dict.fromkeys(line.department for line in self.lines if line.on_roster))

    def totals(self, department: str | None = None) -> Counter[str]:
        """Counts per status of the roster (or of one department)."""
        return Counter(
            line.status
            for line in self.lines
            if line.on_roster and (department is None or line.department == department)
        )

    def not_on_roster(self) -> list[ReportLine]:
        return [line for line in self.lines if not line.on_roster]


class CampaignService:
    def __init__(self, store: CampaignStore, clock: Clock = utc_now) -> None:
        self.store = store
        self.clock = clock

    async def create(
        self, name: str, agency_code: str, deadline: date, coordinator: str | None
    ) -> Campaign:
        return await self.store.create(
            name, agency_code, deadline.isoformat(), coordinator, new_token(), self.clock()
        )

    async def rotate(self, campaign_id: int) -> str:
        """A new token: the old link stops working (a poster leaked, a link forwarded)."""
        token = new_token()
        await self.store.set_token(campaign_id, token)
        return token

    async def import_roster(self, campaign_id: int, path: Path) -> int:
        """All rows or none (``RosterError`` names each bad line); again: updated by code."""
        people = roster_file.load(path)
        return await self.store.replace_roster(campaign_id, people)

    async def purge_ended(self, period: timedelta) -> int:
        """The retention sweep: a campaign whose deadline is more than ``period`` ago loses
        its roster and arrivals, as a decided declaration loses its personal data, even if
        nobody ran ``org close --purge``. Returns how many campaigns were purged."""
        now = self.clock()
        cutoff = (now.astimezone(VIETNAM).date() - period).isoformat()
        ended = await self.store.ended_with_roster(cutoff)
        for campaign_id in ended:
            await self.store.close(campaign_id, now, purge=True)
        return len(ended)

    # -- the member's side ------------------------------------------------------------------

    async def opened(self, conv: Conversation, argument: str) -> Campaign | None:
        """``/start org_<token>``: the open campaign it names, recorded as opened by this
        user (``None``: an unknown, rotated or closed link; the registration goes on).

        The one row written before consent: that this Telegram account opened the link
        (nothing it typed), since the conversation itself is not stored until consent and
        the campaign would otherwise be forgotten by the next message. ``/deletemydata``
        and ``org close --purge`` delete it."""
        if not argument.startswith(LINK_PREFIX):
            return None
        campaign = await self.store.by_token(argument.removeprefix(LINK_PREFIX))
        if campaign is None or campaign.closed_at is not None:
            return None
        await self.store.arrive(campaign.id, conv.user_key, self.clock())
        _join(conv, campaign)
        return campaign

    async def follow(self, conv: Conversation, *, just_consented: bool) -> None:
        """After each event of a member: the campaign joins the answers once they agreed
        to the use of their data, and a typed BHXH code is matched (by hash) to the roster.

        Only the event that brings consent looks a campaign up: every other event of
        someone who came without a link costs nothing."""
        if conv.consent is None:
            return
        if ORG_ID not in conv.answers:
            if not just_consented:
                return
            campaign = await self.store.latest_arrival(conv.user_key)
            if campaign is None:
                return
            _join(conv, campaign)
        code = next((conv.answers[f] for f in CODE_FIELDS if conv.answers.get(f)), None)
        if not code:
            return
        key = code_key(self.store.db.vault, str(code))
        if conv.answers.get(ORG_CODE_KEY) != key:
            await self.store.typed_code(int(conv.answers[ORG_ID]), conv.user_key, key)
            conv.answers[ORG_CODE_KEY] = key

    # -- the coordinator's side -------------------------------------------------------------

    async def report(self, campaign: Campaign) -> Report:
        today = self.clock().astimezone(VIETNAM).date()
        report = Report(campaign, today)
        listed = await self.store.roster(campaign.id)
        arrivals = await self.store.arrivals(campaign.id)
        declared: dict[str, DeclarationFact] = {}
        for found in await self.store.declarations(campaign.id):
            declared[found.bhxh_key or found.receipt] = found  # the latest wins
        by_code = {a.bhxh_key: a for a in arrivals if a.bhxh_key}
        steps = await self.store.states([a.user_key for a in by_code.values()])
        roster_keys = set()
        for key, person in listed:
            roster_keys.add(key)
            arrival = by_code.get(key)
            fact = declared.get(key)
            status, step, receipt = "not_started", "", ""
            if fact is not None:
                status, receipt = fact.status, fact.receipt
            elif arrival is not None:
                status, step = "in_progress", steps.get(arrival.user_key, "")
            report.lines.append(
                ReportLine(
                    person.position,
                    person.name,
                    person.role,
                    person.department,
                    person.bhxh_code,
                    status,
                    step,
                    receipt,
                    reached=arrival is not None,
                )
            )
        came = {a.user_key for a in arrivals}
        for key, fact in declared.items():
            if key not in roster_keys and fact.user_key in came:
                report.lines.append(
                    ReportLine(0, "", "", "", "", fact.status, "", fact.receipt, on_roster=False)
                )
        return report


    # -- the coordinator in the chat (/org, /remind) -----------------------------------------

    async def progress(self, coordinator: str) -> list[Reply] | None:
        """``/org``: one summary per open campaign of this coordinator (``None``: they
        coordinate nothing, and the command is the citizens' as usual)."""
        campaigns = await self.store.of_coordinator(coordinator)
        if not campaigns:
            return None
        replies = []
        for campaign in campaigns:
            report = await self.report(campaign)
            totals = report.totals()
            replies.append(
                Reply(
                    "org.progress",
                    {
                        "name": campaign.name,
                        "deadline": _shown(campaign.deadline),
                        "days": report.days_left,
                        "total": sum(totals.values()),
                        "submitted": totals["submitted"] + totals["approved"],
                        "in_progress": totals["in_progress"],
                        "not_started": totals["not_started"],
                        "outside": len(report.not_on_roster()),
                    },
                )
            )
        return replies

    async def remind(self, coordinator: str) -> tuple[list[Reply], list[tuple[str, Reply]]] | None:
        """``/remind``: what to tell the coordinator, and ``(user_key, reminder)`` for each
        roster member who opened the link and has not submitted. At most once a day per
        campaign, in office hours; the caller sends the reminders in the background lane
        and reports back with ``reminded``. ``None``: not a coordinator."""
        campaigns = await self.store.of_coordinator(coordinator)
        if not campaigns:
            return None
        now = self.clock()
        local = now.astimezone(VIETNAM)
        start, end = OFFICE_HOURS
        if local.weekday() >= 5 or not start <= local.hour < end:
            return [Reply("org.remind_office_hours", {"from": start, "to": end})], []
        told: list[Reply] = []
        reminders: list[tuple[str, Reply]] = []
        for campaign in campaigns:
            last = campaign.reminded_at
            if last and datetime.fromisoformat(last).astimezone(VIETNAM).date() == local.date():
                told.append(Reply("org.remind_once", {"name": campaign.name}))
                continue
            report = await self.report(campaign)
            waiting = {line.bhxh_code for line in report.lines if line.status == "in_progress"}
            keys = {code_key(self.store.db.vault, c) for c in waiting}
            members = [a.user_key for a in await self.store.arrivals(campaign.id)
                       if a.bhxh_key in keys]
            reminder = Reply(
                "org.reminder", {"name": campaign.name, "deadline": _shown(campaign.deadline)}
            )
            reminders += [(user_key, reminder) for user_key in members]
            await self.store.mark_reminded(campaign.id, members, now)
            told.append(Reply("org.remind_sent", {"name": campaign.name, "count": len(members)}))
        return told, reminders


def _shown(day: str) -> str:
    return date.fromisoformat(day).strftime("%d/%m/%Y")


def _join(conv: Conversation, campaign: Campaign) -> None:
    """The campaign in the member's answers (kept only once they have consented: before
    that, nothing of the conversation is stored)."""
    conv.answers[ORG_ID] = campaign.id
    conv.answers[ORG_NAME] = campaign.name
    conv.answers[ORG_AGENCY] = campaign.agency_code
    conv.answers.pop(ORG_CODE_KEY, None)


def parse_deadline(text: str) -> date:
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=VIETNAM).date()
