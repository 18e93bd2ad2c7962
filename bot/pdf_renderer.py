"""Renders declaration PDFs in a separate process.

A render (bot/declaration_pdf.py, reportlab + rl_accel) costs about 4.5 ms of CPU
(bench/pdf.py: median 4.2–6 ms, p95 4.5–8 ms on the 2-core test machine; the first render in
a process adds ~35 ms to load the fonts). That is down from ~65 ms with fpdf2, but it is
still mostly pure Python holding the interpreter lock: in a thread each render would stall
the event loop for a few ms, and at ~83 registrations/s the renders alone take ~0.4 s of
CPU per second, which would then share one core with the bot. One worker process keeps the
event loop free and puts that work on the other core (it keeps up with ~200 renders/s).
It is started with the bot (``start``) so the first citizen does not wait ~0.4 s for it,
and it receives the message catalogues once, not with every declaration.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from typing import Any

from bot.declaration_pdf import render_declaration_pdf
from bot.i18n import Translator

_worker_translator: Translator | None = None  # in the worker process only


def _install(translator: Translator) -> None:
    global _worker_translator  # noqa: PLW0603 - the worker process's one translator
    _worker_translator = translator


def _render_in_worker(
    data: dict[str, Any],
    receipt: str,
    agency: dict[str, str] | None,
    submitted_at: datetime,
    lang: str,
) -> bytes:
    assert _worker_translator is not None, "the pool's initializer installs it"
    return render_declaration_pdf(data, receipt, agency, submitted_at, lang, _worker_translator)


class PdfRenderer:
    def __init__(self, translator: Translator) -> None:
        self.translator = translator
        self._pool: ProcessPoolExecutor | None = None
        self._starting = threading.Lock()

    def start(self) -> ProcessPoolExecutor:
        """Start the worker process now (idempotent); ``render`` also starts it if needed."""
        with self._starting:
            return self._pool or self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # spawn, not fork: the bot process has threads (SQLite, HTTP) a fork would copy.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=context,
                initializer=_install,
                initargs=(self.translator,),
            )
            self._pool.submit(int).result()  # wait until the worker is up and initialised
        return self._pool

    async def render(
        self,
        data: Mapping[str, Any],
        receipt: str,
        agency: Mapping[str, str] | None,
        submitted_at: datetime,
        lang: str,
    ) -> bytes:
        pool = self._pool or await asyncio.to_thread(self.start)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            pool,
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
