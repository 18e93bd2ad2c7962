"""Builds the service and its parts from the settings; shared by Telegram and the console."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from bot.campaigns.service import CampaignService
from bot.clock import Clock, utc_now
from bot.cpu_worker import CpuWorker
from bot.flows.places import catalogue
from bot.flows.registration import RegistrationFlow
from bot.flows.validators import mobile_phone
from bot.helpdesk.desk import HelpDesk
from bot.helpdesk.hours import OfficeHours
from bot.i18n import Translator
from bot.live_agencies import LiveAgencies
from bot.notify import Notifier
from bot.review import Reviews
from bot.service import RegistrationService
from bot.settings import Settings
from bot.submission import SubmissionWorker
from storage.at_rest import seal_rows_stored_in_clear
from storage.campaigns import CampaignStore
from storage.conversations import ConversationStore
from storage.db import Database
from storage.declarations import DeclarationStore
from storage.helpdesk import HelpRequests
from storage.keyring import derive, load_data_key
from storage.notices import UserNotices
from storage.outbox import DevOutbox
from storage.photos import PhotoSealer, PhotoStore
from storage.private import private_folder
from storage.vault import Vault

PHOTO_FOLDER = "photos"

log = logging.getLogger(__name__)


@dataclass
class Components:
    settings: Settings
    db: Database
    service: RegistrationService
    translator: Translator
    outbox: DevOutbox
    worker: SubmissionWorker
    reviews: Reviews
    campaigns: CampaignService
    #: ``None`` without a staff chat: help then lists the hotlines only.
    helpdesk: HelpDesk | None = None

    def staff_chat(self) -> int:
        """The staff supergroup, for the help desk and the officers: their handlers are
        registered only when ``STAFF_CHAT_ID`` is set."""
        chat = self.settings.staff_chat_id
        if chat is None:
            raise RuntimeError("the staff chat is used only with STAFF_CHAT_ID set")
        return chat

    @asynccontextmanager
    async def delivering(self, interval: float = 5.0) -> AsyncIterator[None]:
        """Run the submission worker for as long as the block runs (bot or console)."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.worker.run_forever(stop, interval))
        try:
            yield
        finally:
            stop.set()
            await task

    async def ready_for_traffic(self) -> None:
        """Do once, before the first citizen, what would otherwise land on one of them, and
        take what start-up loaded out of the garbage collector's sight.

        The 2025 address catalogue, the message catalogues and the libraries are ~120,000
        objects that live as long as the process. Under load ``bench/flow.py`` measured full
        collections walking them for 50–77 ms every few seconds, each one a stall for every
        user waiting; frozen (``gc.freeze``), a full collection takes ~2 ms.
        """
        await self.service.cpu.start()
        mobile_phone("0912345678")  # phonenumbers loads its Vietnamese metadata on first use
        gc.collect()
        gc.freeze()

    async def close(self) -> None:
        await self.service.drain()
        await self.service.cpu.close()
        await self.db.close()
        # What ``ready_for_traffic`` froze is never collected, not even when the interpreter
        # exits: zxing-cpp's objects in module globals (``bot.flows.qr._QR``) then outlive
        # it, and nanobind prints "leaked 1 instances! … 14 types! … 38 functions!" on
        # stderr at every clean exit. Unfrozen, they are released as usual.
        gc.unfreeze()


async def open_database(settings: Settings) -> tuple[Database, bytes]:
    """The data folder made private, the data key loaded and checked (against a stored
    photo, then the database's check value), the database opened with it and any row an
    older version stored in clear sealed. ``DataKeyError`` when the key is missing or wrong.
    """
    data_dir = private_folder(settings.vssid_data_dir)
    configured = settings.vssid_data_key.get_secret_value() if settings.vssid_data_key else None
    photo_folder = data_dir / PHOTO_FOLDER
    key = load_data_key(data_dir, configured, sealed=(settings.database_path, photo_folder))
    PhotoSealer(photo_folder, key).check_key()
    db = await Database(settings.database_path, Vault(key)).open()
    try:
        await seal_rows_stored_in_clear(db)
    except BaseException:
        await db.close()
        raise
    return db, key


async def build(settings: Settings, clock: Clock = utc_now) -> Components:
    db, key = await open_database(settings)
    try:
        return await _assemble(settings, clock, db, key)
    except BaseException:
        await db.close()  # a failed start lets go of the database
        raise


async def _assemble(settings: Settings, clock: Clock, db: Database, key: bytes) -> Components:
    data_dir = settings.vssid_data_dir
    translator = Translator(default=settings.bot_default_locale)
    outbox = DevOutbox(db)
    flow = RegistrationFlow(
        catalogue(), LiveAgencies(data_dir, clock), derive(key, "otp"), labels=translator.label
    )
    notifier = Notifier(settings, outbox)
    photos = PhotoStore(db, data_dir / PHOTO_FOLDER, key)
    orphans = await photos.remove_orphans()  # left by a crash between a commit and an unlink
    if orphans:
        log.info("removed %d photo files that had no record", orphans)
    cpu = CpuWorker(translator, photos.sealer)
    worker = SubmissionWorker(
        db,
        notifier,
        translator,
        agencies=flow.agencies,
        submission_url=settings.submission_url,
        clock=clock,
        renderer=cpu,
    )
    declarations = DeclarationStore(db)
    reviews = Reviews(declarations, photos, UserNotices(db), clock)
    campaigns = CampaignService(CampaignStore(db), clock)
    service = RegistrationService(
        flow,
        ConversationStore(db),
        declarations,
        photos,
        notifier,
        translator,
        default_locale=settings.bot_default_locale,
        clock=clock,
        destinations=worker.destinations,
        on_submitted=worker.wake,
        reviews=reviews,
        cpu=cpu,
        retention=timedelta(days=settings.retention_days),
        campaigns=campaigns,
    )
    helpdesk = None
    if settings.staff_chat_id is not None:
        flow.staff_desk = True
        helpdesk = HelpDesk(
            HelpRequests(db),
            OfficeHours.parse(settings.staff_hours),
            timedelta(minutes=settings.staff_answer_minutes),
            clock,
        )
    return Components(
        settings, db, service, translator, outbox, worker, reviews, campaigns, helpdesk
    )
