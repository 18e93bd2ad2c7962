"""The agency directory as the operator's file says now: ``vssid-bot agencies import`` while
the bot runs is offered to citizens within a minute, without a restart.

Why a look at the file's modification on use, at most once a minute, rather than a file
watcher: the directory is consulted at one step of each registration, a ``stat`` is a few
microseconds, and a watcher would be a thread or a dependency for one file that changes a
few times a year. The import replaces the file atomically (``os.replace``), so a look never
sees half a file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.flows.agencies import (
    OPERATOR_FILE_NAME,
    Agency,
    AgencyCsvError,
    AgencyDirectory,
    load_directory,
)

log = logging.getLogger(__name__)

#: How stale the bot's view of ``agencies.csv`` may be (the README promises this).
LOOK_EVERY = timedelta(minutes=1)

Stamp = tuple[int, int, int] | None


class LiveAgencies:
    """``bot.flows.ports.Agencies`` over ``{data_dir}/agencies.csv``, reloaded when it
    changes. A file that no longer loads (hand-edited) is logged and the last good
    directory stays in use: refusing citizens an office would help nobody."""

    def __init__(
        self, data_dir: Path, clock: Callable[[], datetime], every: timedelta = LOOK_EVERY
    ) -> None:
        self._data_dir = data_dir
        self._file = data_dir / OPERATOR_FILE_NAME
        self._clock = clock
        self._every = every
        self._stamp = self._stamp_now()
        self._current = load_directory(data_dir)  # a broken file still stops the start
        self._looked = clock()

    def _stamp_now(self) -> Stamp:
        """What changes when the file is replaced or edited (``None``: no file)."""
        try:
            stat = self._file.stat()
        except FileNotFoundError:
            return None
        return (stat.st_mtime_ns, stat.st_size, stat.st_ino)

    def _fresh(self) -> AgencyDirectory:
        now = self._clock()
        if self._looked <= now < self._looked + self._every:
            return self._current
        self._looked = now
        stamp = self._stamp_now()
        if stamp == self._stamp:
            return self._current
        self._stamp = stamp  # taken before reading: a change meanwhile is seen next time
        try:
            self._current = load_directory(self._data_dir)
        except (AgencyCsvError, OSError) as exc:
            log.error("%s changed but does not load, the previous list stays: %s", self._file, exc)
        else:
            log.info("agency directory reloaded from %s", self._file)
        return self._current

    def all(self) -> list[Agency]:
        return self._fresh().all()

    def by_code(self, code: str) -> Agency | None:
        return self._fresh().by_code(code)

    def for_province(self, province_code: str) -> list[Agency]:
        return self._fresh().for_province(province_code)

    def suggest(self, *args: Any, **kwargs: Any) -> list[Agency]:
        """``AgencyDirectory.suggest`` on the current list (its arguments, not repeated)."""
        return self._fresh().suggest(*args, **kwargs)

    def search(self, text: str, limit: int = 8) -> list[Agency]:
        return self._fresh().search(text, limit)
