"""What ``vssid-bot run`` checks in its settings before the first citizen arrives.

A bot that cannot deliver a one-time code would tell citizens "code sent" for nothing, so
it does not start without a carrier (unless the operator opts into the dev outbox). What
is merely risky starts with a warning: plain-text transports that carry codes, personal
data, passwords or the bot token across the network, and a channel left without carrier.
"""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from bot.settings import Settings

log = logging.getLogger(__name__)


def has_carrier(settings: Settings) -> bool:
    """A one-time code can go somewhere: SMTP, the SMS gateway, or the opted-in dev outbox."""
    return bool(settings.smtp_host or settings.sms_gateway_url or settings.vssid_dev_outbox)


def _is_loopback(host: str | None) -> bool:
    """Plain text that never leaves the machine (a local relay, a local Bot API server)."""
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _plain_http(url: str | None) -> str | None:
    """The host of a ``http://`` URL to another machine, else ``None``."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or _is_loopback(parts.hostname):
        return None
    return parts.hostname or url


def plain_text_transports(settings: Settings) -> list[str]:
    """One sentence per transport that crosses the network unencrypted."""
    found = []
    if (
        settings.smtp_host
        and settings.smtp_tls == "none"
        and not _is_loopback(settings.smtp_host)
    ):
        found.append(
            f"SMTP_TLS=none: e-mails (one-time codes, declaration PDFs) and the SMTP password "
            f"go to {settings.smtp_host} in plain text; use starttls or tls"
        )
    urls = (
        ("SMS_GATEWAY_URL", settings.sms_gateway_url, "one-time codes and phone numbers"),
        ("SUBMISSION_URL", settings.submission_url, "declarations"),
        ("TELEGRAM_API_URL", settings.telegram_api_url, "the bot token and every message"),
    )
    for name, url, what in urls:
        host = _plain_http(url)
        if host:
            found.append(f"{name} is http://: {what} go to {host} in plain text; use https://")
    return found


def missing_carriers(settings: Settings) -> list[str]:
    """A channel a citizen can choose that has no carrier (its codes fail, visibly)."""
    if settings.vssid_dev_outbox:
        return []
    found = []
    if not settings.smtp_host:
        found.append(
            "SMTP_HOST is not set: codes and declaration copies by e-mail cannot be sent"
        )
    if not settings.sms_gateway_url:
        found.append("SMS_GATEWAY_URL is not set: a code asked for by SMS cannot be sent")
    return found


def announce(settings: Settings) -> None:
    """Log, at start, where the data lives and every warning about the settings."""
    log.info("data folder: %s", settings.vssid_data_dir.resolve())
    if settings.vssid_dev_outbox:
        log.warning(
            "VSSID_DEV_OUTBOX is on: e-mails and SMS without a carrier go to the dev outbox "
            "table, not to the citizen (for development only)"
        )
    for warning in (*missing_carriers(settings), *plain_text_transports(settings)):
        log.warning("%s", warning)
