"""The registration as a state machine declared as data.

One ``transitions.Machine`` is shared by every conversation: a conversation is attached
for the length of one event and detached after (``attached``), so memory does not grow
with the number of users (PERF.md §3). Conditions are named methods of ``Conversation``;
callbacks are synchronous and do no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from transitions import Machine

from bot.flows.conversation import Conversation

#: The questions in the order a first-time user meets them.
QUESTION_STATES = (
    "bhxh_code",
    "full_name",
    "id_number",
    "province",
    "commune",
    "street",
    "phone",
    "email_choice",
    "email",
    "portrait",
    "id_front",
    "id_back",
    "agency",
)

#: Questions about an answer that is well-formed but doubtful, each asked right after the
#: question it doubts, before the answer is taken: a name typed without diacritics, a
#: passport number (not a CCCD), a provider's domain mistyped, an ID photo whose QR carries
#: another number than the one typed.
CONFIRMATION_STATES = ("name_confirm", "passport_confirm", "email_confirm", "id_conflict")

#: The states every declaration ends with.
CLOSING_STATES: list[str | dict[str, Any]] = [
    {"name": "review", "on_enter": "leave_editing"},
    "otp",
    "submitting",
    "done",
    "cancelled",
]


STATES: list[str | dict[str, Any]] = [
    "consent",
    *QUESTION_STATES[:-1],
    *CONFIRMATION_STATES,
    "agency",
    *CLOSING_STATES,
]


def then(source: str, dest: str, *, unless_editing: bool = True) -> list[dict[str, Any]]:
    """``advance`` from ``source`` to ``dest``, or back to the review when editing."""
    back = [{"trigger": "advance", "source": source, "dest": "review", "conditions": "is_editing"}]
    return [
        *(back if unless_editing else []),
        {"trigger": "advance", "source": source, "dest": dest},
    ]


def doubted(question: str, confirmation: str) -> list[dict[str, Any]]:
    """``doubt`` asks ``confirmation`` about the answer just given to ``question``;
    ``retype`` goes back to the question, nothing else lost."""
    return [
        {"trigger": "doubt", "source": question, "dest": confirmation},
        {"trigger": "retype", "source": confirmation, "dest": question},
    ]


def _after_id(source: str) -> list[dict[str, Any]]:
    """After the ID number. Back at the review, a change between passport and CCCD has
    dropped the ID photos that no longer fit: they are asked for before the review."""
    return [
        {
            "trigger": "advance",
            "source": source,
            "dest": "id_front",
            "conditions": ["is_editing", "needs_id_front"],
        },
        {
            "trigger": "advance",
            "source": source,
            "dest": "id_back",
            "conditions": ["is_editing", "needs_id_back"],
        },
        *then(source, "province"),
    ]


def _street_then(source: str | list[str], trigger: str = "advance") -> list[dict[str, Any]]:
    """Back to the review once the address is whole, by way of the agency question when a
    new province dropped the agency of the old one."""
    editing = ["is_editing", "has_street"] if trigger == "address_found" else ["is_editing"]
    return [
        {
            "trigger": trigger,
            "source": source,
            "dest": "agency",
            "conditions": [*editing, "needs_agency"],
        },
        {"trigger": trigger, "source": source, "dest": "review", "conditions": editing},
    ]


#: Which field each review button edits, and where that edit starts.
EDITABLE: dict[str, str] = {
    "bhxh_code": "bhxh_code",
    "full_name": "full_name",
    "id_number": "id_number",
    "address": "province",
    "phone": "phone",
    "email": "email_choice",
    "portrait": "portrait",
    "id_front": "id_front",
    "id_back": "id_back",
    "agency": "agency",
}

def closing(editable: dict[str, str]) -> list[dict[str, Any]]:
    """From the agency to the receipt: the review with its edits, the code, the
    submission, and a cancel from anywhere. The same for every declaration (an adult's,
    a child's: ``bot.guardians.machine``)."""
    return [
        {"trigger": "advance", "source": "agency", "dest": "review"},
        *(
            {"trigger": f"edit_{name}", "source": "review", "dest": dest, "before": "enter_editing"}
            for name, dest in editable.items()
        ),
        {"trigger": "confirm", "source": "review", "dest": "otp"},
        {"trigger": "change_destination", "source": "otp", "dest": "review"},
        {"trigger": "verified", "source": "otp", "dest": "submitting"},
        # The BHXH code already has a declaration waiting for the agency: not stored twice.
        {"trigger": "held_back", "source": ["otp", "submitting"], "dest": "review"},
        {"trigger": "submitted", "source": "submitting", "dest": "done"},
        {"trigger": "cancel", "source": "*", "dest": "cancelled"},
    ]


TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "agree", "source": "consent", "dest": "bhxh_code"},
    *then("bhxh_code", "full_name"),
    *then("full_name", "id_number"),
    *doubted("full_name", "name_confirm"),
    *then("name_confirm", "id_number"),
    *_after_id("id_number"),
    *doubted("id_number", "passport_confirm"),
    *_after_id("passport_confirm"),
    # A new province always needs its commune, and a new commune its street.
    *then("province", "commune", unless_editing=False),
    *then("commune", "street", unless_editing=False),
    # A whole address typed (or read from a card) answers commune and maybe street at once.
    *_street_then(["province", "commune"], "address_found"),
    {
        "trigger": "address_found",
        "source": ["province", "commune"],
        "dest": "phone",
        "conditions": "has_street",
    },
    {"trigger": "address_found", "source": ["province", "commune"], "dest": "street"},
    *_street_then("street"),
    {"trigger": "advance", "source": "street", "dest": "phone"},
    *then("phone", "email_choice"),
    {"trigger": "advance", "source": "email_choice", "dest": "email", "conditions": "wants_email"},
    *then("email_choice", "portrait"),
    *then("email", "portrait"),
    *doubted("email", "email_confirm"),
    *then("email_confirm", "portrait"),
    *then("portrait", "id_front"),
    # A passport has no back side: its photo page is the only ID picture.
    {"trigger": "advance", "source": "id_front", "dest": "id_back", "conditions": "needs_id_back"},
    {"trigger": "advance", "source": "id_front", "dest": "review", "conditions": "is_editing"},
    {"trigger": "advance", "source": "id_front", "dest": "agency", "conditions": "has_passport"},
    {"trigger": "advance", "source": "id_front", "dest": "id_back"},
    *then("id_back", "agency"),
    # The QR on an ID photo says another number than the one typed: which is right?
    {"trigger": "doubt", "source": ["id_front", "id_back"], "dest": "id_conflict"},
    {
        "trigger": "retype",
        "source": "id_conflict",
        "dest": "id_front",
        "conditions": "doubts_the_front",
    },
    {"trigger": "retype", "source": "id_conflict", "dest": "id_back"},
    *closing(EDITABLE),
    {"trigger": "restart", "source": ["done", "cancelled"], "dest": "bhxh_code"},
    # A rejected declaration corrected in the chat: its photos went with the decision.
    {"trigger": "fix", "source": "done", "dest": "portrait"},
]


