"""Builds the service and its parts from the settings; shared by Telegram and the console."""

from __future__ import annotations

from dataclasses import dataclass

from bot.flows.agencies import load_directory
from bot.flows.places import catalogue
from bot.flows.registration import RegistrationFlow
from bot.i18n import Translator
from bot.notify import Notifier
from bot.service import Clock, RegistrationService, utc_now
from bot.settings import Settings
from storage.conversations import ConversationStore
from storage.db import Database
from storage.declarations import DeclarationStore
from storage.keyring import derive, load_data_key
from storage.outbox import DevOutbox
from storage.photos import PhotoStore


@dataclass
class Components:
    settings: Settings
    db: Database
    service: RegistrationService
    translator: Translator
    outbox: DevOutbox

    async def close(self) -> None:
        await self.db.close()


async def build(settings: Settings, clock: Clock = utc_now) -> Components:
    data_dir = settings.vssid_data_dir
    configured = settings.vssid_data_key.get_secret_value() if settings.vssid_data_key else None
    key = load_data_key(data_dir, configured)
    db = await Database(settings.database_path).open()
    translator = Translator(default=settings.bot_default_locale)
    outbox = DevOutbox(db)
    flow = RegistrationFlow(catalogue(), load_directory(data_dir), derive(key, "otp"))
    service = RegistrationService(
        flow,
        ConversationStore(db),
        DeclarationStore(db),
        PhotoStore(db, data_dir / "photos", key),
        Notifier(settings, outbox),
        translator,
        default_locale=settings.bot_default_locale,
        clock=clock,
    )
    return Components(settings, db, service, translator, outbox)
