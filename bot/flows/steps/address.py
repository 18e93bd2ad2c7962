"""The contact address: 2025 province and commune (picked or typed), whole old addresses mapped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.flows.conversation import Conversation
from bot.flows.events import Button, Event, Msg, ParamValue, Reply
from bot.flows.machine import fire
from bot.flows.places import fold, unaccented
from bot.flows.ports import CommuneLike, ProvinceLike
from bot.flows.sanitize import ascii_digits
from bot.flows.steps.base import (
    FlowBase,
    button_rows,
    replace_edit,
)


class AddressSteps(FlowBase):
    """Provinces and communes are buttons or text; a whole address is proposed as one."""

    def _province_items(self, conv: Conversation) -> list[tuple[str, str]]:
        codes = conv.listing.get("codes")
        provinces = (
            [p for p in (self.places.province(c) for c in codes) if p is not None]
            if codes
            else list(self.places.provinces())
        )
        return [(p.code, p.name) for p in provinces]

    def _commune_items(self, conv: Conversation) -> list[tuple[str, str]]:
        codes = conv.listing.get("codes")
        if codes:
            found = [self.places.commune(c) for c in codes]
            return [(c.code, c.name) for c in found if c is not None]
        return [(c.code, c.name) for c in self.places.communes(conv.answers["province_code"])]

    def _ask_province(self, conv: Conversation, now: datetime) -> list[Reply]:
        card_address = conv.answers.get("card_address")
        if card_address and not conv.answers.get("commune_code") and not conv.editing:
            proposal = self._propose_address(conv, card_address, "province")
            if proposal:
                return [self._question(conv, "province", key="ask.province_from_card"), *proposal]
        buttons = self._listing_page(conv, "province", self._province_items(conv), 0, 2)
        return [self._question(conv, "province", buttons=buttons)]

    def _ask_commune(self, conv: Conversation, now: datetime) -> list[Reply]:
        buttons = self._listing_page(conv, "commune", self._commune_items(conv), 0, 2)
        return [self._ask_with(conv, "commune", buttons)]

    def _hint_commune(self, conv: Conversation) -> dict[str, ParamValue]:
        return {"example": self._commune_example(conv)}

    def _commune_example(self, conv: Conversation) -> str:
        """A commune of the chosen province, typed the quick way ("phuong An Bien"): a ward
        if the province has one (most people who ask live in one), else the first commune."""
        communes = self.places.communes(conv.answers.get("province_code") or "")
        if not communes:
            return ""
        shown = next((c for c in communes if c.kind == "phường"), communes[0])
        return f"{fold(shown.kind)} {unaccented(shown.short_name)}"

    def _on_province(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        return self._on_place(conv, event, now, "province")

    def _on_commune(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        return self._on_place(conv, event, now, "commune")

    def _on_place(self, conv: Conversation, event: Event, now: datetime, step: str) -> list[Reply]:
        """Province or commune: picked from a paged list or typed, with or without diacritics."""
        items = self._province_items if step == "province" else self._commune_items
        if event.kind == "choice":
            if not event.choice.startswith(f"{step}:"):
                return self._stale(conv, now)
            action, _, arg = event.choice.removeprefix(f"{step}:").partition(":")
            if action == "page" and ascii_digits(arg):
                buttons = self._listing_page(conv, step, items(conv), int(arg), 2)
                return [replace_edit(self._ask_with(conv, step, buttons))]
            if action == "pick":
                return self._pick_place(conv, step, arg, now, edit=True)
            if action == "whole":
                return self._accept_address(conv, arg, now)
            return self._stale(conv, now)
        if event.kind != "text":
            return self._wrong_kind(conv, event, "text_or_choice")
        if "," in event.text:
            proposal = self._propose_address(conv, event.text, step)
            if proposal:
                return proposal
        province_code = conv.answers.get("province_code")
        if step == "province":
            found: Sequence[Any] = self.places.find_provinces(event.text)
        else:
            found = self.places.find_communes(province_code, event.text)
        if len(found) == 1 or (found and _names_match(found[0], event.text)):
            return self._pick_place(conv, step, found[0].code, now, edit=False)
        if found:
            conv.listing = {"codes": [f.code for f in found]}
            buttons = self._listing_page(conv, step, items(conv), 0, 2)
            return [Reply(f"choose.{step}_several", {"text": event.text[:60]}, buttons=buttons)]
        if step == "province":
            close: Sequence[Any] = self.places.closest_provinces(event.text)
        else:
            close = self.places.closest_communes(province_code, event.text)
        replies = self._reject(
            conv, f"{step}_not_found", {"text": event.text[:60], "area": self._area(conv)}
        )
        if close:
            conv.listing = {"codes": [c.code for c in close]}
            replies.append(
                Reply(
                    f"choose.{step}_closest",
                    buttons=self._listing_page(conv, step, items(conv), 0, 2),
                )
            )
        return replies

    def _propose_address(self, conv: Conversation, text: str, step: str) -> list[Reply]:
        """A whole address, old (3 levels, before 2025-07-01) or new: propose its 2025 commune.

        The user confirms (or, for a ward split among several communes, chooses); the text
        as typed is kept beside the new codes.
        """
        match = self.places.convert_legacy(text)
        if match is None or not match.candidates:
            return []
        conv.listing = {
            "whole": {
                "text": text[:300],
                "street": match.street[:200],
                "codes": [c.code for c in match.candidates],
                "formerly": ", ".join(p for p in (match.old_ward, match.old_district) if p),
            }
        }
        old = conv.listing["whole"]["formerly"]
        formerly: ParamValue = Msg("address.formerly", {"old": old}) if old else ""
        single = len(match.candidates) == 1  # then «có» means "yes, that one"
        choices = [
            Button(
                f"{step}:whole:{c.code}",
                label=f"✅ {self._commune_line(c.code)}",
                answer="yes" if single else "",
            )
            for c in match.candidates
        ]
        return [
            Reply(
                "address.split" if len(choices) > 1 else "address.mapped",
                {
                    "address": self._commune_line(match.candidates[0].code),
                    "formerly": formerly,
                    "street": match.street or "—",
                },
                buttons=(
                    *button_rows(choices, 1),
                    (Button(f"{step}:whole:no", label_key="btn.retype", answer="no"),),
                ),
            )
        ]

    def _commune_line(self, code: str) -> str:
        commune = self.places.commune(code)
        if commune is None:
            return code
        province = self.places.province(commune.province_code)
        return f"{commune.name}, {province.name}" if province else commune.name

    def _accept_address(self, conv: Conversation, code: str, now: datetime) -> list[Reply]:
        proposal = conv.listing.get("whole") or {}
        commune = self.places.commune(code)
        if commune is None or code not in proposal.get("codes", []):
            conv.listing = {}
            return [Reply("address.retype", edit=True), *self.prompt(conv, now)]
        self._move_to_province(conv, commune.province_code)
        conv.answers["commune_code"] = commune.code
        conv.answers["address_as_typed"] = proposal["text"]
        conv.answers["address_formerly"] = proposal.get("formerly", "")
        if proposal.get("street"):
            conv.answers["street"] = proposal["street"]
        conv.attempts.pop(conv.state, None)
        conv.listing = {}
        fire(conv, "address_found")
        note = Reply("note.chosen", {"choice": self._commune_line(code)}, edit=True)
        return [note, *self.prompt(conv, now)]

    def _move_to_province(self, conv: Conversation, code: str) -> None:
        """A new province needs its commune, and an agency of its own: the agency chosen
        in the old one is dropped, to be suggested anew before the review (the machine's
        ``needs_agency``)."""
        answers = conv.answers
        if answers.get("province_code") != code:
            answers.pop("commune_code", None)
        answers["province_code"] = code
        agency = self._agency(conv)
        if agency is not None and agency.province_code != code:
            answers.pop("agency_code", None)

    def _ask_with(
        self, conv: Conversation, step: str, buttons: tuple[tuple[Button, ...], ...]
    ) -> Reply:
        params: dict[str, ParamValue] = {}
        if step == "commune":
            province = self.places.province(conv.answers.get("province_code", ""))
            params["province"] = province.name if province else ""
            params["example"] = self._commune_example(conv)
        return self._question(conv, step, buttons=buttons, params=params)

    def _pick_place(
        self, conv: Conversation, step: str, code: str, now: datetime, *, edit: bool
    ) -> list[Reply]:
        if step == "province":
            province = self.places.province(code)
            if province is None:
                return self._stale(conv, now)
            self._move_to_province(conv, code)
            chosen = province.name
        else:
            commune = self.places.commune(code)
            if commune is None or commune.province_code != conv.answers.get("province_code"):
                return self._stale(conv, now)
            conv.answers["commune_code"] = code
            chosen = commune.name
        return [Reply("note.chosen", {"choice": chosen}, edit=edit), *self._advance(conv, now)]


def _names_match(place: ProvinceLike | CommuneLike, typed: str) -> bool:
    """The best match is exactly what was typed (with or without its kind word)."""
    key = fold(typed)
    return key in (fold(place.name), fold(place.short_name))
