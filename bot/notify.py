"""Sending e-mail and SMS notices: by SMTP and the SMS gateway when configured; otherwise
to the dev outbox if the operator opted into it (``VSSID_DEV_OUTBOX=1``, always on in the
console), else the message is a ``DeliveryError``.

The dev outbox is a table and a log line, so a developer's machine without a mail server
still shows the one-time code, and nothing is silently dropped (ARCHITECTURE.md). It is an
opt-in because on a deployment it would tell a citizen "code sent" for a code that went
nowhere.

The SMS gateway (``SMS_GATEWAY_URL``) takes a JSON POST ``{"to": "+84…", "text": "…"}``;
any answer other than 2xx, a timeout or a refused connection is a ``DeliveryError``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from typing import Literal

import aiosmtplib
import httpx

from bot.masking import mask_email, mask_phone
from bot.settings import Settings
from storage.outbox import DevOutbox

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 15.0
#: Connect within 5 s, the whole answer within 10 s: a hung gateway cannot hold a user.
SMS_TIMEOUT = httpx.Timeout(10.0, connect=5.0)

#: An e-mail attachment: (file name, content, MIME type such as "application/pdf").
Attachment = tuple[str, bytes, str]


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
        *,
        attachments: Sequence[Attachment] = (),
        message_id: str | None = None,
    ) -> None:
        """Hand one message to its carrier; ``DeliveryError`` when the carrier refuses it.

        ``attachments`` and ``message_id`` are for e-mail (an SMS carries ``body`` only).
        In the dev outbox an attachment is noted by name and size at the end of the body.
        """
        if channel == "email" and self.settings.smtp_host:
            await self._smtp(to, subject, body, attachments, message_id)
            log.info("e-mail sent to %s", mask_email(to))
            return
        if channel == "sms" and self.settings.sms_gateway_url:
            await self._sms(self.settings.sms_gateway_url, to, body)
            log.info("SMS sent to %s", mask_phone(to))
            return
        if not self.settings.vssid_dev_outbox:
            setting = "SMTP_HOST" if channel == "email" else "SMS_GATEWAY_URL"
            raise DeliveryError(f"no {channel} carrier: {setting} is not set")
        noted = "".join(f"\n[{name}, {len(data)} bytes]" for name, data, _ in attachments)
        await self.outbox.put(channel, to, subject, body + noted, now)
        shown = mask_email(to) if channel == "email" else mask_phone(to)
        log.info("dev outbox: %s to %s (no %s carrier configured)", channel, shown, channel)

    async def _sms(self, url: str, to: str, text: str) -> None:
        try:
            async with httpx.AsyncClient(timeout=SMS_TIMEOUT) as client:
                response = await client.post(url, json={"to": to, "text": text})
        except httpx.HTTPError as exc:
            raise DeliveryError(f"SMS gateway unreachable: {type(exc).__name__}") from exc
        if not response.is_success:
            raise DeliveryError(f"SMS gateway answered {response.status_code}")

    async def _smtp(
        self,
        to: str,
        subject: str,
        body: str,
        attachments: Sequence[Attachment] = (),
        message_id: str | None = None,
    ) -> None:
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = to
        message["Subject"] = subject
        if message_id:
            message["Message-ID"] = message_id
        message.set_content(body)
        for name, data, mime in attachments:
            maintype, _, subtype = mime.partition("/")
            message.add_attachment(
                data, maintype=maintype, subtype=subtype or "octet-stream", filename=name
            )
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
