"""Card QR autofill: show what was read, ask "is this right?", apply it, skip what it answered."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.flows import autofill, validators
from bot.flows.conversation import Conversation
from bot.flows.events import Button, Event, Msg, ParamValue, Reply
from bot.flows.steps.doubts import DoubtSteps


class CardSteps(DoubtSteps):
    """A card read is only used once the user confirms it."""

    def _on_card(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        """A photo of a card at the BHXH-code or ID step, or the answer to "is this right?"."""
        expected = autofill.CARD_FOR_STEP[conv.state]
        if event.kind == "choice":
            answer = event.choice.rpartition(":")[2]
            reading = conv.listing.get("card")
            if answer == "yes" and reading:
                return self._apply_card(conv, reading, now)
            conv.listing = {}
            return [Reply("card.type_instead", edit=True), *self.prompt(conv, now)]
        reading = event.card or {}
        kind = reading.get("kind")
        if kind is None:
            problem = str(reading.get("problem") or "no_qr")
            if problem in ("too_dark", "too_small", "blurred", "no_qr"):
                return self._reject(conv, f"card_{problem}", {"card": Msg(f"card.{expected}")})
            return self._reject(conv, f"photo_{problem}", dict(event.problem_detail))
        if kind != expected:
            if kind in ("cccd", "bhyt") or reading.get("hint"):
                hint = reading.get("hint") or ""
                code = "card_malformed" if hint.startswith(expected) else "card_other_card"
            else:
                code = "card_wrong_qr"
            return self._reject(
                conv, code, {"card": Msg(f"card.{expected}"), "qr": Msg(f"qr_kind.{kind}")}
            )
        if autofill.problems(reading):
            return self._reject(conv, "card_inconsistent")
        conv.listing = {"card": reading, "photo_id": event.photo_id}
        buttons = (
            (
                Button(f"{conv.state}:card:yes", label_key="btn.card_yes", answer="yes"),
                Button(f"{conv.state}:card:no", label_key="btn.card_no", answer="no"),
            ),
        )
        read = Reply(f"card.read_{kind}", self._card_params(reading), buttons=buttons)
        typed = conv.answers.get("id_number") if kind == "cccd" else None
        if typed and typed != reading["id_number"]:
            # Another number was typed before (the review's "change"): say which is which.
            differs = Reply(
                "card.number_differs",
                {
                    "card": validators.id_display(reading["id_number"]),
                    "typed": validators.id_display(typed),
                },
            )
            return [differs, read]
        return [read]

    def _card_params(self, reading: dict[str, Any]) -> dict[str, ParamValue]:
        gender = reading.get("gender")
        params: dict[str, ParamValue] = {
            "full_name": reading.get("full_name") or "—",
            "birth": autofill.shown_date(reading),
            "gender": Msg(f"gender.{gender}") if gender else "—",
        }
        # Shown whole, grouped: the citizen checks the reading against the card in hand.
        if reading["kind"] == "bhyt":
            params["bhxh_code"] = validators.bhxh_display(reading["bhxh_code"])
            params["issuer"] = reading.get("issuer") or "—"
        else:
            params["id_number"] = validators.id_display(reading["id_number"])
            params["address"] = reading.get("address") or "—"
        return params

    def _apply_card(
        self, conv: Conversation, reading: dict[str, Any], now: datetime
    ) -> list[Reply]:
        """Take the confirmed card's data; questions it answered are skipped afterwards."""
        answers = conv.answers
        from_card = set(answers.get("from_card", []))
        notes: list[Reply] = [Reply("card.accepted", edit=True)]
        card_name = reading.get("full_name")
        typed_name = answers.get("full_name")
        if card_name:
            if typed_name and not autofill.same_name(typed_name, card_name):
                notes.append(Reply("card.name_differs", {"card": card_name, "typed": typed_name}))
            answers["full_name"] = card_name
            from_card.add("full_name")
        for key in ("birth_date", "birth_year", "gender"):
            if reading.get(key) is not None:
                answers[key] = reading[key]
        if reading["kind"] == "bhyt":
            answers["bhxh_code"] = reading["bhxh_code"]
            if reading.get("issuer"):
                answers["bhyt_issuer"] = reading["issuer"]
        else:
            self._take_id(conv, reading["id_number"], "cccd")
            answers["id_verified_by_qr"] = True
            photo_id = conv.listing.get("photo_id")
            if photo_id:
                side = autofill.qr_side(reading)
                answers[side] = photo_id
                from_card.add(side)
            if reading.get("address") and not answers.get("commune_code"):
                answers["card_address"] = reading["address"]
                from_card.update(self._address_from_card(conv, reading["address"]))
        answers["from_card"] = sorted(from_card)
        return [*notes, *self._advance(conv, now)]

    def _address_from_card(self, conv: Conversation, address: str) -> list[str]:
        """An unambiguous card address fills the address; a split ward is asked later."""
        match = self.places.convert_legacy(address)
        if match is None or len(match.candidates) != 1:
            return []
        commune = match.candidates[0]
        conv.answers["province_code"] = commune.province_code
        conv.answers["commune_code"] = commune.code
        conv.answers["address_as_typed"] = address
        formerly = ", ".join(p for p in (match.old_ward, match.old_district) if p)
        conv.answers["address_formerly"] = formerly
        filled = ["province_code", "commune_code"]
        if match.street:
            conv.answers["street"] = match.street
            filled.append("street")
        return filled
