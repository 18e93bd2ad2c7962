"""The adult registration conversation: what each step accepts and what it answers.

``RegistrationFlow.handle`` takes a conversation attached to nothing, an ``Event`` and the
time, moves the shared state machine (``bot.flows.machine``) and returns ``Reply`` values.
It does no I/O: work such as sending a code or storing the declaration is queued on
``conversation.effects`` for the service to perform. Every input, at every step, gets an
answer; a rejected answer never loses what the user gave before.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from bot.flows import autofill, otp, validators
from bot.flows.conversation import Conversation
from bot.flows.effects import Discard, EraseUser, SendCode, Submit
from bot.flows.events import Button, Event, Msg, ParamValue, Reply
from bot.flows.machine import EDITABLE, attached, fire
from bot.flows.places import fold
from bot.flows.ports import Agencies, AgencyLike, CommuneLike, Places, ProvinceLike
from bot.masking import mask_email, mask_number, mask_phone

CONSENT_VERSION = "2026-11-v1"
HOTLINE = "1900 9068"
VIETNAM = timezone(timedelta(hours=7))
MAX_MESSAGE = 1000
PAGE_SIZE = 8
HELP_AFTER_FAILURES = 3

#: Step number shown to the user ("bước 3/10"); the address is one step of three questions.
PROGRESS = {
    "bhxh_code": 1,
    "full_name": 2,
    "id_number": 3,
    "province": 4,
    "commune": 4,
    "street": 4,
    "phone": 5,
    "email_choice": 6,
    "email": 6,
    "portrait": 7,
    "id_front": 8,
    "id_back": 9,
    "agency": 10,
}
TOTAL_STEPS = 10

PHOTO_STEPS = ("portrait", "id_front", "id_back")
TEXT_VALIDATORS: dict[str, Callable[[str], validators.Result]] = {
    "bhxh_code": validators.bhxh_code,
    "full_name": validators.full_name,
    "street": validators.street,
    "phone": validators.mobile_phone,
    "email": validators.email,
}


def _rows(buttons: Sequence[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


class RegistrationFlow:
    """Channel-free logic of the VssID registration declaration (mẫu 01)."""

    def __init__(self, places: Places, agencies: Agencies, otp_secret: bytes) -> None:
        self.places = places
        self.agencies = agencies
        self.otp_secret = otp_secret

    # ------------------------------------------------------------------ entry points
    def handle(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        """Answer one event; the machine is attached only for its duration."""
        with attached(conv):
            if event.kind == "command":
                return self._command(conv, event, now)
            if event.kind == "choice" and event.choice.startswith("g:"):
                return self._global_choice(conv, event.choice[2:], now)
            if event.kind == "text" and len(event.text) > MAX_MESSAGE:
                return self._reject(conv, "too_long", {"max": MAX_MESSAGE})
            step = getattr(self, f"_on_{conv.state}")
            replies: list[Reply] = step(conv, event, now)
            return replies

    def prompt(self, conv: Conversation, now: datetime | None = None) -> list[Reply]:
        """The question of the current step, as it is asked the first time."""
        asker = getattr(self, f"_ask_{conv.state}", None)
        if asker is not None:
            replies: list[Reply] = asker(conv, now or datetime.now(VIETNAM))
            return replies
        return [self._question(conv, conv.state)]

    def photo_slot(self, conv: Conversation) -> str | None:
        """The photo the current step waits for, so the service checks and stores it first."""
        return conv.state if conv.state in PHOTO_STEPS else None

    def card_slot(self, conv: Conversation) -> str | None:
        """The card whose QR the current step can read from a photo ("bhyt" or "cccd")."""
        return autofill.CARD_FOR_STEP.get(conv.state)

    def after_submit(self, conv: Conversation, receipt: str, now: datetime) -> list[Reply]:
        """The declaration is stored under ``receipt``: close the conversation."""
        with attached(conv):
            conv.receipt = receipt
            fire(conv, "submitted")
            return self._receipt(conv, fresh=True)

    # ------------------------------------------------------------------ helpers
    def _question(
        self,
        conv: Conversation,
        state: str,
        *,
        buttons: tuple[tuple[Button, ...], ...] = (),
        keyboard: Any = None,
        edit: bool = False,
        key: str | None = None,
        params: dict[str, ParamValue] | None = None,
    ) -> Reply:
        values: dict[str, ParamValue] = {
            "step": PROGRESS.get(state, TOTAL_STEPS),
            "total": TOTAL_STEPS,
        }
        values.update(params or {})
        return Reply(key or f"ask.{state}", values, buttons=buttons, keyboard=keyboard, edit=edit)

    def _reject(
        self, conv: Conversation, code: str, params: dict[str, ParamValue] | None = None
    ) -> list[Reply]:
        """Say what was wrong; the wording grows more helpful with each failure at a step."""
        count = conv.attempts.get(conv.state, 0) + 1
        conv.attempts[conv.state] = count
        replies = [Reply(f"err.{code}", dict(params or {}))]
        if count >= 2:
            replies.append(Reply(f"hint.{conv.state}"))
        if count >= HELP_AFTER_FAILURES:
            replies.append(self._help_offer(conv))
        return replies

    def _help_offer(self, conv: Conversation) -> Reply:
        return Reply(
            "help.offer",
            {"hotline": HOTLINE},
            buttons=((Button("g:help", label_key="btn.help"),),),
        )

    def _advance(self, conv: Conversation, now: datetime) -> list[Reply]:
        conv.attempts.pop(conv.state, None)
        conv.listing = {}
        fire(conv, "advance")
        while conv.answered_by_card():
            fire(conv, "advance")
        return self.prompt(conv, now)

    def _wrong_kind(self, conv: Conversation, event: Event, expected: str) -> list[Reply]:
        """A sticker, voice note, photo or text where something else was asked."""
        got = event.other_kind or event.kind
        return self._reject(conv, f"expected_{expected}", {"got": Msg(f"kind.{got}")})

    # ------------------------------------------------------------------ commands
    def _command(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        command = event.command
        if command == "start":
            return self._start(conv, now)
        if command == "cancel":
            if conv.consent is None:
                return [Reply("cancel.nothing")]
            return [
                Reply(
                    "cancel.confirm",
                    buttons=(
                        (
                            Button("g:cancel:yes", label_key="btn.cancel_yes"),
                            Button("g:cancel:no", label_key="btn.cancel_no"),
                        ),
                    ),
                )
            ]
        if command == "status":
            return self._status(conv)
        if command == "language":
            return [
                Reply(
                    "language.choose",
                    buttons=(
                        (
                            Button("g:lang:vi", label="Tiếng Việt"),
                            Button("g:lang:en", label="English"),
                        ),
                    ),
                )
            ]
        if command == "help":
            return [self._help(conv)]
        if command == "deletemydata":
            return [
                Reply(
                    "erase.confirm",
                    buttons=(
                        (
                            Button("g:erase:yes", label_key="btn.erase_yes"),
                            Button("g:erase:no", label_key="btn.cancel_no"),
                        ),
                    ),
                )
            ]
        return [Reply("err.unknown_command", {"command": "/" + command[:30]})]

    def expired(self, conv: Conversation) -> list[Reply]:
        """The draft reached its 10 days: the service deletes it; this is what the user hears."""
        with attached(conv):
            fire(conv, "cancel")
        conv.effects.append(Discard())
        return [Reply("draft.expired", {"hotline": HOTLINE})]

    def reminder(self, conv: Conversation, expires: datetime) -> list[Reply]:
        day = expires.astimezone(VIETNAM).strftime("%d/%m/%Y")
        missing = len(conv.missing_fields())
        return [
            Reply(
                "draft.reminder",
                {"step": Msg(f"step.{conv.state}"), "count": missing, "date": day},
                buttons=((Button("g:resume", label_key="btn.resume"),),),
            )
        ]

    def _start(self, conv: Conversation, now: datetime) -> list[Reply]:
        if conv.state == "consent":
            return self.prompt(conv, now)
        if conv.state in ("done",):
            return self._receipt(conv, fresh=False)
        if conv.state == "submitting":
            conv.effects.append(Submit())
            return []
        return [Reply("start.resume"), *self.prompt(conv, now)]

    def _status(self, conv: Conversation) -> list[Reply]:
        if conv.consent is None:
            return [Reply("status.not_started")]
        if conv.state in ("done", "submitting"):
            return self._receipt(conv, fresh=False)
        missing = conv.missing_fields()
        summary: ParamValue = (
            Msg("status.nothing_missing")
            if not missing
            else Msg("status.missing_count", {"count": len(missing)})
        )
        return [
            Reply("status.in_progress", {"step": Msg(f"step.{conv.state}"), "missing": summary}),
            *(Reply("status.missing_item", {"field": Msg(f"field.{name}")}) for name in missing),
        ]

    def _help(self, conv: Conversation) -> Reply:
        agency = self._agency(conv)
        if agency is not None and agency.phone:
            return Reply(
                "help.text_agency",
                {"hotline": HOTLINE, "agency": agency.name, "phone": agency.phone},
            )
        return Reply("help.text", {"hotline": HOTLINE})

    def _global_choice(self, conv: Conversation, choice: str, now: datetime) -> list[Reply]:
        action, _, arg = choice.partition(":")
        if action == "lang" and arg in ("vi", "en"):
            conv.locale = arg
            return [Reply("language.changed", edit=True), *self.prompt(conv, now)]
        if action == "cancel":
            if arg == "yes" and conv.consent is not None:
                fire(conv, "cancel")
                conv.effects.append(Discard())
                return [Reply("cancel.done", edit=True)]
            return [Reply("cancel.kept", edit=True), *self.prompt(conv, now)]
        if action == "help":
            return [self._help(conv)]
        if action == "erase":
            if arg != "yes":
                return [Reply("cancel.kept", edit=True), *self.prompt(conv, now)]
            fire(conv, "cancel")
            conv.effects.append(EraseUser())
            return [Reply("erase.done", edit=True)]
        if action == "resume":
            return [Reply("start.resume", edit=True), *self.prompt(conv, now)]
        if action == "new" and conv.state == "done":
            conv.answers = {"draft_id": None}
            conv.receipt = None
            conv.otp = None
            fire(conv, "restart")
            return self.prompt(conv, now)
        return [Reply("err.stale_button"), *self.prompt(conv, now)]

    def _stale(self, conv: Conversation, now: datetime) -> list[Reply]:
        return [Reply("err.stale_button"), *self.prompt(conv, now)]

    # ------------------------------------------------------------------ consent
    def _ask_consent(self, conv: Conversation, now: datetime) -> list[Reply]:
        other = "en" if conv.locale == "vi" else "vi"
        return [
            Reply(
                "ask.consent",
                {"version": CONSENT_VERSION, "hotline": HOTLINE},
                buttons=(
                    (Button(f"consent:yes:{conv.locale}", label_key="btn.agree"),),
                    (Button("consent:no", label_key="btn.disagree"),),
                    (
                        Button(
                            f"consent:lang:{other}",
                            label="English" if other == "en" else "Tiếng Việt",
                        ),
                    ),
                ),
            )
        ]

    def _on_consent(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind == "choice":
            action, _, arg = event.choice.removeprefix("consent:").partition(":")
            if action == "lang" and arg in ("vi", "en"):
                conv.locale = arg
                return [replace_edit(r) for r in self._ask_consent(conv, now)]
            if action == "yes":
                if arg in ("vi", "en"):
                    conv.locale = arg
                conv.consent = {"version": CONSENT_VERSION, "at": now.isoformat()}
                conv.answers.setdefault("draft_id", None)
                fire(conv, "agree")
                return [Reply("consent.thanks", edit=True), *self.prompt(conv, now)]
            if action == "no":
                return [Reply("consent.declined", edit=True)]
        return [Reply("consent.needed"), *self._ask_consent(conv, now)]

    # ------------------------------------------------------------------ typed fields
    def _on_text_field(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.card is not None or event.choice.startswith(f"{conv.state}:card:"):
            return self._on_card(conv, event, now)
        if event.kind != "text":
            return self._wrong_kind(conv, event, "text")
        result = TEXT_VALIDATORS[conv.state](event.text)
        if isinstance(result, validators.Invalid):
            return self._reject(conv, result.code, dict(result.params))
        conv.answers[conv.state] = result.value
        notes: list[Reply] = []
        if "from_card" in result.extra:
            notes.append(Reply("note.bhxh_from_card", {"code": result.value}))
        if conv.state == "phone":
            notes.append(
                Reply(
                    "note.phone_saved",
                    {"phone": validators.phone_display(result.value)},
                    keyboard="remove",
                )
            )
        return [*notes, *self._advance(conv, now)]

    _on_bhxh_code = _on_text_field
    _on_full_name = _on_text_field
    _on_street = _on_text_field
    _on_email = _on_text_field

    def _on_id_number(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.card is not None or event.choice.startswith("id_number:card:"):
            return self._on_card(conv, event, now)
        if event.kind != "text":
            return self._wrong_kind(conv, event, "text")
        result = validators.id_number(event.text, now.astimezone(VIETNAM).date())
        if isinstance(result, validators.Invalid):
            return self._reject(conv, result.code, dict(result.params))
        conv.answers["id_number"] = result.value
        conv.answers["id_type"] = result.extra["type"]
        notes = []
        if result.extra["type"] == "passport_foreign":
            notes.append(Reply("note.passport_foreign"))
        return [*notes, *self._advance(conv, now)]

    def _ask_phone(self, conv: Conversation, now: datetime) -> list[Reply]:
        return [self._question(conv, "phone", keyboard="contact")]

    def _on_phone(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind == "contact":
            if not event.contact_is_own:
                return self._reject(conv, "phone_not_own")
            return self._on_text_field(conv, Event.typed(event.text), now)
        return self._on_text_field(conv, event, now)

    # ------------------------------------------------------------------ card QR autofill
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
                Button(f"{conv.state}:card:yes", label_key="btn.card_yes"),
                Button(f"{conv.state}:card:no", label_key="btn.card_no"),
            ),
        )
        return [Reply(f"card.read_{kind}", self._card_params(reading), buttons=buttons)]

    def _card_params(self, reading: dict[str, Any]) -> dict[str, ParamValue]:
        gender = reading.get("gender")
        params: dict[str, ParamValue] = {
            "full_name": reading.get("full_name") or "—",
            "birth": autofill.shown_date(reading),
            "gender": Msg(f"gender.{gender}") if gender else "—",
        }
        if reading["kind"] == "bhyt":
            params["bhxh_code"] = reading["bhxh_code"]
            params["issuer"] = reading.get("issuer") or "—"
        else:
            params["id_number"] = mask_number(reading["id_number"])
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
            answers["id_number"] = reading["id_number"]
            answers["id_type"] = "cccd"
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

    # ------------------------------------------------------------------ e-mail choice
    def _ask_email_choice(self, conv: Conversation, now: datetime) -> list[Reply]:
        return [
            self._question(
                conv,
                "email_choice",
                buttons=(
                    (
                        Button("email_choice:yes", label_key="btn.yes_email"),
                        Button("email_choice:no", label_key="btn.no_email"),
                    ),
                ),
            )
        ]

    def _on_email_choice(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind == "text":
            # Typing the address straight away is the obvious shortcut: take it.
            result = validators.email(event.text)
            if isinstance(result, validators.Valid):
                conv.answers["wants_email"] = True
                conv.answers["email"] = result.value
                fire(conv, "advance")  # to the e-mail step, which is answered already
                return self._advance(conv, now)
            return self._reject(conv, "expected_choice", {"got": Msg("kind.text")})
        if event.kind != "choice" or not event.choice.startswith("email_choice:"):
            return self._wrong_kind(conv, event, "choice")
        wants = event.choice.endswith(":yes")
        conv.answers["wants_email"] = wants
        if not wants:
            conv.answers.pop("email", None)
        ack = Reply("note.email_yes" if wants else "note.email_no", edit=True)
        return [ack, *self._advance(conv, now)]

    # ------------------------------------------------------------------ address
    def _listing_page(
        self,
        conv: Conversation,
        step: str,
        items: Sequence[tuple[str, str]],
        page: int,
        per_row: int,
    ) -> tuple[tuple[Button, ...], ...]:
        pages = max(1, -(-len(items) // PAGE_SIZE))
        page = min(max(page, 0), pages - 1)
        shown = items[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        rows = list(
            _rows([Button(f"{step}:pick:{code}", label=label) for code, label in shown], per_row)
        )
        nav = []
        if page > 0:
            nav.append(Button(f"{step}:page:{page - 1}", label_key="btn.prev"))
        if page < pages - 1:
            nav.append(
                Button(
                    f"{step}:page:{page + 1}",
                    label_key="btn.next",
                    params={"page": page + 2, "pages": pages},
                )
            )
        if nav:
            rows.append(tuple(nav))
        return tuple(rows)

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
        province = self.places.province(conv.answers["province_code"])
        buttons = self._listing_page(conv, "commune", self._commune_items(conv), 0, 2)
        return [
            self._question(
                conv,
                "commune",
                buttons=buttons,
                params={"province": province.name if province else ""},
            )
        ]

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
            if action == "page" and arg.isdigit():
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
        replies = self._reject(conv, f"{step}_not_found", {"text": event.text[:60]})
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
        choices = [
            Button(f"{step}:whole:{c.code}", label=f"✅ {self._commune_line(c.code)}")
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
                buttons=(*_rows(choices, 1), (Button(f"{step}:whole:no", label_key="btn.retype"),)),
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
        conv.answers["province_code"] = commune.province_code
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

    def _ask_with(
        self, conv: Conversation, step: str, buttons: tuple[tuple[Button, ...], ...]
    ) -> Reply:
        params: dict[str, ParamValue] = {}
        if step == "commune":
            province = self.places.province(conv.answers.get("province_code", ""))
            params["province"] = province.name if province else ""
        return self._question(conv, step, buttons=buttons, params=params)

    def _pick_place(
        self, conv: Conversation, step: str, code: str, now: datetime, *, edit: bool
    ) -> list[Reply]:
        if step == "province":
            province = self.places.province(code)
            if province is None:
                return self._stale(conv, now)
            if conv.answers.get("province_code") != code:
                conv.answers.pop("commune_code", None)
            conv.answers["province_code"] = code
            chosen = province.name
        else:
            commune = self.places.commune(code)
            if commune is None or commune.province_code != conv.answers.get("province_code"):
                return self._stale(conv, now)
            conv.answers["commune_code"] = code
            chosen = commune.name
        return [Reply("note.chosen", {"choice": chosen}, edit=edit), *self._advance(conv, now)]

    # ------------------------------------------------------------------ photos
    def _on_photo_step(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind not in ("photo", "document"):
            return self._wrong_kind(conv, event, "photo")
        if event.photo_problem:
            return self._reject(conv, f"photo_{event.photo_problem}", dict(event.problem_detail))
        if not event.photo_id:
            return self._reject(conv, "photo_not_image")
        conv.answers[conv.state] = event.photo_id
        return [Reply(f"note.photo_saved.{conv.state}"), *self._advance(conv, now)]

    _on_portrait = _on_photo_step
    _on_id_front = _on_photo_step
    _on_id_back = _on_photo_step

    def _ask_id_front(self, conv: Conversation, now: datetime) -> list[Reply]:
        key = "ask.passport_page" if conv.has_passport() else "ask.id_front"
        return [self._question(conv, "id_front", key=key)]

    # ------------------------------------------------------------------ agency
    def _agency(self, conv: Conversation) -> AgencyLike | None:
        code = conv.answers.get("agency_code")
        return self.agencies.by_code(code) if code else None

    def _agency_items(self, agencies: Sequence[AgencyLike]) -> list[tuple[str, str]]:
        return [(a.code, f"[{a.code}] {a.name}") for a in agencies]

    def _ask_agency(self, conv: Conversation, now: datetime) -> list[Reply]:
        suggested = self.agencies.suggest(
            conv.answers.get("province_code"),
            conv.answers.get("commune_code"),
            issuer_text=conv.answers.get("bhyt_issuer"),
        )
        conv.listing = {"codes": [a.code for a in suggested]}
        buttons = list(self._listing_page(conv, "agency", self._agency_items(suggested), 0, 1))
        buttons.append((Button("agency:all", label_key="btn.agency_all"),))
        return [self._question(conv, "agency", buttons=tuple(buttons))]

    def _listed_agencies(self, conv: Conversation) -> list[AgencyLike]:
        found = (self.agencies.by_code(c) for c in conv.listing.get("codes", []))
        return [a for a in found if a is not None]

    def _on_agency(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind == "text":
            found = self.agencies.search(event.text)
            if not found:
                return self._reject(conv, "agency_not_found", {"text": event.text[:60]})
            conv.listing = {"codes": [a.code for a in found]}
            buttons = self._listing_page(conv, "agency", self._agency_items(found), 0, 1)
            return [Reply("choose.agency_several", {"text": event.text[:60]}, buttons=buttons)]
        if event.kind != "choice" or not event.choice.startswith("agency:"):
            return self._wrong_kind(conv, event, "text_or_choice")
        action, _, arg = event.choice.removeprefix("agency:").partition(":")
        if action == "all":
            agencies = list(self.agencies.for_province(conv.answers.get("province_code", "")))
            conv.listing = {"codes": [a.code for a in agencies]}
            buttons = self._listing_page(conv, "agency", self._agency_items(agencies), 0, 1)
            return [Reply("choose.agency_all", buttons=buttons, edit=True)]
        if action == "page" and arg.isdigit():
            agencies = self._listed_agencies(conv)
            buttons = self._listing_page(conv, "agency", self._agency_items(agencies), int(arg), 1)
            return [Reply("choose.agency_all", buttons=buttons, edit=True)]
        agency = self.agencies.by_code(arg) if action == "pick" else None
        if agency is None:
            return self._stale(conv, now)
        conv.answers["agency_code"] = agency.code
        shown = Reply(
            "note.agency_chosen",
            {
                "code": agency.code,
                "name": agency.name,
                "phone": agency.phone or "—",
                "address": agency.address or "—",
            },
            edit=True,
        )
        return [shown, *self._advance(conv, now)]

    # ------------------------------------------------------------------ review
    def _summary(self, conv: Conversation) -> dict[str, ParamValue]:
        a = conv.answers
        province = self.places.province(a.get("province_code", ""))
        commune = self.places.commune(a.get("commune_code", ""))
        address = ", ".join(
            part
            for part in (a.get("street"), commune and commune.name, province and province.name)
            if part
        )
        shown_address: ParamValue = address
        if address and a.get("address_formerly"):
            shown_address = Msg(
                "review.address_formerly", {"address": address, "old": a["address_formerly"]}
            )
        agency = self._agency(conv)
        received: ParamValue = Msg("review.photo_received")
        missing: ParamValue = Msg("review.missing")
        return {
            "bhxh_code": mask_number(a["bhxh_code"], 2, 3) if a.get("bhxh_code") else missing,
            "full_name": a.get("full_name") or missing,
            "id_number": mask_number(a["id_number"]) if a.get("id_number") else missing,
            "id_type": Msg(f"id_type.{a.get('id_type', 'cccd')}"),
            "address": shown_address or missing,
            "phone": validators.phone_display(a["phone"]) if a.get("phone") else missing,
            "email": a.get("email") or Msg("review.no_email"),
            "portrait": received if a.get("portrait") else missing,
            "id_front": received if a.get("id_front") else missing,
            "id_back": received
            if a.get("id_back")
            else (Msg("review.not_needed") if conv.has_passport() else missing),
            "agency": f"[{agency.code}] {agency.name}" if agency else missing,
        }

    def _ask_review(self, conv: Conversation, now: datetime) -> list[Reply]:
        edits = [
            Button(f"review:edit:{name}", label_key=f"btn.edit.{name}")
            for name in EDITABLE
            if not (name == "id_back" and conv.has_passport())
        ]
        buttons = (
            *_rows(edits, 2),
            (Button("review:confirm", label_key="btn.confirm_send_code"),),
        )
        return [Reply("review.summary", self._summary(conv), buttons=buttons)]

    def _on_review(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind != "choice" or not event.choice.startswith("review:"):
            return [Reply("review.use_buttons"), *self._ask_review(conv, now)]
        action, _, arg = event.choice.removeprefix("review:").partition(":")
        if action == "edit" and arg in EDITABLE:
            conv.listing = {}
            fire(conv, f"edit_{arg}")
            return [
                Reply("note.editing", {"field": Msg(f"field.{arg}")}, edit=True),
                *self.prompt(conv, now),
            ]
        if action == "confirm":
            missing = conv.missing_fields()
            if missing:
                return [
                    Reply("review.incomplete"),
                    *(Reply("status.missing_item", {"field": Msg(f"field.{n}")}) for n in missing),
                    *self._ask_review(conv, now),
                ]
            fire(conv, "confirm")
            if conv.answers.get("email") and conv.otp is None:
                return [Reply("review.confirmed", edit=True), *self._choose_channel(conv)]
            return [Reply("review.confirmed", edit=True), *self._send_code(conv, now)]
        return self._stale(conv, now)

    # ------------------------------------------------------------------ one-time code
    def _code_destination(self, conv: Conversation) -> tuple[Literal["email", "sms"], str, str]:
        email = conv.answers.get("email")
        if email and conv.answers.get("otp_channel", "email") == "email":
            return "email", email, mask_email(email)
        phone = conv.answers["phone"]
        return "sms", phone, mask_phone(phone)

    def _otp_buttons(self, conv: Conversation) -> tuple[tuple[Button, ...], ...]:
        rows: list[tuple[Button, ...]] = [(Button("otp:resend", label_key="btn.resend"),)]
        if conv.answers.get("email"):
            channel, _, _ = self._code_destination(conv)
            other = "sms" if channel == "email" else "email"
            rows.append((Button(f"otp:via:{other}", label_key=f"btn.via_{other}"),))
        rows.append((Button("otp:change", label_key="btn.change_destination"),))
        return tuple(rows)

    def _choose_channel(self, conv: Conversation) -> list[Reply]:
        """Both an e-mail and a phone: the user picks where the code goes."""
        buttons = (
            (
                Button(
                    "otp:via:email",
                    label_key="btn.code_by_email",
                    params={"to": mask_email(conv.answers["email"])},
                ),
            ),
            (
                Button(
                    "otp:via:sms",
                    label_key="btn.code_by_sms",
                    params={"to": mask_phone(conv.answers["phone"])},
                ),
            ),
        )
        return [Reply("otp.choose_channel", buttons=buttons)]

    def _send_code(self, conv: Conversation, now: datetime) -> list[Reply]:
        wait = otp.resend_wait(conv.otp, now)
        if wait > timedelta(0):
            seconds = int(wait.total_seconds()) + 1
            return [
                Reply(
                    "otp.wait",
                    {
                        "seconds": seconds,
                        "time": (now + wait).astimezone(VIETNAM).strftime("%H:%M"),
                    },
                    buttons=self._otp_buttons(conv),
                )
            ]
        channel, to, shown = self._code_destination(conv)
        code, conv.otp = otp.issue(conv.otp, self.otp_secret, now)
        conv.effects.append(SendCode(channel, to, code))
        minutes = int(otp.CODE_LIFETIME.total_seconds() // 60)
        return [
            Reply(
                f"otp.sent_{channel}",
                {"to": shown, "minutes": minutes},
                buttons=self._otp_buttons(conv),
            )
        ]

    def _ask_otp(self, conv: Conversation, now: datetime) -> list[Reply]:
        if conv.otp is None and conv.answers.get("email"):
            return self._choose_channel(conv)
        _, _, shown = self._code_destination(conv)
        return [Reply("ask.otp", {"to": shown}, buttons=self._otp_buttons(conv))]

    def _on_otp(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        if event.kind == "choice":
            if event.choice == "otp:resend":
                return self._send_code(conv, now)
            if event.choice in ("otp:via:email", "otp:via:sms"):
                conv.answers["otp_channel"] = event.choice.rpartition(":")[2]
                return self._send_code(conv, now)
            if event.choice == "otp:change":
                fire(conv, "change_destination")
                return [Reply("otp.change_hint"), *self.prompt(conv, now)]
            return self._stale(conv, now)
        if event.kind != "text":
            return self._wrong_kind(conv, event, "text")
        typed = validators.otp_code(event.text)
        if isinstance(typed, validators.Invalid):
            return self._reject(conv, typed.code)
        verdict, conv.otp = otp.verify(conv.otp, self.otp_secret, typed.value, now)
        if verdict.outcome == "ok":
            conv.attempts.pop("otp", None)
            fire(conv, "verified")
            conv.effects.append(Submit())
            return [Reply("otp.accepted")]
        if verdict.outcome == "wrong":
            return [Reply("otp.wrong", {"left": verdict.tries_left})]
        if verdict.outcome == "locked" and verdict.locked_until is not None:
            until = verdict.locked_until.astimezone(VIETNAM).strftime("%H:%M")
            return [
                Reply("otp.locked", {"time": until}, buttons=self._otp_buttons(conv)),
                self._help_offer(conv),
            ]
        if verdict.outcome == "none" and conv.answers.get("email"):
            return [Reply("otp.choose_first"), *self._choose_channel(conv)]
        return [Reply("otp.expired", buttons=self._otp_buttons(conv))]

    # ------------------------------------------------------------------ after the code
    def _on_submitting(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        conv.effects.append(Submit())
        return []

    def _receipt(self, conv: Conversation, *, fresh: bool) -> list[Reply]:
        agency = self._agency(conv)
        params: dict[str, ParamValue] = {
            "receipt": conv.receipt or "",
            "bhxh_code": conv.answers.get("bhxh_code", ""),
            "agency": agency.name if agency else "",
            "agency_address": (agency.address if agency else "") or "—",
            "agency_phone": (agency.phone if agency else "") or "—",
            "hotline": HOTLINE,
        }
        buttons = () if fresh else ((Button("g:new", label_key="btn.new_declaration"),),)
        return [
            Reply("done.receipt" if fresh else "done.already", params, buttons=buttons),
            *([Reply("done.next_steps", params)] if fresh else []),
        ]

    def _on_done(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        return self._receipt(conv, fresh=False)

    def _on_cancelled(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        return [Reply("cancel.done")]

    def _ask_cancelled(self, conv: Conversation, now: datetime) -> list[Reply]:
        return [Reply("cancel.done")]

    def _ask_done(self, conv: Conversation, now: datetime) -> list[Reply]:
        return self._receipt(conv, fresh=False)

    def _ask_submitting(self, conv: Conversation, now: datetime) -> list[Reply]:
        return [Reply("hint.submitting")]


def _names_match(place: ProvinceLike | CommuneLike, typed: str) -> bool:
    """The best match is exactly what was typed (with or without its kind word)."""
    key = fold(typed)
    return key in (fold(place.name), fold(place.short_name))


def replace_edit(reply: Reply) -> Reply:
    """The same reply, shown by editing the message whose button was pressed."""
    return Reply(reply.key, reply.params, buttons=reply.buttons, edit=True, keyboard=reply.keyboard)
