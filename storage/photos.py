"""Photos of ID cards and faces, encrypted at rest (AES-GCM) and referenced by id.

Each file holds a random 96-bit nonce followed by the ciphertext; the photo id is bound in
as associated data, so a file renamed to another id does not decrypt. File work runs in a
thread to keep the event loop free.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.db import Database
from storage.keyring import derive


class PhotoStore:
    def __init__(self, db: Database, folder: Path, data_key: bytes) -> None:
        self.db = db
        self.folder = folder
        self._aead = AESGCM(derive(data_key, "photos"))

    def _path(self, photo_id: str) -> Path:
        if not photo_id.isalnum():
            raise ValueError("bad photo id")
        return self.folder / f"{photo_id}.bin"

    def _write(self, photo_id: str, jpeg: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        nonce = secrets.token_bytes(12)
        sealed = nonce + self._aead.encrypt(nonce, jpeg, photo_id.encode())
        temp = self._path(photo_id).with_suffix(".tmp")
        temp.write_bytes(sealed)
        os.replace(temp, self._path(photo_id))

    def _read(self, photo_id: str) -> bytes:
        sealed = self._path(photo_id).read_bytes()
        return self._aead.decrypt(sealed[:12], sealed[12:], photo_id.encode())

    async def put(self, user_key: str, jpeg: bytes, now: datetime) -> str:
        photo_id = secrets.token_hex(16)
        await asyncio.to_thread(self._write, photo_id, jpeg)
        await self.db.write(
            "INSERT INTO photos (id, user_key, size, created_at) VALUES (?, ?, ?, ?)",
            (photo_id, user_key, len(jpeg), now.isoformat()),
        )
        return photo_id

    async def get(self, photo_id: str) -> bytes:
        return await asyncio.to_thread(self._read, photo_id)

    async def delete(self, photo_ids: list[str]) -> None:
        for photo_id in photo_ids:
            await asyncio.to_thread(self._path(photo_id).unlink, True)
            await self.db.write("DELETE FROM photos WHERE id = ?", (photo_id,))

    async def delete_for_user(self, user_key: str, keep: set[str] | None = None) -> int:
        """Delete a user's photos except ``keep`` (those of a submitted declaration)."""
        rows = await self.db.fetch("SELECT id FROM photos WHERE user_key = ?", (user_key,))
        doomed = [str(r[0]) for r in rows if str(r[0]) not in (keep or set())]
        await self.delete(doomed)
        return len(doomed)
