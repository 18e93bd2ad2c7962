"""The data key that encrypts photos and personal fields at rest, and its sub-keys.

``VSSID_DATA_KEY`` (64 hex characters or URL-safe base64 of 32 bytes) is the operator's
key; without it a key file is created in the data folder, readable by the owner only, and
a warning says so, because a key next to the data protects a stolen disk image far less.

A key file is created only for a fresh data folder: beside an existing database or photos
a new key could read none of them, so a missing key file stops the start instead
(``DataKeyError``, printed by the ``vssid-bot`` command). A key that is present but not the
one the data was sealed with is caught by the key check value (``storage/db.py``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import secrets
from collections.abc import Iterable
from pathlib import Path

from storage.private import private_folder, write_private

log = logging.getLogger(__name__)
KEY_FILE = "data.key"


class DataKeyError(ValueError):
    """The configured key cannot be used, or it is missing or wrong for the data there is:
    the bot refuses to start, with this message for the operator."""


def wrong_key(sealed: str) -> DataKeyError:
    """The refusal to start with a key that does not open ``sealed`` (what the data is)."""
    return DataKeyError(
        f"the data key does not open {sealed}. Set VSSID_DATA_KEY (or restore {KEY_FILE} "
        "in the data folder) to the key it was sealed with; the bot did not start."
    )


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


def _holds_data(path: Path) -> bool:
    """A non-empty file, or a folder with anything in it."""
    try:
        if path.is_dir():
            return any(path.iterdir())
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def load_data_key(data_dir: Path, configured: str | None, sealed: Iterable[Path] = ()) -> bytes:
    """The configured key, else the key file's, else a new key file, unless one of the
    ``sealed`` paths (the database, the photo folder) already holds data."""
    if configured:
        return parse_key(configured)
    path = data_dir / KEY_FILE
    if path.exists():
        return parse_key(path.read_text())
    existing = [str(p) for p in sealed if _holds_data(p)]
    if existing:
        raise DataKeyError(
            f"{KEY_FILE} is missing from {data_dir} and VSSID_DATA_KEY is not set, but "
            f"{' and '.join(existing)} hold data sealed with a key. Restore {KEY_FILE} "
            "from your copy or set VSSID_DATA_KEY to that key. No new key was created: "
            "it could not read that data."
        )
    private_folder(data_dir)
    key = secrets.token_bytes(32)
    try:
        write_private(path, key.hex().encode(), replace=False)
    except FileExistsError:  # another process starting at the same moment made it
        return parse_key(path.read_text())
    log.warning(
        "VSSID_DATA_KEY is not set: created %s. Keep a copy elsewhere and set VSSID_DATA_KEY "
        "in production; photos and personal data cannot be read without it.",
        path,
    )
    return key


def derive(key: bytes, purpose: str) -> bytes:
    """A separate key per use (photo encryption, OTP digests) from the one data key."""
    return hmac.new(key, purpose.encode(), hashlib.sha256).digest()
