"""Sending e-mail and SMS notices: by SMTP when configured, otherwise to the dev outbox.

The dev outbox is a table and a log line, so a developer's machine without a mail server
still shows the one-time code, and nothing is silently dropped (ARCHITECTURE.md).
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.message import EmailMessage
from typing import Literal

import aiosmtplib

from bot.masking import mask_email, mask_phone
from bot.settings import Settings
from storage.outbox import DevOutbox

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 15.0


class DeliveryError(RuntimeError):
    """The message could not be handed to its carrier."""


class Notifier:
    def __init__(self, settings: Settings, outbox: DevOutbox) -> None:
        self.settings = settings
        self.outbox = outbox

    async def send(
        self,
        channel: Literal["email", "sms"],
        to: str,
        subject: str,
        body: str,
        now: datetime,
    ) -> None:
        if channel == "email" and self.settings.smtp_host:
            await self._smtp(to, subject, body)
            log.info("e-mail sent to %s", mask_email(to))
            return
        await self.outbox.put(channel, to, subject, body, now)
        shown = mask_email(to) if channel == "email" else mask_phone(to)
        log.info("dev outbox: %s to %s (no %s carrier configured)", channel, shown, channel)

    async def _smtp(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        password = self.settings.smtp_password
        try:
            await aiosmtplib.send(
                message,
                hostname=self.settings.smtp_host,
                port=self.settings.smtp_port,
                username=self.settings.smtp_user or None,
                password=password.get_secret_value() if password else None,
                use_tls=self.settings.smtp_tls == "tls",
                start_tls=self.settings.smtp_tls == "starttls",
                timeout=SMTP_TIMEOUT,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP delivery failed: {type(exc).__name__}") from exc
