"""What every step of the registration shares: asking, rejecting with growing help,
moving on, paging a list, and the hooks one group of steps offers another.

Each group of steps is a small mixin in this package (consent, answers, cards, address,
photos, agency, review, code, finish); ``bot.flows.registration.RegistrationFlow``
combines them and dispatches an event to ``_on_<state>`` and a question to ``_ask_<state>``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.flows.agencies import public_contact
from bot.flows.conversation import Conversation
from bot.flows.events import Button, Event, Msg, ParamValue, Reply
from bot.flows.machine import fire
from bot.flows.ports import Agencies, AgencyLike, Places
from bot.flows.validators import phone_display

HOTLINE = "1900 9068"
MAX_MESSAGE = 1000
PAGE_SIZE = 8
HELP_AFTER_FAILURES = 3
PHOTO_HELP_AFTER = 2
#: Every citizen's command, one a line: in /help and in the answer to an unknown command.
COMMANDS = Msg("help.commands")

#: Step number shown to the user ("bước 3/10"); the address is one step of three questions.
PROGRESS = {
    "bhxh_code": 1,
    "full_name": 2,
    "name_confirm": 2,
    "id_number": 3,
    "passport_confirm": 3,
    "province": 4,
    "commune": 4,
    "street": 4,
    "phone": 5,
    "email_choice": 6,
    "email": 6,
    "email_confirm": 6,
    "portrait": 7,
    "id_front": 8,
    "id_back": 9,
    "id_conflict": 8,
    "agency": 10,
}
TOTAL_STEPS = 10


def button_rows(buttons: Sequence[Button], per_row: int) -> tuple[tuple[Button, ...], ...]:
    return tuple(tuple(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row))


def one_row(key: str, *buttons: Button) -> Reply:
    """A question answered by a single row of buttons (yes/no, a language)."""
    return Reply(key, buttons=(tuple(buttons),))


def replace_edit(reply: Reply) -> Reply:
    """The same reply, shown by editing the message whose button was pressed."""
    return Reply(reply.key, reply.params, buttons=reply.buttons, edit=True, keyboard=reply.keyboard)


#: A button's label as the user reads it: (language, button) → text (``Translator.label``).
LabelFor = Callable[[str, Button], str]


def _raw_label(_lang: str, button: Button) -> str:
    return button.label


class FlowBase:
    """State shared by the step mixins and the helpers they all use."""

    #: The step number of each question, and how many steps there are ("bước 3/10"); a
    #: child's declaration has its own (``bot.guardians.flow``).
    progress: dict[str, int] = PROGRESS
    total_steps: int = TOTAL_STEPS
    #: Where a step's question is in the catalogue (``ask.<state>``).
    question_prefix = "ask."

    def __init__(
        self,
        places: Places,
        agencies: Agencies,
        otp_secret: bytes,
        labels: LabelFor = _raw_label,
    ) -> None:
        self.places = places
        self.agencies = agencies
        self.otp_secret = otp_secret
        # To recognise a button's words typed instead of pressed; without a translator
        # only labels that are data (a province, "English") are recognised.
        self.labels = labels
        #: A staff chat is configured (``bot.helpdesk``): help also offers a person.
        self.staff_desk = False

    def prompt(self, conv: Conversation, now: datetime) -> list[Reply]:
        """The question of the current step, as it is asked the first time."""
        asker = getattr(self, f"_ask_{conv.state}", None)
        if asker is not None:
            replies: list[Reply] = asker(conv, now)
            return replies
        return [self._question(conv, conv.state)]

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
            "step": self.progress.get(state, self.total_steps),
            "total": self.total_steps,
        }
        values.update(params or {})
        key = key or f"{self.question_prefix}{state}"
        return Reply(key, values, buttons=buttons, keyboard=keyboard, edit=edit)

    def _reject(
        self, conv: Conversation, code: str, params: dict[str, ParamValue] | None = None
    ) -> list[Reply]:
        """Say what was wrong; the wording grows more helpful with each failure at a step."""
        count = conv.attempts.get(conv.state, 0) + 1
        conv.attempts[conv.state] = count
        replies = [Reply(f"err.{code}", dict(params or {}))]
        if count >= 2:
            hint_params = getattr(self, f"_hint_{conv.state}", None)  # a hint's examples
            replies.append(Reply(f"hint.{conv.state}", hint_params(conv) if hint_params else {}))
        # A refused photo is the likeliest place to be stuck (a camera one cannot fix by
        # typing again): a person is offered after two, not three.
        enough = PHOTO_HELP_AFTER if code.startswith("photo_") else HELP_AFTER_FAILURES
        if count >= enough:
            replies.append(self._help_offer(conv))
        return replies

    def _help_offer(self, conv: Conversation) -> Reply:
        return Reply("help.offer", {"hotline": HOTLINE}, buttons=self._help_buttons("g:help"))

    def _help_buttons(self, *shown: str) -> tuple[tuple[Button, ...], ...]:
        """«I need help» where asked for, and «talk to a person» when staff answer in chat."""
        labels = {"g:help": "btn.help", "g:human": "btn.human"}
        wanted = [*shown, "g:human"] if self.staff_desk else list(shown)
        return tuple((Button(data, label_key=labels[data]),) for data in wanted)

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

    def _stale(self, conv: Conversation, now: datetime) -> list[Reply]:
        return [Reply("err.stale_button"), *self.prompt(conv, now)]

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
            button_rows(
                [Button(f"{step}:pick:{code}", label=label) for code, label in shown], per_row
            )
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

    def _area(self, conv: Conversation) -> Msg:
        """«thành phố» for a city under the central government (Hải Phòng), else «tỉnh»."""
        province = self.places.province(conv.answers.get("province_code") or "")
        city = province is not None and province.kind == "thành phố"
        return Msg("area.city" if city else "area.province")

    def _agency(self, conv: Conversation) -> AgencyLike | None:
        code = conv.answers.get("agency_code")
        return self.agencies.by_code(code) if code else None

    def _agency_contact(self, agency: AgencyLike) -> Msg:
        """The office's address and phone, or, where they are not facts, the hotline to ask
        (``bot.flows.agencies.public_contact``)."""
        if not agency.confirmed:
            return Msg("agency.unconfirmed", {"hotline": HOTLINE})
        address, phone = public_contact(agency)
        ask = Msg("agency.ask_hotline", {"hotline": HOTLINE})
        return Msg(
            "agency.contact",
            {"address": address or ask, "phone": phone_display(phone) if phone else ask},
        )

    def _help(self, conv: Conversation) -> Reply:
        agency = self._agency(conv)
        phone = public_contact(agency)[1] if agency is not None else ""
        if agency is not None and phone:
            return Reply(
                "help.text_agency",
                {
                    "hotline": HOTLINE,
                    "agency": agency.name,
                    "phone": phone_display(phone),
                    "commands": COMMANDS,
                },
                buttons=self._help_buttons(),
            )
        return Reply(
            "help.text", {"hotline": HOTLINE, "commands": COMMANDS}, buttons=self._help_buttons()
        )

    # ------------------------------------------------------------------ hooks
    # Implemented by one group of steps and used by another.
    def _choose_channel(self, conv: Conversation) -> list[Reply]:
        raise NotImplementedError

    def _on_card(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        raise NotImplementedError

    def _send_code(self, conv: Conversation, event: Event, now: datetime) -> list[Reply]:
        raise NotImplementedError
