"""The worker process that checks photos and renders PDFs: it answers, and it recovers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cpu_worker import CpuWorker, KeptPhoto, WorkerError
from bot.flows.photos import PhotoProblem
from bot.i18n import Translator
from storage.photos import PhotoSealer
from tests.story import photo_bytes


@pytest.fixture
async def worker(tmp_path: Path) -> AsyncIterator[CpuWorker]:
    cpu = CpuWorker(Translator(), PhotoSealer(tmp_path / "photos", b"\x11" * 32), workers=1)
    await cpu.start()
    yield cpu
    await cpu.close()


async def test_a_photo_is_checked_and_sealed_in_the_worker(worker: CpuWorker) -> None:
    sent = photo_bytes(1200, 800)
    kept = await worker.keep_photo(sent)
    assert isinstance(kept, KeptPhoto)
    assert (kept.width, kept.height) == (1200, 800)
    stored = worker.sealer.open(kept.photo_id)  # the bot's process can read what it sealed
    assert stored[:3] == b"\xff\xd8\xff" and len(stored) == kept.size


async def test_a_bad_photo_comes_back_as_a_problem_not_an_error(worker: CpuWorker) -> None:
    problem = await worker.keep_photo(b"%PDF-1.7 not a photo")
    assert isinstance(problem, PhotoProblem) and problem.reason == "not_image"


async def test_a_pdf_and_photos_asked_at_once_all_arrive(worker: CpuWorker) -> None:
    data = {"full_name": "Nguyễn Văn An", "bhxh_code": "0312345678", "agency_code": "03102"}
    moment = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    pdf, *kept = await asyncio.gather(
        worker.render(data, "00001.GD/2026/03102", None, moment, "vi"),
        *(worker.keep_photo(photo_bytes(seed=i)) for i in range(4)),
    )
    assert pdf.startswith(b"%PDF")
    assert all(isinstance(k, KeptPhoto) for k in kept)


async def test_a_failing_task_is_reported_and_the_worker_goes_on(worker: CpuWorker) -> None:
    with pytest.raises(WorkerError, match="render"):
        await worker.render({}, "x", None, "not a datetime", "vi")  # type: ignore[arg-type]
    assert isinstance(await worker.keep_photo(photo_bytes()), KeptPhoto)


async def test_a_worker_that_dies_is_replaced_for_the_next_photo(worker: CpuWorker) -> None:
    [first] = worker._processes
    first.process.kill()
    await first.process.wait()
    kept = await worker.keep_photo(photo_bytes())
    assert isinstance(kept, KeptPhoto)
    [second] = worker._processes
    assert second is not first


async def test_photos_left_behind_by_a_killed_bot_are_removed(
    worker: CpuWorker, tmp_path: Path
) -> None:
    import os
    import subprocess
    import sys

    import bot.cpu_worker as cpu_worker

    gone = subprocess.run(  # noqa: ASYNC221 - a few ms, to learn a pid that is gone
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    root = Path(cpu_worker._RAM_FOLDER or tmp_path)
    stale = root / f"vssid-photos-{int(gone.stdout)}-abc"
    stale.mkdir()
    (stale / "photo").write_bytes(b"\xff\xd8 an ID card")
    mine = root / f"vssid-photos-{os.getpid()}-zzz"
    mine.mkdir()
    try:
        fresh = CpuWorker(worker.translator, worker.sealer, workers=1)
        try:
            await fresh.start()  # at start, not at the next photo
            assert not stale.exists()
            assert isinstance(await fresh.keep_photo(photo_bytes()), KeptPhoto)
        finally:
            await fresh.close()
        assert mine.exists()  # this process is alive
    finally:
        mine.rmdir()
