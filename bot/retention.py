"""What is kept about a citizen, for how long, and what an erasure removes (README,
"Retention and deletion").

- At submission the draft's answers leave the conversation (``Conversation.forget_answers``)
  and what the declaration does not use goes: photos replaced during the review, and the
  messages and code records of addresses the citizen changed before submitting.
- ``RETENTION_DAYS`` after the agency's decision or the declaration's expiry, the sweep
  deletes its personal fields, PDF, photos, the messages sent to its addresses and its
  notices; receipt, agency, dates and outcome stay for ``/status``.
- A guardian who proved their e-mail (``storage.guardians``) is kept ``RETENTION_DAYS``
  after it was proved or last used for a child's declaration, then deleted.
- ``/cancel``, the expiry of a draft and ``/deletemydata`` erase everything keyed by the
  user (``forget_user``), except what a declaration the agency still holds rests on.

Everything here is decided from the database, so a restart loses no deletion.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from bot.flows.conversation import CONTACT_FIELDS, PHOTO_FIELDS, Conversation
from bot.guardians.flow import proof_key
from storage.conversations import ConversationStore
from storage.declarations import DeclarationStore, StoredDeclaration
from storage.guardians import GuardianRecords
from storage.helpdesk import HelpRequests
from storage.notices import UserNotices
from storage.otp_sends import OtpSends
from storage.outbox import DevOutbox
from storage.photos import PhotoStore

log = logging.getLogger(__name__)

DEFAULT_PERIOD = timedelta(days=30)


def contacts_of(data: dict[str, Any]) -> set[str]:
    """The phone and e-mail a declaration was made with (none once purged)."""
    return {str(data[f]) for f in CONTACT_FIELDS if data.get(f)}


def photos_of(declarations: Iterable[StoredDeclaration]) -> set[str]:
    return {str(d.data[f]) for d in declarations for f in PHOTO_FIELDS if d.data.get(f)}


class Retention:
    """Deletes what the rules say is no longer needed; the service calls it at submission,
    at erasure and from the sweep."""

    def __init__(
        self,
        conversations: ConversationStore,
        declarations: DeclarationStore,
        photos: PhotoStore,
        address_key: Callable[[str], str],
        period: timedelta = DEFAULT_PERIOD,
    ) -> None:
        db = conversations.db
        self.conversations = conversations
        self.declarations = declarations
        self.photos = photos
        self.address_key = address_key  # the service's: code records are kept under it
        self.period = period
        self.otp_sends = OtpSends(db)
        self.outbox = DevOutbox(db)
        self.notices = UserNotices(db)
        self.help_requests = HelpRequests(db)
        self.guardians = GuardianRecords(db)

    async def after_submit(self, conv: Conversation, data: dict[str, Any], now: datetime) -> None:
        """The declaration ``data`` is stored: delete the photos no declaration uses (those
        replaced at the review) and the traces of addresses it does not carry, which the
        conversation, about to forget them, could no longer find."""
        declarations = await self.declarations.for_user(conv.user_key)
        await self.photos.delete_for_user(conv.user_key, keep=photos_of(declarations))
        await self._forget_addresses(conv.contacts_given() - contacts_of(data), now)

    async def forget_user(self, conv: Conversation, now: datetime) -> list[StoredDeclaration]:
        """/cancel, draft expiry, /deletemydata: erase everything keyed by the user except
        what a submitted declaration rests on; returns the declarations kept."""
        kept = await self.declarations.for_user(conv.user_key)
        await self.photos.delete_for_user(conv.user_key, keep=photos_of(kept))
        contacts = conv.contacts_given().union(*(contacts_of(d.data) for d in kept))
        await self._forget_addresses(contacts, now)
        holding = any(d.data for d in kept)  # personal data the agency still holds
        await self.conversations.erase_traces(conv.user_key, keep_consents=holding)
        await self.notices.forget(conv.user_key, keep_pending=bool(kept))
        await self.help_requests.forget(conv.user_key)  # the audit keeps its reference only
        # Gone from the files too: the write-ahead log still holds the rows' earlier
        # versions until it is copied back and cut (``secure_delete`` overwrites the pages).
        await self.conversations.db.forget()
        return kept

    async def forget_proved_guardian(self, guardian_key: str, now: datetime) -> None:
        """/deletemydata of a guardian who proved their e-mail: their record, the draft of
        that proof if one is under way, and the traces of the addresses they proved."""
        record = await self.guardians.get(guardian_key)
        await self.guardians.forget(guardian_key)
        key = proof_key(guardian_key)
        proof = await self.conversations.load(key) or Conversation(user_key=key, kind="guardian")
        proof.contacts += [str(record[f]) for f in ("phone", "email") if record and record.get(f)]
        await self.forget_user(proof, now)

    async def sweep(self, now: datetime) -> list[StoredDeclaration]:
        """Purge the declarations whose period has ended; returns them as they were."""
        await self.otp_sends.prune(now)
        purged = []
        for declaration in await self.declarations.due_for_purge(now - self.period):
            await self.photos.delete(sorted(photos_of([declaration])))
            await self.outbox.forget(contacts_of(declaration.data))
            await self.notices.forget_about(declaration.receipt)
            dropped = await self.declarations.purge(declaration.receipt, now)
            if dropped:
                log.warning(
                    "declaration %s purged with %d undelivered outbox items",
                    declaration.receipt,
                    dropped,
                )
            purged.append(declaration)
        if purged:
            log.info("retention: personal data of %d declarations deleted", len(purged))
        # A guardian who proved their e-mail: kept while it serves their children.
        if forgotten := await self.guardians.purge_unused(now - self.period):
            log.info("retention: %d unused guardian records deleted", forgotten)
        return purged

    async def _forget_addresses(self, contacts: set[str], now: datetime) -> None:
        await self.outbox.forget(contacts)
        await self.otp_sends.forget([self.address_key(c) for c in contacts], now)