class _Cursor:
    """The one model ever attached to a machine; it stands for the conversation of the
    event being handled.

    Attaching a model (``add_model``) binds every trigger and state check to it, which was
    half the cost of a step (about 230 µs, measured with cProfile); the flow is synchronous,
    so one conversation at a time is enough, and pointing this cursor at it costs nothing.
    Condition and callback names (``is_editing``, ``enter_editing``, …) resolve on the
    conversation.
    """

    def __init__(self, initial: str) -> None:
        self.state = initial
        self.conversation: Conversation | None = None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or self.conversation is None:
            raise AttributeError(name)
        return getattr(self.conversation, name)


class FlowMachine:
    """One declaration's machine (states and transitions as data) and its cursor."""

    def __init__(
        self, states: list[str | dict[str, Any]], transitions: list[dict[str, Any]], initial: str
    ) -> None:
        # Kept as declared, for drawing the machine (``scripts/draw_machine.py``).
        self.states, self.transitions, self.initial = states, transitions, initial
        self.cursor = _Cursor(initial)
        self.machine = Machine(
            model=self.cursor,
            states=states,
            transitions=transitions,
            initial=initial,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        # The triggers each state has transitions for. ``may_trigger`` would find them by
        # scanning every event of the machine and then evaluate the guards that
        # ``trigger`` evaluates again: ~60 µs per step for nothing.
        self.triggers_from: dict[str, frozenset[str]] = {
            name: frozenset(self.machine.get_triggers(name)) for name in self.machine.states
        }


#: The adult's declaration.
ADULT = FlowMachine(STATES, TRANSITIONS, "consent")
MACHINE = ADULT.machine

#: Each kind of declaration's machine, by ``Conversation.kind``; other packages add theirs
#: (``bot.guardians.machine`` adds the child's).
MACHINES: dict[str, FlowMachine] = {"adult": ADULT}


def _machine_of(conversation: Conversation) -> FlowMachine:
    return MACHINES[conversation.kind]


@contextmanager
def attached(conversation: Conversation) -> Iterator[Conversation]:
    """Point the conversation's machine at it for one event."""
    cursor = _machine_of(conversation).cursor
    if cursor.conversation is not None:
        raise RuntimeError("the machine is already working on another conversation")
    cursor.conversation = conversation
    try:
        yield conversation
    finally:
        cursor.conversation = None


def fire(conversation: Conversation, trigger: str) -> bool:
    """Run ``trigger`` on the attached conversation; ``False`` when it does not apply."""
    flow_machine = _machine_of(conversation)
    cursor = flow_machine.cursor
    if cursor.conversation is not conversation:
        raise RuntimeError("fire() outside attached()")
    if trigger not in flow_machine.triggers_from[conversation.state]:
        return False
    cursor.state = conversation.state
    moved = bool(cursor.trigger(trigger))  # False when a guard says no
    conversation.state = cursor.state
    return moved
