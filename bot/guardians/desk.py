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
from bot.guardians.proof import GuardianProofFlow, new_proof, proved_guardian
from storage.declarations import DeclarationStore, StoredDeclaration
from storage.guardians import GuardianRecords

#: Commands about the guardian and all their children, never one child's draft.
GUARDIAN_COMMANDS = frozenset({"status", "deletemydata"})
#: The answers to «a guardian needs VssID first»: go on and prove the e-mail, or register
#: oneself first (the adult's registration, as /register).
HAS_VSSID = "child:vssid:yes"
REGISTER_FIRST = "child:vssid:no"


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
    def __init__(
        self,
        flow: ChildFlow,
        declarations: DeclarationStore,
        proof: GuardianProofFlow,
        records: GuardianRecords,
        kept_days: int,
    ) -> None:
        self.flow = flow
        self.declarations = declarations
        self.proof = proof
        self.records = records
        self.kept_days = kept_days  # how long a proved guardian is kept unused (retention)

    async def recognised(self, guardian_key: str, now: datetime) -> Guardian | None:
        """The guardian by their own declaration through the bot, or by the e-mail they
        proved (whose record is then used, so its retention counts from ``now``)."""
        guardian = guardian_from(await self.declarations.for_user(guardian_key))
        if guardian is not None:
            return guardian
        record = await self.records.get(guardian_key)
        if record is None:
            return None
        await self.records.touch(guardian_key, now)
        return proved_guardian(record)

    async def begin(
        self, guardian_conv: Conversation, event: Event, now: datetime
    ) -> tuple[list[Reply], Conversation | None]:
        """/child and its consent; returns the replies and, once the guardian consents,
        the child's new draft, or the draft proving a new guardian's e-mail (either to be
        stored by the service and made the active one)."""
        guardian = await self.recognised(guardian_conv.user_key, now)
        if guardian is None:
            return self._unknown(guardian_conv, event, now)
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

    def _unknown(
        self, guardian_conv: Conversation, event: Event, now: datetime
    ) -> tuple[list[Reply], Conversation | None]:
        """A guardian neither registered through the bot nor proved: the seeds require
        them to have VssID; with it, they prove their e-mail (a draft of its own)."""
        if event.kind == "choice" and event.choice == HAS_VSSID:
            proof = new_proof(guardian_conv.user_key, guardian_conv.locale, now)
            return [Reply("guardian.intro", edit=True), *self.proof.prompt(proof, now)], proof
        buttons = (
            (Button(HAS_VSSID, label_key="btn.has_vssid", answer="yes"),),
            (Button(REGISTER_FIRST, label_key="btn.register_first", answer="no"),),
        )
        return [Reply("child.needs_vssid", {"days": self.kept_days}, buttons=buttons)], None

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
