"""Runs one event of one user's conversation, with the I/O around the pure flow.

Order per event, the same for Telegram and the terminal: take the user's lock (one event
per user at a time, users in parallel) → load the row → check and store a photo if the
step wants one → run the flow → perform its effects (send a code, store the declaration)
→ **write the conversation to SQLite** → only then hand the replies back to be sent.
Nothing is written before the user has agreed to the use of their data.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.campaigns.service import LINK_PREFIX, CampaignService
from bot.clock import VIETNAM, Clock, utc_now
from bot.cpu_worker import CpuWorker, KeptPhoto
from bot.declaration_pdf import agency_info, declaration_filename
from bot.flows import autofill, otp, reminders
from bot.flows.conversation import Conversation
from bot.flows.effects import Discard, EraseUser, LockAddress, SendCode, Submit, Withdraw
from bot.flows.events import Button, Event, Msg, Reply
from bot.flows.otp import Channel
from bot.flows.photos import PhotoProblem
from bot.flows.registration import RegistrationFlow, remember_offered
from bot.flows.sanitize import visible
from bot.flows.steps.base import HOTLINE
from bot.guardians.desk import (
    REGISTER_FIRST,
    GuardianDesk,
    asks_for_child,
    resumes_child,
    routes_to_child,
)
from bot.guardians.flow import ChildFlow, guardian_of, proof_key
from bot.guardians.proof import GuardianProofFlow
from bot.i18n import Translator
from bot.masking import mask_email, mask_phone, mask_user
from bot.notify import DeliveryError, Notifier
from bot.retention import DEFAULT_PERIOD, Retention
from bot.review import Reviews
from storage.conversations import ConversationStore
from storage.declarations import AlreadyPending, DeclarationStore, StoredDeclaration
from storage.guardians import GuardianRecords
from storage.otp_sends import OtpLocks, OtpSends
from storage.photos import PhotoStore

log = logging.getLogger(__name__)
#: A stored notice the channel refuses this many times (one try per sweep, every 5 minutes
#: in the bot) is parked: the citizen has most likely blocked the bot.
NOTICE_ATTEMPTS = 5
#: Questions kept in memory for people who have agreed to nothing yet (a few hundred bytes
#: each): bounds what a flood of /child from new accounts can hold.
MAX_ASKED_BEFORE_CONSENT = 10_000


@dataclass(frozen=True)
class Notice:
    """Something to tell a user who did not write first (a reminder, an expiry, a decision).

    ``notice_id`` is set for stored notices: the channel reports delivery with
    ``RegistrationService.notice_delivered`` so an undelivered one is tried again.
    """

    user_key: str
    locale: str
    replies: list[Reply]
    notice_id: int | None = None


@dataclass(frozen=True)
class Outcome:
    """The replies to send and the language to render them in.

    ``background`` marks what follows an answer rather than answering (the PDF after the
    receipt): a channel may let it wait behind its answers to other people.
    """

    locale: str
    replies: list[Reply]
    background: bool = False


Deliver = Callable[[Outcome], Awaitable[None]]
Prepare = Callable[[], Awaitable[Event | None]]
FollowUp = Callable[[], Awaitable[list[Reply]]]


class RegistrationService:
    def __init__(
        self,
        flow: RegistrationFlow,
        conversations: ConversationStore,
        declarations: DeclarationStore,
        photos: PhotoStore,
        notifier: Notifier,
        translator: Translator,
        *,
        default_locale: str = "vi",
        clock: Clock = utc_now,
        destinations: Collection[str] = ("review_queue", "email_copy"),
        on_submitted: Callable[[], None] | None = None,
        reviews: Reviews | None = None,
        cpu: CpuWorker | None = None,
        retention: timedelta = DEFAULT_PERIOD,
        campaigns: CampaignService | None = None,
    ) -> None:
        self.flow = flow
        # A child's declaration: the same steps, the child's machine (``bot.guardians``).
        self.child_flow = ChildFlow(flow.places, flow.agencies, flow.otp_secret, flow.labels)
        # A guardian new to the bot proves their e-mail first, by the adult's steps too.
        self.proof_flow = GuardianProofFlow(
            flow.places, flow.agencies, flow.otp_secret, flow.labels
        )
        self.guardian_records = GuardianRecords(conversations.db)
        self.guardians = GuardianDesk(
            self.child_flow, declarations, self.proof_flow, self.guardian_records, retention.days
        )
        self.conversations = conversations
        self.declarations = declarations
        self.photos = photos
        self.notifier = notifier
        self.translator = translator
        self.default_locale = default_locale
        self.clock = clock
        self.destinations = destinations
        self.on_submitted = on_submitted  # wakes the submission worker
        self.reviews = reviews
        self.cpu = cpu or CpuWorker(translator, photos.sealer)  # photos, QR codes, PDFs
        self._follow_ups: dict[str, FollowUp] = {}
        # A question asked of someone who has not agreed to anything yet (/child from a
        # user new to the bot): kept here, not stored, so «có» or «1» still answers it.
        self._asked_before_consent: collections.OrderedDict[str, Conversation] = (
            collections.OrderedDict()
        )
        self._background: set[asyncio.Task[None]] = set()
        self.otp_sends = OtpSends(conversations.db)
        self.otp_locks = OtpLocks(conversations.db)
        self.retention = Retention(
            conversations, declarations, photos, self._address_key, retention
        )
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self.campaigns = campaigns  # organisations' invite links and rosters (bot/campaigns/)

    def _lock(self, user_key: str) -> asyncio.Lock:
        lock = self._locks.get(user_key)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[user_key] = lock
        return lock

    async def handle(
        self, user_key: str, event: Event | Prepare, deliver: Deliver | None = None
    ) -> Outcome:
        """Run one event; ``deliver`` sends the replies while the user's lock is still held,
        so two quick messages of one user are answered in the order they came.

        ``event`` may be a coroutine function that makes it (a Telegram photo must first be
        downloaded): it runs under the lock too, so a slow download cannot let the user's
        next message overtake this one. When it returns ``None`` nothing is answered.
        """
        async with self._lock(user_key):
            try:
                outcome = await self._run(user_key, event)
            except Exception:  # a bug or a failed download must not leave the user unanswered
                log.exception(
                    "event of %s failed; the conversation is unchanged", mask_user(user_key)
                )
                apology = Reply("err.internal", {"hotline": HOTLINE})
                outcome = Outcome(self.default_locale, [apology])
            if deliver is not None and outcome.replies:
                await deliver(outcome)
            follow_up = self._follow_ups.pop(user_key, None)
            if follow_up is not None:
                task = asyncio.create_task(
                    self._follow(user_key, outcome.locale, follow_up, deliver)
                )
                self._background.add(task)
                task.add_done_callback(self._background.discard)
            return outcome

    async def _run(self, user_key: str, event: Event | Prepare) -> Outcome:
        if not isinstance(event, Event):
            prepared = await event()
            if prepared is None:
                return Outcome(self.default_locale, [])
            event = prepared
        now = self.clock()
        held = self._asked_before_consent.pop(user_key, None)  # never outlives one answer
        conv = await self.conversations.load(user_key) or held
        if conv is None:
            # Everyone is greeted in the default language (Vietnamese), whatever the client
            # reports: Telegram has no Vietnamese interface, so many Vietnamese citizens'
            # clients say "en". The greeting offers the other language as one button.
            conv = Conversation(user_key=user_key, locale=self.default_locale)
        if not conv.active_child and any(
            str(b.get("data", "")).startswith("child:") for b in conv.offered
        ):  # a typed answer to a guardian's question asked outside the flow
            event = self.flow.typed_choice(conv, event, now)
        if routes_to_child(conv, event):
            child = await self.conversations.load(conv.active_child)
            if child is not None:
                return await self._run_child(conv, child, event, now)
            conv.active_child = ""  # the draft expired meanwhile: the guardian's own again
        if asks_for_child(event):
            return await self._begin_child(conv, event, now)
        had_consent = conv.consent is not None
        if reminders.due(conv, now) == "expire":
            expired = self.flow.expired(conv)
            await self._perform(conv, now)
            conv = Conversation(user_key=user_key, locale=conv.locale)
            had_consent = False
            replies = [*expired, *self.flow.handle(conv, Event.slash("start"), now)]
            return await self._finish(conv, replies, had_consent, now)
        return await self._step(conv, event, now, had_consent)

    async def _step(
        self, conv: Conversation, event: Event, now: datetime, had_consent: bool
    ) -> Outcome:
        """One event of one conversation, an adult's or a child's, by its own flow."""
        flow = self._flow_for(conv)
        indexing: list[asyncio.Future[None]] = []  # a kept photo's row, written with the rest
        if event.kind in ("photo", "document"):
            if flow.card_slot(conv):
                event = await self._scan_card(conv, event, now, indexing)
            elif flow.photo_slot(conv):
                event = await self._check_photo(conv, event, now, indexing)
        # Code-entry locks follow the address, not the conversation: the flow is told of them.
        if locks := await self.otp_locks.active(flow.code_destinations(conv), now):
            event = dataclasses.replace(event, otp_locks=locks)
        if event.kind == "choice" and event.choice.startswith("g:fix:"):
            replies = await self._reopen(conv, event.choice.removeprefix("g:fix:"), now)
            return await self._finish(conv, replies, had_consent, now)
        greeting = await self._invitation(conv, event)
        replies = greeting + flow.handle(conv, event, now)
        if event.kind == "command" and event.command == "status":
            listed = await self._declarations_status(conv.user_key)
            listed += await self._children_status(conv.user_key)
            if listed and [r.key for r in replies] == ["status.not_started"]:
                replies = []  # a guardian proved by e-mail declares only for children
            replies += listed
        return await self._finish(conv, replies, had_consent, now, indexing)

    async def _reopen(self, conv: Conversation, receipt: str, now: datetime) -> list[Reply]:
        """«Correct and send again» under a rejection: only the citizen's own declaration,
        still holding its data, and only when no other draft is under way."""
        found = await self.declarations.by_receipt(receipt)
        if (
            found is None
            or found.user_key != conv.user_key
            or found.status != "rejected"
            or not found.data
            or conv.state != "done"
        ):
            return [Reply("fix.unavailable", {"receipt": receipt})]
        return self.flow.reopen(conv, found.data, receipt, now)

    def _flow_for(self, conv: Conversation) -> RegistrationFlow:
        if conv.kind == "guardian":
            return self.proof_flow
        return self.child_flow if conv.kind == "child" else self.flow

    async def _begin_child(self, guardian: Conversation, event: Event, now: datetime) -> Outcome:
        """/child: the guardian is recognised and consents; the child's draft begins and
        the guardian's messages answer it from now on. A guardian new to the bot proves
        their e-mail first (a draft of its own, answered the same way), or registers
        themself first."""
        if event.kind == "choice" and event.choice == REGISTER_FIRST:
            started = Reply("guardian.register_first", edit=True)
            outcome = await self._step(
                guardian, Event.slash("register"), now, guardian.consent is not None
            )
            return Outcome(outcome.locale, [started, *outcome.replies])
        replies, child = await self.guardians.begin(guardian, event, now)
        if child is not None:
            await self._persist(child, False, now)
            guardian.active_child = child.user_key
        remember_offered(guardian, replies)  # «có», «1» answer the question just asked
        if guardian.consent is None and child is None:
            self._hold_before_consent(guardian)  # nothing is stored before they agree
        else:
            await self.conversations.save(guardian)
        return Outcome(guardian.locale, replies)

    def _hold_before_consent(self, conv: Conversation) -> None:
        """Keep, in memory only, the question just asked of someone who agreed to nothing;
        the oldest go first past ``MAX_ASKED_BEFORE_CONSENT`` (a restart forgets them all:
        their next message is then greeted as a newcomer's)."""
        held = self._asked_before_consent
        held[conv.user_key] = conv
        held.move_to_end(conv.user_key)
        while len(held) > MAX_ASKED_BEFORE_CONSENT:
            held.popitem(last=False)

    async def _run_child(
        self, guardian: Conversation, child: Conversation, event: Event, now: datetime
    ) -> Outcome:
        """An event of the guardian for the child's draft they are filling in. Once it is
        submitted, cancelled or handed to the child, their messages are theirs again."""
        if reminders.due(child, now) == "expire":
            replies = self._flow_for(child).expired(child)
            await self._perform(child, now)
            outcome = Outcome(child.locale, replies)
        else:
            if resumes_child(event):
                event = Event.slash("start")
            outcome = await self._step(child, event, now, had_consent=True)
        if child.state == "proved":
            return await self._proved(guardian, child, outcome, now)
        if child.state in ("done", "cancelled"):
            guardian.active_child = ""
            await self.conversations.save(guardian)
        return outcome

    async def _proved(
        self, guardian: Conversation, proof: Conversation, outcome: Outcome, now: datetime
    ) -> Outcome:
        """The code to a new guardian's e-mail came back: the guardian is kept (sealed),
        the proof's draft goes, and the child's consent is asked at once."""
        await self.guardian_records.save(guardian.user_key, self.proof_flow.record(proof), now)
        await self.conversations.delete(proof.user_key)
        guardian.active_child = ""
        guardian.locale = proof.locale  # a language chosen while proving holds for the child
        more = await self._begin_child(guardian, Event.slash("child"), now)
        return Outcome(outcome.locale, [*outcome.replies, *more.replies])

    async def _children_status(self, guardian_key: str) -> list[Reply]:
        proof = await self.conversations.load(proof_key(guardian_key))
        replies = (
            []
            if proof is None
            else [Reply("status.guardian_proof", {"step": Msg(f"step.{proof.state}")})]
        )
        listed: list[Conversation | str] = []
        for key in await self.conversations.children_of(guardian_key):
            child = await self.conversations.load(key)
            if child is not None:
                listed.append(key if child.state in ("done", "submitting") else child)
        return replies + await self.guardians.status(listed)

    async def _finish(
        self,
        conv: Conversation,
        replies: list[Reply],
        had_consent: bool,
        now: datetime,
        indexing: Collection[Awaitable[None]] = (),
    ) -> Outcome:
        replies = replies + await self._perform(conv, now)
        if self.campaigns is not None:
            await self.campaigns.follow(conv, just_consented=not had_consent)
        # Issued together, so the database commits them in one batch and the user waits
        # for one commit, not one per row (storage/db.py, group commit).
        if indexing:
            await asyncio.gather(self._persist(conv, had_consent, now), *indexing)
        else:  # no gather (and its tasks) for the usual single row
            await self._persist(conv, had_consent, now)
        return Outcome(conv.locale, replies)

    async def _invitation(self, conv: Conversation, event: Event) -> list[Reply]:
        """``/start org_<token>`` from an organisation's invite link: its name greets the
        member; an unknown or closed link is said so, and the registration goes on."""
        if not (event.kind == "command" and event.command == "start" and event.text):
            return []
        if self.campaigns is None or not event.text.startswith(LINK_PREFIX):
            return []
        campaign = await self.campaigns.opened(conv, event.text)
        if campaign is None:
            return [Reply("org.link_unknown")]
        return [Reply("org.welcome", {"name": campaign.name})]

    async def _follow(
        self, user_key: str, locale: str, make: FollowUp, deliver: Deliver | None
    ) -> None:
        try:
            replies = await make()
        except Exception:
            log.exception("follow-up for %s failed", mask_user(user_key))
            return
        # Not under the user's lock: the channel may hold a background message back a while
        # (Telegram's budget, bot.handlers.budget), and the user's next message must not
        # wait for it. It was made after the answer it follows was delivered.
        if deliver is not None:
            await deliver(Outcome(locale, replies, background=True))

    async def correct(self, user_key: str, name: str, text: str) -> tuple[bool, Reply]:
        """Support staff's /set, under the user's lock like any event: validated as the
        citizen's own answer would be, stored if valid; the step does not move."""
        async with self._lock(user_key):
            now = self.clock()
            conv = await self.conversations.load(user_key)
            if conv is None:
                conv = Conversation(user_key=user_key, locale=self.default_locale)
            reply = self.flow.correct(conv, name, visible(text), now)
            if reply.key != "note.corrected":
                return False, reply
            await self._persist(conv, True, now)
            return True, reply

    async def drain(self) -> None:
        """Wait for what is still being sent after an answer (the PDF after a receipt)."""
        loop = asyncio.get_running_loop()
        while mine := [t for t in self._background if t.get_loop() is loop]:
            await asyncio.gather(*mine, return_exceptions=True)

    async def _declarations_status(self, user_key: str) -> list[Reply]:
        """Submitted declarations and what the agency decided (beyond the current draft);
        one still waiting can be withdrawn (to make a new one for the same BHXH code)."""
        return [
            Reply(
                "status.declaration",
                {
                    "receipt": d.receipt,
                    "agency": d.agency_code,
                    "date": _submitted_on(d),
                    "status": Msg(
                        f"declaration_status.{d.status}", {"reason": d.decision_reason or "—"}
                    ),
                },
                buttons=(
                    (
                        (
                            Button(
                                f"g:withdraw:{d.receipt}",
                                label_key="btn.withdraw",
                                params={"receipt": d.receipt},
                            ),
                        ),
                    )
                    if d.status == "submitted"
                    else ()
                ),
            )
            for d in await self.declarations.for_user(user_key)
        ]

    async def sweep(self, now: datetime | None = None, only: str | None = None) -> list[Notice]:
        """Remind quiet users, delete drafts past their 10 days and the personal data of
        declarations past their retention; returns what to tell whom.

        Driven by the database alone, so it can run at start-up and on a timer, and a
        restart loses nothing. With ``only`` (a user key), that user's reminders and notices
        (the console: it may share the database with a running bot, and must not take
        what is owed to Telegram users); retention is then left to the bot's sweep.
        """
        now = now or self.clock()
        notices: list[Notice] = []
        if only is None:
            cutoff = reminders.oldest_silence_worth_a_look(now).isoformat()
            quiet = await self.conversations.quiet_since(cutoff)
        else:
            quiet = [only]  # ``reminders.due`` below decides whether anything is due
        for user_key in quiet:
            async with self._lock(user_key):
                conv = await self.conversations.load(user_key)
                if conv is None:
                    continue
                action = reminders.due(conv, now)
                flow = self._flow_for(conv)
                if action == "expire":
                    replies = flow.expired(conv)
                    await self._perform(conv, now)
                    notices.append(Notice(user_key, conv.locale, replies))
                elif action == "remind":
                    replies = flow.reminder(conv, reminders.expires_at(conv))
                    conv.reminders += 1
                    conv.reminded_at = now.isoformat()
                    await self.conversations.save(conv)  # not touched: silence goes on
                    notices.append(Notice(user_key, conv.locale, replies))
        if only is None:
            for purged in await self.retention.sweep(now):
                await self._forget_finished_answers(purged.user_key)
            if self.campaigns is not None:
                await self.campaigns.purge_ended(self.retention.period)
        return notices + await self._stored_notices(only)

    async def _forget_finished_answers(self, user_key: str) -> None:
        """A conversation finished before answers were forgotten at submission still holds
        them: its declaration's retention has ended, so they go now."""
        async with self._lock(user_key):
            conv = await self.conversations.load(user_key)
            if conv is not None and conv.holds_finished_answers():
                conv.forget_answers()
                await self.conversations.save(conv)

    async def _stored_notices(self, only: str | None = None) -> list[Notice]:
        """Decisions and expiries of submitted declarations, waiting to be told (to the
        user ``only``, if given)."""
        if self.reviews is None:
            return []
        await self.reviews.expire_overdue()
        found = []
        for pending in await self.reviews.notices.pending(user_key=only):
            params = dict(pending.params)
            locale = str(params.pop("locale", self.default_locale))
            buttons: tuple[tuple[Button, ...], ...] = ()
            if pending.key == "decision.rejected":  # correct it here, same receipt
                buttons = ((Button(f"g:fix:{params['receipt']}", label_key="btn.fix"),),)
            replies = [Reply(pending.key, params, buttons=buttons)]
            found.append(Notice(pending.user_key, locale, replies, pending.id))
        return found

    async def notice_delivered(self, notice_id: int) -> None:
        if self.reviews is not None:
            await self.reviews.notices.mark_sent(notice_id, self.clock())

    async def notice_refused(self, notice_id: int, error: str) -> None:
        """The channel refused a stored notice (the citizen blocked the bot, deleted the
        account): tried again at the next sweeps, parked after ``NOTICE_ATTEMPTS``."""
        if self.reviews is None:
            return
        failed = await self.reviews.notices.mark_failed(
            notice_id, error, self.clock(), NOTICE_ATTEMPTS
        )
        if failed is None:
            return
        outcome = "parked after" if failed.parked else "refused, attempt"
        log.log(
            logging.WARNING if failed.parked else logging.INFO,
            "notice #%d to %s %s %d of %d: %s",
            notice_id,
            mask_user(failed.user_key),
            outcome,
            failed.attempts,
            NOTICE_ATTEMPTS,
            error,
        )

    def _index_photo(
        self,
        kept: KeptPhoto,
        conv: Conversation,
        now: datetime,
        indexing: list[asyncio.Future[None]],
    ) -> None:
        """Start writing the photo's row now; the step's answer waits for it with the rest.
        A task, not a bare coroutine: the row is written even if the step then fails."""
        indexing.append(
            asyncio.ensure_future(self.photos.record(kept.photo_id, conv.user_key, kept.size, now))
        )

    async def _scan_card(
        self, conv: Conversation, event: Event, now: datetime, indexing: list[asyncio.Future[None]]
    ) -> Event:
        """Read the card's QR off the event loop; a CCCD photo is also kept as an ID photo."""
        if event.photo_problem or not event.data:
            reading = {"kind": None, "problem": event.photo_problem or "not_image"}
            return dataclasses.replace(event, card=reading)
        scan = await self.cpu.scan_card(event.data)
        reading = autofill.reading_from_scan(scan)
        photo_id = ""
        if reading["kind"] == "cccd":
            kept = await self.cpu.keep_photo(event.data, channel_encoded=event.channel_encoded)
            if not isinstance(kept, PhotoProblem):
                self._index_photo(kept, conv, now, indexing)
                photo_id = kept.photo_id
        return dataclasses.replace(event, card=reading, photo_id=photo_id, data=None)

    async def _check_photo(
        self, conv: Conversation, event: Event, now: datetime, indexing: list[asyncio.Future[None]]
    ) -> Event:
        """Check and keep the photo; an ID photo's QR, if one can be read, goes with it so
        the flow compares its number with the one typed."""
        data, encoded = event.data or b"", event.channel_encoded
        card: dict[str, Any] | None = None
        if self._flow_for(conv).reads_id_photo(conv):
            kept, scan = await self.cpu.keep_id_photo(data, channel_encoded=encoded)
            card = autofill.reading_from_scan(scan) if scan is not None else None
        else:
            kept = await self.cpu.keep_photo(data, channel_encoded=encoded)
        if isinstance(kept, PhotoProblem):
            return dataclasses.replace(
                event, photo_problem=kept.reason, problem_detail=dict(kept.detail)
            )
        self._index_photo(kept, conv, now, indexing)
        return dataclasses.replace(event, photo_id=kept.photo_id, data=None, card=card)

    async def _perform(self, conv: Conversation, now: datetime) -> list[Reply]:
        replies: list[Reply] = []
        effects, conv.effects = conv.effects, []
        for effect in effects:
            if isinstance(effect, SendCode):
                replies += await self._send_code(conv, effect, now)
            elif isinstance(effect, LockAddress):
                await self.otp_locks.lock(effect.destination, effect.until, now)
            elif isinstance(effect, Submit):
                replies += await self._submit(conv, now)
            elif isinstance(effect, Discard):
                await self.retention.forget_user(conv, now)
            elif isinstance(effect, EraseUser):
                replies += await self._erase(conv, now)
            elif isinstance(effect, Withdraw):
                replies += await self._withdraw(conv, effect.receipt)
        return replies

    async def _held_back(self, conv: Conversation) -> list[Reply]:
        """One declaration per BHXH code at a time: if one still waits for the agency, no
        code is sent and nothing is stored (the answers stay, back at the review)."""
        code = conv.answers.get("bhxh_code") if self._flow_for(conv).declares else None
        pending = await self.declarations.pending_for_code(str(code)) if code else None
        return [] if pending is None else self._already_pending(conv, pending)

    def _already_pending(self, conv: Conversation, pending: StoredDeclaration) -> list[Reply]:
        own = pending.user_key == conv.user_key
        log.info(
            "declaration for a BHXH code with %s pending held back (%s)",
            pending.receipt if own else "another citizen's declaration",
            mask_user(conv.user_key),
        )
        flow = self._flow_for(conv)
        return flow.already_pending(conv, pending.receipt, _submitted_on(pending), own=own)

    async def _withdraw(self, conv: Conversation, receipt: str) -> list[Reply]:
        """Only the citizen's own declaration, and only while it waits for a decision."""
        declaration = await self.declarations.by_receipt(receipt)
        mine = declaration is not None and declaration.user_key == conv.user_key
        if not mine or self.reviews is None:
            return [Reply("withdraw.not_possible", {"receipt": receipt}, edit=True)]
        if await self.reviews.decide(receipt, "withdrawn", tell=False) is None:
            return [Reply("withdraw.not_possible", {"receipt": receipt}, edit=True)]
        log.info("declaration %s withdrawn by %s", receipt, mask_user(conv.user_key))
        return [Reply("withdraw.done", {"receipt": receipt}, edit=True)]

    async def _send_code(self, conv: Conversation, effect: SendCode, now: datetime) -> list[Reply]:
        """Reserve the address's slot, then send; a failed delivery gives the slot back."""
        held = await self._held_back(conv)
        if held:
            return held
        subject = self.translator.text(conv.locale, "otp.message_subject")
        body = self.translator.text(
            conv.locale, "otp.message_body", {"code": effect.code, "minutes": 5}
        )
        # The flow checks the locks it was told of; an address typed in this very event
        # (a guardian's e-mail, ``bot.guardians.proof``) is checked here.
        locks = await self.otp_locks.active([effect.destination], now)
        if effect.destination in locks:
            lock = locks[effect.destination]
            return self._flow_for(conv).code_delivery(conv, "locked", now, lock - now)
        reservation = await self.otp_sends.reserve(effect.destination, now)
        if reservation.slot is None:
            return self._flow_for(conv).code_delivery(conv, "busy", now, reservation.wait)
        try:
            await self.notifier.send(effect.channel, effect.to, subject, body, now)
        except Exception as exc:
            await self.otp_sends.release(reservation)
            if not isinstance(exc, DeliveryError):
                raise
            shown = mask_email(effect.to) if effect.channel == "email" else mask_phone(effect.to)
            log.warning(
                "code delivery by %s to %s failed for %s: %s",
                effect.channel,
                shown,
                mask_user(conv.user_key),
                exc,
            )
            return self._flow_for(conv).code_delivery(conv, "failed", now)
        return self._flow_for(conv).code_delivery(conv, "sent", now)

    def _address_key(self, address: str) -> str:
        """The key code records are kept under for a phone or e-mail the citizen gave."""
        channel: Channel = "email" if "@" in address else "sms"
        return otp.destination_key(self.flow.otp_secret, channel, address)

    async def _submit(self, conv: Conversation, now: datetime) -> list[Reply]:
        answers = conv.answers
        data = {
            **self._flow_for(conv).declared(conv),
            "consent": conv.consent,
            "locale": conv.locale,
        }
        try:
            receipt = await self.declarations.submit(
                answers["draft_id"],
                conv.user_key,
                answers["agency_code"],
                data,
                now,
                destinations=self.destinations,
                again=answers.get("resubmit_of"),
            )
        except AlreadyPending as held:  # stored meanwhile, from another conversation
            return self._already_pending(conv, held.pending)
        log.info("declaration %s submitted by %s", receipt, mask_user(conv.user_key))
        if conv.kind == "child":  # a proved guardian's record is still of use
            await self.guardian_records.touch(guardian_of(conv.user_key), now)
        await self.retention.after_submit(conv, data, now)
        agency = agency_info(self.flow.agencies.by_code(answers["agency_code"]))
        locale = conv.locale
        caption = self._flow_for(conv).document_caption(conv, receipt)

        async def document() -> list[Reply]:
            """The PDF follows the receipt: its rendering need not hold the answer."""
            pdf = await self.cpu.render(data, receipt, agency, now, locale)
            await self.declarations.save_document(receipt, locale, pdf, now)
            if self.on_submitted is not None:
                self.on_submitted()  # the e-mail copy can now reuse this PDF
            name = declaration_filename(receipt)
            return [dataclasses.replace(caption, document=pdf, document_name=name)]

        # Keyed by whoever is writing: a child's PDF goes to the guardian's chat.
        self._follow_ups[guardian_of(conv.user_key)] = document
        return self._flow_for(conv).after_submit(conv, receipt, now)

    async def _erase(self, conv: Conversation, now: datetime) -> list[Reply]:
        """/deletemydata: every trace goes (``Retention.forget_user``); a submitted
        declaration stays, because the agency must keep it, and the user is told so."""
        kept = await self.retention.forget_user(conv, now)
        for key in await self.conversations.children_of(conv.user_key):
            child = await self.conversations.load(key)
            kept += await self.retention.forget_user(
                child or Conversation(user_key=key, kind="child"), now
            )
        await self.retention.forget_proved_guardian(conv.user_key, now)
        if self.campaigns is not None:
            await self.campaigns.store.forget_user(conv.user_key)
        return [Reply("erase.kept", {"receipt": d.receipt}) for d in kept]

    async def _persist(self, conv: Conversation, had_consent: bool, now: datetime) -> None:
        if conv.consent is None or conv.state == "cancelled":
            return
        if not conv.answers.get("draft_id"):
            conv.answers["draft_id"] = uuid.uuid4().hex
        conv.note_contacts()  # erasure must find every address, also one changed since
        conv.touch(now)
        if had_consent:
            await self.conversations.save(conv)
            return
        consent = conv.consent
        await asyncio.gather(  # one batch, one wait
            self.conversations.save(conv),
            self.conversations.record_consent(conv.user_key, consent["version"], consent["at"]),
        )


def _submitted_on(declaration: StoredDeclaration) -> str:
    """The day a declaration was submitted, in Vietnam, as citizens write dates."""
    return datetime.fromisoformat(declaration.submitted_at).astimezone(VIETNAM).strftime("%d/%m/%Y")
