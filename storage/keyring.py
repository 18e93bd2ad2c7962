"""The data key that encrypts photos at rest, and the sub-keys derived from it.

``VSSID_DATA_KEY`` (64 hex characters or URL-safe base64 of 32 bytes) is the operator's
key; without it a key file is created in the data folder, readable by the owner only, and
a warning says so, because a key next to the data protects a stolen disk image far less.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)
KEY_FILE = "data.key"


class DataKeyError(ValueError):
    """The configured key cannot be used."""


def parse_key(value: str) -> bytes:
    text = value.strip()
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError) as exc:
            raise DataKeyError("VSSID_DATA_KEY is neither hex nor base64") from exc
    if len(raw) != 32:
        raise DataKeyError("VSSID_DATA_KEY must hold 32 bytes (64 hex characters)")
    return raw


def load_data_key(data_dir: Path, configured: str | None) -> bytes:
    if configured:
        return parse_key(configured)
    path = data_dir / KEY_FILE
    if path.exists():
        return parse_key(path.read_text())
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.hex())
    log.warning(
        "VSSID_DATA_KEY is not set: created %s. Keep a copy elsewhere and set VSSID_DATA_KEY "
        "in production; photos cannot be read without it.",
        path,
    )
    return key


def derive(key: bytes, purpose: str) -> bytes:
    """A separate key per use (photo encryption, OTP digests) from the one data key."""
    return hmac.new(key, purpose.encode(), hashlib.sha256).digest()
