"""The submission worker: delivers each outbox item of a submitted declaration.

``DeclarationStore.submit`` writes the declaration, its receipt and one outbox item per
destination in one transaction; this worker takes the due items and delivers them:

- ``review_queue`` — the agency review queue in the database (always); the row and the
  "delivered" mark are written in one transaction.
- ``email_copy`` — the declaration PDF attached to an e-mail to the citizen, in their
  language (through ``Notifier``; without SMTP it lands in the dev outbox).
- ``agency_endpoint`` — a JSON POST to ``SUBMISSION_URL`` with an ``Idempotency-Key``
  header that is fixed when the item is created, so a retry is recognisable; 2xx is success.

A failure counts an attempt and schedules the next one with exponential backoff and jitter
(30 s · 2ⁿ, at most 1 h); after ``max_attempts`` the item is *parked*: kept, listed by
``vssid-bot outbox``, and retried only when an operator says so. Items are claimed with a
lease before delivery and marked delivered right after success, so two workers never send
the same item together and a delivered item is never sent again. Everything lives in
SQLite: a worker started after a crash or a restart picks up where the last one stopped
(an item whose worker died mid-delivery is taken again when its lease ends).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx

from bot.clock import Clock, utc_now
from bot.cpu_worker import CpuWorker
from bot.declaration_pdf import (
    MIME,
    VIETNAM,
    agency_info,
    declaration_filename,
    render_declaration_pdf,
)
from bot.flows.registration import HOTLINE
from bot.guardians.declaration import copy_email
from bot.i18n import LANGUAGES, Translator
from bot.masking import mask_email
from bot.notify import Notifier
from storage.db import Database
from storage.declarations import ClaimedItem, DeclarationStore, Destination, SubmissionOutbox

log = logging.getLogger(__name__)
#: Connect within 5 s, the whole answer within 10 s (well inside the claim's lease).
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
#: Fields of a declaration that never leave the database: photo ids mean nothing elsewhere.
PRIVATE_FIELDS = frozenset({"portrait", "id_front", "id_back", "birth_certificate", "draft_id"})


def destinations(submission_url: str | None) -> tuple[Destination, ...]:
    """What ``DeclarationStore.submit`` should enqueue for this configuration."""
    if submission_url:
        return ("review_queue", "email_copy", "agency_endpoint")
    return ("review_queue", "email_copy")


class DeliveryFailed(RuntimeError):
    """One attempt at one destination failed; the item will be retried or parked."""


class SubmissionWorker:
    """Delivers due outbox items; ``run_once`` for one pass, ``run_forever`` for the bot."""

    def __init__(
        self,
        db: Database,
        notifier: Notifier,
        translator: Translator,
        *,
        agencies: Any = None,
        submission_url: str | None = None,
        clock: Clock = utc_now,
        max_attempts: int = 8,
        base_delay: timedelta = timedelta(seconds=30),
        max_delay: timedelta = timedelta(hours=1),
        lease: timedelta = timedelta(minutes=5),
        batch: int = 20,
        concurrency: int = 4,
        http_timeout: httpx.Timeout | float = HTTP_TIMEOUT,
        rng: random.Random | None = None,
        worker_id: str | None = None,
        renderer: CpuWorker | None = None,
    ) -> None:
        """``agencies`` is a ``bot.flows.agencies.AgencyDirectory`` (for the agency's name
        and address in the PDF and the e-mail); without it only the code is shown."""
        self.outbox = SubmissionOutbox(db)
        self.declarations = DeclarationStore(db)
        self.notifier = notifier
        self.translator = translator
        self.agencies = agencies
        self.submission_url = submission_url
        self.clock = clock
        self.renderer = renderer  # a process for the PDF; None renders in a thread
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.lease = lease
        self.batch = batch
        self.concurrency = max(1, concurrency)
        self.http_timeout = http_timeout
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        # One PDF at a time (~5 ms each, in the renderer's process): copies due at once
        # after a restart do not crowd out the renders of citizens who just submitted.
        self._render_gate = asyncio.Semaphore(1)

    @property
    def destinations(self) -> tuple[Destination, ...]:
        """Pass to ``DeclarationStore.submit(..., destinations=...)``."""
        return destinations(self.submission_url)

    def wake(self) -> None:
        """Ask ``run_forever`` for a pass now (e.g. right after a submission)."""
        self._wake.set()

    def backoff(self, failures: int) -> timedelta:
        """The wait after the ``failures``-th failure: 30 s · 2ⁿ⁻¹ capped at 1 h, then a
        random 50–100 % of it, so items that failed together do not retry together."""
        exponent = min(max(failures - 1, 0), 30)
        ceiling = min(self.base_delay * (2**exponent), self.max_delay)
        return ceiling * (0.5 + 0.5 * self.rng.random())

    async def run_once(self, now: datetime | None = None) -> int:
        """Deliver every item due at ``now``; returns how many were delivered."""
        now = now or self.clock()
        delivered = 0
        while True:
            claimed = await self.outbox.claim(self.worker_id, now, self.lease, self.batch)
            if not claimed:
                return delivered
            gate = asyncio.Semaphore(self.concurrency)

            async def one(item: ClaimedItem, gate: asyncio.Semaphore = gate) -> bool:
                async with gate:
                    return await self._attempt(item, now)

            results = await asyncio.gather(*(one(c) for c in claimed))
            delivered += sum(results)

    async def run_forever(self, stop: asyncio.Event, interval: float = 5.0) -> None:
        """Pass after pass until ``stop`` is set; a pass that raises is logged, not fatal."""
        log.info("submission worker %s started", self.worker_id)
        while not stop.is_set():
            self._wake.clear()  # before the pass: a wake during it means "once more"
            try:
                await self.run_once(self.clock())
            except Exception:
                log.exception("submission worker pass failed; trying again in %.0f s", interval)
            stopping = asyncio.ensure_future(stop.wait())
            woken = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait(
                    {stopping, woken}, timeout=interval, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for waiter in (stopping, woken):
                    waiter.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await waiter
        log.info("submission worker %s stopped", self.worker_id)

    # ------------------------------------------------------------------ one attempt
    async def _attempt(self, claimed: ClaimedItem, now: datetime) -> bool:
        item = claimed.item
        try:
            await self._deliver(claimed, now)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure of one item must not stop the others
            error = str(exc) if isinstance(exc, DeliveryFailed) else _describe(exc)
            failures = item.attempts + 1
            retry_at = None if failures >= self.max_attempts else now + self.backoff(failures)
            await self.outbox.mark_failed(item.id, self.worker_id, error, retry_at)
            if retry_at is None:
                log.error("outbox item %d (%s) parked: %s", item.id, item.destination, error)
            else:
                log.warning(
                    "outbox item %d (%s) failed, attempt %d: %s",
                    item.id,
                    item.destination,
                    failures,
                    error,
                )
            return False
        log.info("outbox item %d (%s of %s) delivered", item.id, item.destination, item.receipt)
        return True

    async def _deliver(self, claimed: ClaimedItem, now: datetime) -> None:
        destination = claimed.item.destination
        if destination == "review_queue":
            await self.outbox.deliver_to_review_queue(claimed.item.id, now)
            return
        if destination == "email_copy":
            await self._email_copy(claimed, now)
        elif destination == "agency_endpoint":
            await self._agency_endpoint(claimed)
        else:
            raise DeliveryFailed(f"unknown destination {destination!r}")
        await self.outbox.mark_delivered(claimed.item.id, self.clock())

    def _agency(self, code: str) -> dict[str, str] | None:
        if self.agencies is None:
            return None
        return agency_info(self.agencies.by_code(code))

    async def _email_copy(self, claimed: ClaimedItem, now: datetime) -> None:
        data = claimed.data
        email = copy_email(data)
        if not email:
            raise DeliveryFailed("the declaration has no e-mail address")
        lang = str(data.get("locale") or self.translator.default)
        lang = lang if lang in LANGUAGES else self.translator.default
        receipt = claimed.item.receipt
        agency = self._agency(claimed.agency_code)
        stored = await self.declarations.document(receipt, lang)
        async with self._render_gate:
            if stored is not None:  # rendered when the citizen submitted
                pdf = stored
            elif self.renderer is not None:
                pdf = await self.renderer.render(data, receipt, agency, claimed.submitted_at, lang)
            else:
                pdf = await asyncio.to_thread(
                    render_declaration_pdf,
                    data,
                    receipt,
                    agency,
                    claimed.submitted_at,
                    lang,
                    self.translator,
                )
        submitted = claimed.submitted_at.astimezone(VIETNAM).strftime("%d/%m/%Y")
        params: dict[str, str | int] = {
            "name": str(data.get("full_name") or ""),
            "receipt": receipt,
            "agency": agency["name"] if agency else claimed.agency_code,
            "date": submitted,
            "hotline": HOTLINE,
        }
        subject = self.translator.text(lang, "submission.email_subject", dict(params))
        body = self.translator.text(lang, "submission.email_body", dict(params))
        await self.notifier.send(
            "email",
            email,
            subject,
            body,
            now,
            attachments=[(declaration_filename(receipt), pdf, MIME)],
            message_id=f"<{claimed.item.idempotency_key}@vssid-bot>",
        )
        log.info("declaration copy %s mailed to %s", receipt, mask_email(email))

    async def _agency_endpoint(self, claimed: ClaimedItem) -> None:
        if not self.submission_url:
            raise DeliveryFailed("SUBMISSION_URL is not set")
        payload = {
            "receipt": claimed.item.receipt,
            "agency_code": claimed.agency_code,
            "submitted_at": claimed.submitted_at.isoformat(),
            "declaration": {k: v for k, v in claimed.data.items() if k not in PRIVATE_FIELDS},
        }
        headers = {"Idempotency-Key": claimed.item.idempotency_key}
        try:
            async with httpx.AsyncClient(timeout=self.http_timeout) as client:
                response = await client.post(self.submission_url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryFailed(f"agency endpoint unreachable: {_describe(exc)}") from exc
        if not response.is_success:
            raise DeliveryFailed(f"agency endpoint answered {response.status_code}")


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__
