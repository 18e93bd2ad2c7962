"""The receiving BHXH agency: suggested from the address, listed by province, searched by name."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.flows.conversation import Conversation
from bot.flows.events import Button, Event, ParamValue, Reply
from bot.flows.ports import AgencyLike
from bot.flows.sanitize import ascii_digits
from bot.flows.steps.base import (
    FlowBase,
)


class AgencySteps(FlowBase):
    """Suggestions first; the province list and name search are one tap or a word away.

    Only an agency this step has shown a button for (``listing["offered"]``, every list
    of the step, so an earlier list's buttons still work) and that is still active can be
    picked: a forged or stale ``agency:pick:`` chooses nothing.
    """

    def _agency_items(self, agencies: Sequence[AgencyLike]) -> list[tuple[str, str]]:
        return [(a.code, f"[{a.code}] {a.name}") for a in agencies]

    def _offer(self, conv: Conversation, agencies: Sequence[AgencyLike]) -> None:
        """``agencies`` are the list now shown; their buttons may be pressed from now on."""
        codes = [a.code for a in agencies]
        offered = dict.fromkeys([*conv.listing.get("offered", []), *codes])
        conv.listing = {"codes": codes, "offered": list(offered)}

    def _offered_agency(self, conv: Conversation, code: str) -> AgencyLike | None:
        # A listing stored before "offered" existed has only the codes on screen.
        offered = conv.listing.get("offered", conv.listing.get("codes", ()))
        agency = self.agencies.by_code(code)
        if agency is None or code not in offered:
            return None
        return agency if agency.active else None

    def _ask_agency(self, conv: Conversation, now: datetime) -> list[Reply]:
        suggested = self.agencies.suggest(
            conv.answers.get("province_code"),
            conv.answers.get("commune_code"),
            issuer_text=conv.answers.get("bhyt_issuer"),
        )
        preset = self.agencies.by_code(str(conv.answers.get("org_agency") or ""))
        if preset is not None and preset.active:
            # The member came by an organisation's invite link: its agency first (the
            # others stay one tap away, so the choice is theirs).
            suggested = [preset, *(a for a in suggested if a.code != preset.code)]
        self._offer(conv, suggested)
        buttons = list(self._listing_page(conv, "agency", self._agency_items(suggested), 0, 1))
        area: dict[str, ParamValue] = {"area": self._area(conv)}
        buttons.append((Button("agency:all", label_key="btn.agency_all", params=area),))
        question = self._question(conv, "agency", buttons=tuple(buttons))
        if conv.editing and not conv.answers.get("agency_code"):
            # Back from the review with a new province: say why this is asked again.
            province = self.places.province(conv.answers.get("province_code", ""))
            moved = Reply("note.agency_again", {"province": province.name if province else ""})
            return [moved, question]
        return [question]

    def _all_agencies(self, conv: Conversation, buttons: tuple[tuple[Button, ...], ...]) -> Reply:
        """A page of the province's (or city's) agencies, in place of the pressed message."""
        return Reply("choose.agency_all", {"area": self._area(conv)}, buttons=buttons, edit=True)

    def _listed_agencies(self, conv: Conversation) -> list[AgencyLike]:
        found = (self.agencies.by_code(c) for c in conv.listing.get("codes", []))
        return [a for a in found if a is not None]

    def _on_agency(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind == "text":
            found = self.agencies.search(event.text)
            if not found:
                return self._reject(conv, "agency_not_found", {"text": event.text[:60]})
            self._offer(conv, found)
            buttons = self._listing_page(conv, "agency", self._agency_items(found), 0, 1)
            return [Reply("choose.agency_several", {"text": event.text[:60]}, buttons=buttons)]
        if event.kind != "choice" or not event.choice.startswith("agency:"):
            return self._wrong_kind(conv, event, "text_or_choice")
        action, _, arg = event.choice.removeprefix("agency:").partition(":")
        if action == "all":
            agencies = list(self.agencies.for_province(conv.answers.get("province_code", "")))
            self._offer(conv, agencies)
            buttons = self._listing_page(conv, "agency", self._agency_items(agencies), 0, 1)
            return [self._all_agencies(conv, buttons)]
        if action == "page" and ascii_digits(arg):
            agencies = self._listed_agencies(conv)
            buttons = self._listing_page(conv, "agency", self._agency_items(agencies), int(arg), 1)
            return [self._all_agencies(conv, buttons)]
        if action != "pick":
            return self._stale(conv, now)
        agency = self._offered_agency(conv, arg)
        if agency is None:
            return [Reply("err.choice_not_offered"), *self.prompt(conv, now)]
        conv.answers["agency_code"] = agency.code
        shown = Reply(
            "note.agency_chosen",
            {"code": agency.code, "name": agency.name, "contact": self._agency_contact(agency)},
            edit=True,
        )
        return [shown, *self._advance(conv, now)]
