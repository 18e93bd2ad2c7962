"""Photos of ID cards and faces, encrypted at rest (AES-GCM) and referenced by id.

Each file holds a random 96-bit nonce followed by the ciphertext; the photo id is bound in
as associated data, so a file renamed to another id does not decrypt. Sealing a photo into
its file (``PhotoSealer``) is plain file work that can run anywhere: the bot's CPU worker
process seals a photo right after checking it, so the photo's bytes never travel back to
the event loop's process (``bot/cpu_worker.py``). ``PhotoStore`` keeps the index in SQLite.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.db import Database
from storage.keyring import derive, wrong_key
from storage.private import private_folder, write_private


class PhotoSealer:
    """Encrypts photos into their files and opens them again; picklable for a worker."""

    def __init__(self, folder: Path, data_key: bytes) -> None:
        self.folder = folder
        self._key = derive(data_key, "photos")
        self._aead = AESGCM(self._key)
        self._folder_made = False

    def __getstate__(self) -> dict[str, Any]:
        return {"folder": self.folder, "key": self._key}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.folder = state["folder"]
        self._key = state["key"]
        self._aead = AESGCM(self._key)
        self._folder_made = False

    def _path(self, photo_id: str) -> Path:
        if not photo_id.isalnum():
            raise ValueError("bad photo id")
        return self.folder / f"{photo_id}.bin"

    def seal(self, jpeg: bytes) -> str:
        """Write ``jpeg`` encrypted under a new id, atomically; returns the id."""
        if not self._folder_made:
            private_folder(self.folder)
            self._folder_made = True
        photo_id = secrets.token_hex(16)
        nonce = secrets.token_bytes(12)
        sealed = nonce + self._aead.encrypt(nonce, jpeg, photo_id.encode())
        write_private(self._path(photo_id), sealed)
        return photo_id

    def open(self, photo_id: str) -> bytes:
        sealed = self._path(photo_id).read_bytes()
        return self._aead.decrypt(sealed[:12], sealed[12:], photo_id.encode())

    def remove(self, photo_id: str) -> None:
        self._path(photo_id).unlink(missing_ok=True)

    def check_key(self) -> None:
        """Open one stored photo, if there is any: a start with the wrong key stops here,
        before the database's key check is written for a database that predates it."""
        try:
            with os.scandir(self.folder) as entries:
                ids = (e.name.removesuffix(".bin") for e in entries if e.name.endswith(".bin"))
                sample = next((i for i in ids if i.isalnum()), None)
        except FileNotFoundError:
            return
        if sample is None:
            return
        try:
            self.open(sample)
        except InvalidTag:
            raise wrong_key(f"the photos in {self.folder}") from None


class PhotoStore:
    def __init__(self, db: Database, folder: Path, data_key: bytes) -> None:
        self.db = db
        self.sealer = PhotoSealer(folder, data_key)

    async def record(self, photo_id: str, user_key: str, size: int, now: datetime) -> None:
        """Index a photo already sealed into its file, so it can be found and deleted."""
        await self.db.write(
            "INSERT INTO photos (id, user_key, size, created_at) VALUES (?, ?, ?, ?)",
            (photo_id, user_key, size, now.isoformat()),
        )

    async def get(self, photo_id: str) -> bytes:
        return await asyncio.to_thread(self.sealer.open, photo_id)

    async def delete(self, photo_ids: list[str]) -> None:
        for photo_id in photo_ids:
            await asyncio.to_thread(self.sealer.remove, photo_id)
            await self.db.write("DELETE FROM photos WHERE id = ?", (photo_id,))

    async def delete_for_user(self, user_key: str, keep: set[str] | None = None) -> int:
        """Delete a user's photos except ``keep`` (those of a submitted declaration)."""
        rows = await self.db.fetch("SELECT id FROM photos WHERE user_key = ?", (user_key,))
        doomed = [str(r[0]) for r in rows if str(r[0]) not in (keep or set())]
        await self.delete(doomed)
        return len(doomed)
