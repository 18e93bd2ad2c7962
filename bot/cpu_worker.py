"""The bot's CPU-heavy work, in a separate process: photo checks, QR reading, PDF rendering.

Why a process and not threads: each of these is partly pure Python holding the interpreter
lock — a declaration PDF (reportlab) ~4.5 ms, a photo check ~2 ms (~6 ms when it must be
re-encoded), a QR scan ~7 ms at the median. In threads they took turns with the event loop
for the one lock: ``bench/flow.py`` measured the bot at ~945 steps/s with photo checks in
threads, their lock time adding to every other user's wait. In a worker they run on the
other core; the bot pays only the hand-off (pickling ~150 KB of photo each way).

Started with the bot (``start``) so the first citizen does not wait ~0.4 s for it; the
message catalogues and the photo key go to the worker once, not with every task. A checked
photo is sealed into its file by the worker, so only its id comes back. ``workers`` defaults
to one process per core beyond the first (the event loop keeps one core).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from bot.declaration_pdf import render_declaration_pdf
from bot.flows.photos import PhotoProblem, check_photo
from bot.flows.qr import CardScan, scan_card
from bot.i18n import Translator
from storage.photos import PhotoSealer

T = TypeVar("T")


@dataclass(frozen=True)
class KeptPhoto:
    """A photo that passed the checks and is sealed in its file under ``photo_id``."""

    photo_id: str
    size: int
    width: int
    height: int


@dataclass
class _WorkerState:
    translator: Translator
    sealer: PhotoSealer


_state: _WorkerState | None = None  # in a worker process only


def _install(translator: Translator, sealer: PhotoSealer) -> None:
    global _state  # noqa: PLW0603 - the worker process's catalogues and photo key
    _state = _WorkerState(translator, sealer)


def _worker() -> _WorkerState:
    assert _state is not None, "the pool's initializer installs it"
    return _state


def _keep_in_worker(data: bytes) -> KeptPhoto | PhotoProblem:
    checked = check_photo(data)
    if isinstance(checked, PhotoProblem):
        return checked
    photo_id = _worker().sealer.seal(checked.jpeg)
    return KeptPhoto(photo_id, len(checked.jpeg), checked.width, checked.height)


def _render_in_worker(
    data: dict[str, Any],
    receipt: str,
    agency: dict[str, str] | None,
    submitted_at: datetime,
    lang: str,
) -> bytes:
    translator = _worker().translator
    return render_declaration_pdf(data, receipt, agency, submitted_at, lang, translator)


class CpuWorker:
    def __init__(
        self, translator: Translator, sealer: PhotoSealer, workers: int | None = None
    ) -> None:
        self.translator = translator
        self.sealer = sealer
        self.workers = workers or max(1, (os.cpu_count() or 2) - 1)
        self._pool: ProcessPoolExecutor | None = None
        self._starting = threading.Lock()

    def start(self) -> ProcessPoolExecutor:
        """Start the worker processes now (idempotent); the first task also starts them."""
        with self._starting:
            if self._pool is None:
                # spawn, not fork: the bot process has threads (SQLite, HTTP) a fork would copy.
                pool = ProcessPoolExecutor(
                    max_workers=self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_install,
                    initargs=(self.translator, self.sealer),
                )
                pool.submit(int).result()  # wait until a worker is up and initialised
                self._pool = pool
            return self._pool

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        pool = self._pool or await asyncio.to_thread(self.start)
        return await asyncio.get_running_loop().run_in_executor(pool, function, *args)

    async def keep_photo(self, data: bytes) -> KeptPhoto | PhotoProblem:
        """Check a photo and seal the stored copy into its file, all in the worker; the
        caller indexes it (``PhotoStore.record``)."""
        return await self._run(_keep_in_worker, data)

    async def scan_card(self, data: bytes) -> CardScan:
        return await self._run(scan_card, data)

    async def render(
        self,
        data: Mapping[str, Any],
        receipt: str,
        agency: Mapping[str, str] | None,
        submitted_at: datetime,
        lang: str,
    ) -> bytes:
        """The declaration PDF (``bot.declaration_pdf``)."""
        return await self._run(
            _render_in_worker,
            dict(data),
            receipt,
            dict(agency) if agency else None,
            submitted_at,
            lang,
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
