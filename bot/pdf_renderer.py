"""Renders declaration PDFs in a separate process.

fpdf2 is pure Python: about 60 ms of CPU per page (font subsetting mostly). Run in a
thread it still holds the interpreter lock and every other user waits (bench/flow.py
measured a text step's p99 going from 8 ms to 290 ms under load). One worker process keeps
the event loop free; it is started on first use and stopped with the bot.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from typing import Any

from bot.declaration_pdf import render_declaration_pdf
from bot.i18n import Translator


class PdfRenderer:
    def __init__(self, translator: Translator) -> None:
        self.translator = translator
        self._pool: ProcessPoolExecutor | None = None

    async def render(
        self,
        data: Mapping[str, Any],
        receipt: str,
        agency: Mapping[str, str] | None,
        submitted_at: datetime,
        lang: str,
    ) -> bytes:
        if self._pool is None:
            # spawn, not fork: the bot process has threads (SQLite, HTTP) a fork would copy.
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool,
            render_declaration_pdf,
            dict(data),
            receipt,
            dict(agency) if agency else None,
            submitted_at,
            lang,
            self.translator,
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
