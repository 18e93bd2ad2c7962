"""Folders and files only the bot's own user can open: the data folder and everything the bot
writes in it (database, write-ahead log, photos, exported PDFs, the key file).

Why the modes are set with ``chmod`` after creating: the mode given to ``mkdir`` or
``open`` is filtered by the process's umask, so a umask of 000 would still give 0600, but
an operator's umask must not be what keeps citizens' data private, and a folder or file
left wider by an older version is tightened at the next start.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: Path) -> Path:
    """Create ``path`` (and its parents) if needed; only the owner may enter it."""
    path.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    os.chmod(path, FOLDER_MODE)
    return path


def private_file(path: Path) -> None:
    """Create ``path`` empty if it does not exist; either way, owner-only."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)


def tighten(path: Path) -> None:
    """Owner-only, if ``path`` exists (a file another program created, e.g. SQLite's WAL)."""
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, FILE_MODE)


def write_private(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write ``data`` to ``path`` atomically, owner-only: a reader sees the whole file or
    none. With ``replace=False`` an existing file is kept and ``FileExistsError`` raised
    (two processes creating the same key file: one wins, the other reads it)."""
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), FILE_MODE)
            handle.write(data)
        if replace:
            os.replace(temp, path)
        else:
            os.link(temp, path)  # fails if ``path`` exists, unlike a rename
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
