"""What a guardian does outside a child's declaration: being recognised, consenting for a
child, and the listing and erasure that span all their children.

The service (``bot.service``) asks the desk which conversation an event of a guardian
answers: their own, or the child's draft they are filling in (``Conversation.active_child``).
Each child's draft is a conversation of its own, keyed by guardian and child
(``bot.guardians.flow.child_key``), so expiry, reminders, a restart and /cancel treat it as
they treat an adult's draft, without touching the guardian's or another child's.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from bot.flows.conversation import Conversation
from bot.flows.events import Button, Event, Msg, Reply
from bot.flows.machine import attached, fire
from bot.flows.steps.consent import CONSENT_VERSION
from bot.guardians.flow import ChildFlow, Guardian, new_child
from storage.declarations import DeclarationStore, StoredDeclaration

#: Commands about the guardian and all their children, never one child's draft.
GUARDIAN_COMMANDS = frozenset({"status", "deletemydata"})


def routes_to_child(guardian: Conversation, event: Event) -> bool:
    """This event of the guardian answers the child's draft they are filling in."""
    if not guardian.active_child:
        return False
    if event.kind == "command":
        return event.command not in GUARDIAN_COMMANDS
    return not (event.kind == "choice" and event.choice.startswith(("g:erase:", "child:consent:")))


def resumes_child(event: Event) -> bool:
    """/child or its button while a child's draft is open: that draft is taken up again."""
    return asks_for_child(event) and not event.choice.startswith("child:consent:")


def asks_for_child(event: Event) -> bool:
    """/child, or the answer to its consent question."""
    if event.kind == "command":
        return event.command == "child"
    return event.kind == "choice" and event.choice.startswith("child:")


def guardian_from(declarations: list[StoredDeclaration]) -> Guardian | None:
    """The guardian as their own latest declaration through the bot names them; ``None``
    without one, or when it gave no e-mail (the child's code goes to the guardian's e-mail)
    or its data were already deleted after its retention."""
    for declaration in reversed(declarations):
        data = declaration.data
        if data.get("kind", "adult") == "adult" and data.get("email") and data.get("bhxh_code"):
            return Guardian(
                bhxh_code=str(data["bhxh_code"]),
                full_name=str(data.get("full_name", "")),
                email=str(data["email"]),
                phone=str(data.get("phone", "")),
                province_code=str(data.get("province_code", "")),
                commune_code=str(data.get("commune_code", "")),
            )
    return None


def first_name(full_name: str) -> str:
    """The name a Vietnamese family calls a child by: the last word of the full name."""
    return full_name.rsplit(maxsplit=1)[-1] if full_name.split() else "—"


class GuardianDesk:
    def __init__(self, flow: ChildFlow, declarations: DeclarationStore) -> None:
        self.flow = flow
        self.declarations = declarations

    async def begin(
        self, guardian_conv: Conversation, event: Event, now: datetime
    ) -> tuple[list[Reply], Conversation | None]:
        """/child and its consent; returns the replies and, once the guardian consents,
        the child's new draft (to be stored by the service and made the active one)."""
        guardian = guardian_from(await self.declarations.for_user(guardian_conv.user_key))
        if guardian is None:
            return [Reply("child.guardian_unknown")], None
        if event.kind == "command" or event.choice == "child:start":
            buttons = (
                (
                    Button("child:consent:yes", label_key="btn.agree", answer="yes"),
                    Button("child:consent:no", label_key="btn.disagree", answer="no"),
                ),
            )
            return [Reply("child.consent", {"guardian": guardian.full_name}, buttons=buttons)], None
        if event.choice != "child:consent:yes":
            return [Reply("child.consent_declined", edit=True)], None
        child_id = uuid.uuid4().hex[:12]
        child = new_child(guardian_conv.user_key, child_id, guardian, guardian_conv.locale)
        with attached(child):
            child.consent = {"version": CONSENT_VERSION, "at": now.isoformat()}
            child.answers["draft_id"] = None
            fire(child, "agree")
            replies = [Reply("consent.thanks", edit=True), *self.flow.prompt(child, now)]
        return replies, child

    async def status(self, children: list[Conversation | str]) -> list[Reply]:
        """Each child's declaration by the child's first name and receipt, and each draft
        still being filled in."""
        replies: list[Reply] = []
        for child in children:
            if isinstance(child, Conversation):  # a draft
                name = first_name(str(child.answers.get("full_name", "")))
                replies.append(
                    Reply("status.child_draft", {"name": name, "step": Msg(f"step.{child.state}")})
                )
                continue
            for d in await self.declarations.for_user(child):
                replies.append(
                    Reply(
                        "status.child",
                        {
                            "name": first_name(str(d.data.get("full_name", ""))),
                            "receipt": d.receipt,
                            "status": Msg(
                                f"declaration_status.{d.status}",
                                {"reason": d.decision_reason or "—"},
                            ),
                        },
                    )
                )
        return replies
