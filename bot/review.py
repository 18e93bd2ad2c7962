"""The agency officers' decision on a submitted declaration, and the expiry of those left
undecided: either way the photos are deleted (they were needed only for the review) and
the citizen is told through a stored notice that the bot delivers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from bot.clock import Clock, utc_now
from bot.flows.conversation import PHOTO_FIELDS
from storage.declarations import DeclarationStore, StoredDeclaration
from storage.notices import UserNotices
from storage.photos import PhotoStore

#: As on the portal: a declaration not followed up within 10 days is dropped.
UNDECIDED_LIFETIME = timedelta(days=10)
#: ``withdrawn``: the citizen took the declaration back from /status before a decision.
Decision = Literal["approved", "rejected", "expired", "withdrawn"]


class Reviews:
    def __init__(
        self,
        declarations: DeclarationStore,
        photos: PhotoStore,
        notices: UserNotices,
        clock: Clock = utc_now,
    ) -> None:
        self.declarations = declarations
        self.photos = photos
        self.notices = notices
        self.clock = clock

    async def waiting(self, agency_code: str | None = None) -> list[StoredDeclaration]:
        found = await self.declarations.undecided()
        return [d for d in found if agency_code in (None, d.agency_code)]

    async def decide(
        self,
        receipt: str,
        decision: Decision,
        reason: str | None = None,
        *,
        officer: str | None = None,
        tell: bool = True,
    ) -> StoredDeclaration | None:
        """``None`` when no declaration with that receipt is waiting for a decision.
        ``officer``: who decided (kept with the decision; ``None`` for an expiry).
        ``tell``: store a notice for the citizen (not for a withdrawal: the citizen who
        asked for it is answered in the chat).

        The decision, the deletion of the photos' rows and the citizen's notice commit
        together, durably: a decision is never recorded without its notice, nor told
        without being recorded. The photo files go once that has committed.
        """
        now = self.clock()
        async with self.declarations.db.transaction(durable=True) as conn:
            decided = await self.declarations.decide(conn, receipt, decision, reason, now, officer)
            if decided is None:
                return None
            ids = [str(decided.data[f]) for f in PHOTO_FIELDS if decided.data.get(f)]
            await self.photos.forget(conn, ids)
            params = {
                "receipt": decided.receipt,
                "reason": reason or "",
                "locale": str(decided.data.get("locale", "vi")),
            }
            if tell:
                await self.notices.put(decided.user_key, f"decision.{decision}", params, now, conn)
        await self.photos.remove_files(ids)
        return decided

    async def expire_overdue(self) -> list[str]:
        """Receipts of the declarations that waited too long, now expired."""
        now = self.clock()
        expired = []
        for waiting in await self.declarations.undecided():
            overdue = now - datetime.fromisoformat(waiting.submitted_at) >= UNDECIDED_LIFETIME
            if overdue and await self.decide(waiting.receipt, "expired"):
                expired.append(waiting.receipt)
        return expired
