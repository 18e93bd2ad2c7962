"""Photos of ID cards and faces, encrypted at rest (AES-GCM) and referenced by id.

Each file holds a random 96-bit nonce followed by the ciphertext; the photo id is bound in
as associated data, so a file renamed to another id does not decrypt. Sealing a photo into
its file (``PhotoSealer``) is plain file work that can run anywhere: the bot's CPU worker
process seals a photo right after checking it, so the photo's bytes never travel back to
the event loop's process (``bot/cpu_worker.py``). ``PhotoStore`` keeps the index in SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import aiosqlite
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.db import Database
from storage.keyring import derive, wrong_key
from storage.private import private_folder, write_private

#: A photo file younger than this may still be waiting for its row (``remove_orphans``).
ORPHAN_GRACE = 600.0  # seconds


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

    def remove(self, *photo_ids: str) -> None:
        for photo_id in photo_ids:
            self._path(photo_id).unlink(missing_ok=True)

    def remove_unindexed(self, indexed: set[str], older_than: float) -> int:
        """Unlink sealed files not in ``indexed``, and temporary ones, last written more than
        ``older_than`` seconds ago.

        "Now" is read off a fresh file in the folder: the clock the files' times come from,
        which need not be this process's (a network file system's server).
        """
        if not self.folder.is_dir():
            return 0
        with tempfile.TemporaryFile(dir=self.folder) as probe:
            cutoff = os.fstat(probe.fileno()).st_mtime - older_than
        removed = 0
        for path in self.folder.iterdir():
            orphan = path.suffix == ".tmp" or (path.suffix == ".bin" and path.stem not in indexed)
            with contextlib.suppress(FileNotFoundError):  # another process got there first
                if orphan and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
        return removed

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
        """Rows first, in one transaction, then the files (see ``forget``)."""
        if not photo_ids:
            return
        async with self.db.transaction() as conn:
            await self.forget(conn, photo_ids)
        await self.remove_files(photo_ids)

    async def forget(self, conn: aiosqlite.Connection, photo_ids: list[str]) -> None:
        """Delete the photos' rows inside the caller's transaction; once it has committed,
        ``remove_files``. A file cannot be unlinked inside a transaction that may still roll
        back: a crash between the two leaves only orphan files, which ``remove_orphans``
        deletes at the next start."""
        await conn.executemany("DELETE FROM photos WHERE id = ?", [(i,) for i in photo_ids])

    async def remove_files(self, photo_ids: list[str]) -> None:
        await asyncio.to_thread(self.sealer.remove, *photo_ids)

    async def remove_orphans(self, older_than: float = ORPHAN_GRACE) -> int:
        """Delete photo files that have no row (and files a crash cut off mid-write) older
        than ``older_than`` seconds; returns how many.

        A file is sealed (by the CPU worker) a moment before its row is written, and another
        process may be doing just that right now (a bot replacing another), so a young file
        is left alone; it goes at a later start if it is still an orphan then.
        """
        indexed = {str(r[0]) for r in await self.db.fetch("SELECT id FROM photos")}
        return await asyncio.to_thread(self.sealer.remove_unindexed, indexed, older_than)

    async def delete_for_user(self, user_key: str, keep: set[str] | None = None) -> int:
        """Delete a user's photos except ``keep`` (those of a submitted declaration)."""
        rows = await self.db.fetch("SELECT id FROM photos WHERE user_key = ?", (user_key,))
        doomed = [str(r[0]) for r in rows if str(r[0]) not in (keep or set())]
        await self.delete(doomed)
        return len(doomed)
