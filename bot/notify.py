"""Sending e-mail and SMS notices: by SMTP and the SMS gateway when configured; otherwise
to the dev outbox if the operator opted into it (``VSSID_DEV_OUTBOX=1``, always on in the
console), else the message is a ``DeliveryError``.

The dev outbox is a table and a log line, so a developer's machine without a mail server
still shows the one-time code, and nothing is silently dropped (ARCHITECTURE.md). It is an
opt-in because on a deployment it would tell a citizen "code sent" for a code that went
nowhere.

The SMS gateway (``SMS_GATEWAY_URL``) takes a JSON POST ``{"to": "+84…", "text": "…"}``;
any answer other than 2xx, a timeout or a refused connection is a ``DeliveryError``.

A ``DeliveryError`` says why, for the operator's log: the SMTP server's reply code and
text, or the gateway's HTTP status, with any e-mail address in it masked.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Literal

import aiosmtplib
import httpx

from bot.clock import VIETNAM
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


#: Anything shaped like an e-mail address in a server's reply (``<an.nguyen@example.com>:
#: Recipient address rejected``). Hand-written: only to mask it, never to validate it.
_ADDRESS_IN_TEXT = re.compile(r"[^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+")


def _smtp_reason(exc: Exception) -> str:
    """Why the mail server refused, for the log: its reply code(s) and text, addresses
    masked; otherwise (a refused connection, a timeout) what went wrong."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        reason = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
    elif isinstance(exc, aiosmtplib.SMTPResponseException):
        reason = f"{exc.code} {exc.message}"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return _ADDRESS_IN_TEXT.sub(lambda found: mask_email(found.group()), reason)


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
            await self._smtp(to, subject, body, now, attachments, message_id)
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
        if not response.is_success:  # the body is not logged: it may repeat the number
            raise DeliveryError(
                f"SMS gateway answered {response.status_code} {response.reason_phrase}".strip()
            )

    async def _smtp(
        self,
        to: str,
        subject: str,
        body: str,
        now: datetime,
        attachments: Sequence[Attachment] = (),
        message_id: str | None = None,
    ) -> None:
        message = EmailMessage()
        message["From"] = self.settings.smtp_from
        message["To"] = to
        message["Subject"] = subject
        # Spam filters distrust mail without a Date or a Message-ID; a code in spam is lost.
        message["Date"] = format_datetime(now.astimezone(VIETNAM))
        _, sender = parseaddr(self.settings.smtp_from)
        domain = sender.rpartition("@")[2] or "localhost"  # never the slow getfqdn()
        message["Message-ID"] = message_id or make_msgid(domain=domain)
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
            # ``from None``: the server's reply, kept unmasked in the cause, is not to reach
            # a traceback in the log; the reason below says what it said.
            raise DeliveryError(f"SMTP delivery failed: {_smtp_reason(exc)}") from None
