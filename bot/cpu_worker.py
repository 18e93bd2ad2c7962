"""The bot's CPU-heavy work, in worker processes: photo checks, QR reading, PDF rendering.

Why processes and not threads: each of these is partly pure Python holding the interpreter
lock — a declaration PDF (reportlab) ~4.5 ms, a photo check ~2 ms (~6 ms when it must be
re-encoded), a QR scan ~7 ms at the median. In threads they took turns with the event loop
for the one lock, and every other user waited (``bench/flow.py``: ~945 steps/s with photo
checks in threads).

Why not ``ProcessPoolExecutor``: its hand-offs run through two helper threads (queue
management and pickling), and each needs the interpreter lock, which a busy event loop
gives up only every 5 ms (``sys.getswitchinterval``). ``bench/flow.py`` measured a photo
check taking 9 ms at the median and 80–120 ms at p99 for ~2 ms of work, and PDFs queuing
up to 180 ms, because the pool feeds its worker only as fast as those threads get the lock.
Here the event loop itself writes each task to the worker's stdin and reads the answer from
its stdout (length-prefixed pickles), so there are no helper threads to wait for.

A PDF is sent to a worker only when no citizen's photo or QR code is queued there (the
receipt is already answered; the PDF can wait a few ms). The message catalogues and the
photo key are sent once when a worker starts. A checked photo
is sealed into its file by the worker, so only its id comes back. ``workers`` defaults to
one process per core beyond the first (the event loop keeps one core). A worker that dies
fails its pending tasks (the citizen gets the usual apology) and is started again on the
next task.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from bot.declaration_pdf import render_declaration_pdf
from bot.flows.photos import PhotoProblem, check_photo
from bot.flows.qr import CardScan, scan_card
from bot.i18n import Translator
from storage.photos import PhotoSealer

log = logging.getLogger(__name__)
_HEADER = 4  # bytes of big-endian frame length
_RAM_FOLDER = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108 - tmpfs, Linux
_PROJECT_ROOT = str(Path(__file__).resolve().parent.parent)  # so ``-m bot.cpu_worker`` imports
_STOP_TIMEOUT = 5.0
_BACKGROUND_PATIENCE = 1.0  # s a PDF waits for citizens' photo checks before going anyway


class WorkerError(RuntimeError):
    """A task failed in the worker process, or the process stopped."""


@dataclass(frozen=True)
class KeptPhoto:
    """A photo that passed the checks and is sealed in its file under ``photo_id``."""

    photo_id: str
    size: int
    width: int
    height: int


# ------------------------------------------------------------------------- in the worker
@dataclass
class _WorkerState:
    translator: Translator
    sealer: PhotoSealer


def _take(path: str) -> bytes:
    """A photo the bot left in the spool folder; gone from there once read."""
    try:
        with open(path, "rb") as spooled:
            return spooled.read()
    finally:
        os.unlink(path)


def _keep(state: _WorkerState, data: bytes, channel_encoded: bool) -> KeptPhoto | PhotoProblem:
    checked = check_photo(data, channel_encoded=channel_encoded)
    if isinstance(checked, PhotoProblem):
        return checked
    photo_id = state.sealer.seal(checked.jpeg)
    return KeptPhoto(photo_id, len(checked.jpeg), checked.width, checked.height)


def _keep_photo(state: _WorkerState, path: str, channel_encoded: bool) -> KeptPhoto | PhotoProblem:
    return _keep(state, _take(path), channel_encoded)


def _keep_id_photo(
    state: _WorkerState, path: str, channel_encoded: bool
) -> tuple[KeptPhoto | PhotoProblem, CardScan | None]:
    """An ID photo: kept as any photo, and its QR read quickly (``scan_card(quick=True)``)
    in the same task, so the citizen waits for one round trip, not two."""
    data = _take(path)
    kept = _keep(state, data, channel_encoded)
    if isinstance(kept, PhotoProblem):
        return kept, None
    return kept, scan_card(data, quick=True)


def _scan_card(state: _WorkerState, path: str) -> CardScan:
    return scan_card(_take(path))


def _render(
    state: _WorkerState,
    data: dict[str, Any],
    receipt: str,
    agency: dict[str, str] | None,
    submitted_at: datetime,
    lang: str,
) -> bytes:
    return render_declaration_pdf(data, receipt, agency, submitted_at, lang, state.translator)


def _ping(state: _WorkerState) -> bool:
    return True


#: What a worker can be asked to do, by name: nothing else crosses the pipe as code.
TASKS: dict[str, Callable[..., Any]] = {
    "keep_photo": _keep_photo,
    "keep_id_photo": _keep_id_photo,
    "scan_card": _scan_card,
    "render": _render,
    "ping": _ping,
}


def _read_frame(stream: IO[bytes]) -> bytes | None:
    header = stream.read(_HEADER)
    if len(header) < _HEADER:
        return None
    return stream.read(int.from_bytes(header, "big"))


def _frame(value: object) -> bytes:
    body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return len(body).to_bytes(_HEADER, "big") + body


def serve() -> None:
    """The worker process: read tasks from stdin, answer on stdout, until stdin closes."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print, even from C code, goes to stderr, not into the frames
    sys.stdout = sys.stderr
    tasks = sys.stdin.buffer
    first = _read_frame(tasks)
    if first is None:
        return
    state = _WorkerState(*pickle.loads(first))  # noqa: S301 - our own parent process
    while (frame := _read_frame(tasks)) is not None:
        call_id, name, args = pickle.loads(frame)  # noqa: S301 - our own parent process
        try:
            answer = (call_id, True, TASKS[name](state, *args))
        except Exception as exc:  # reported to the caller, who apologises to the citizen
            answer = (call_id, False, f"{name}: {type(exc).__name__}: {exc}")
        answers.write(_frame(answer))
        answers.flush()


# ------------------------------------------------------------------------- in the bot
_SPOOL_PREFIX = "vssid-photos-"


def _remove_stale_spools() -> None:
    """Spool folders of bot processes that are gone (killed before they could clean up)."""
    root = Path(_RAM_FOLDER or tempfile.gettempdir())
    for folder in root.glob(f"{_SPOOL_PREFIX}*-*"):
        owner = folder.name.removeprefix(_SPOOL_PREFIX).split("-", 1)[0]
        if not owner.isdigit() or int(owner) == os.getpid():
            continue
        try:
            os.kill(int(owner), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            continue  # another user's process, alive


#: What a worker inherits from the bot's environment: where programs and libraries are, the
#: locale, temporary folders, Python's own settings, and libfaketime's (a faketime run must
#: reach the worker too). Nothing else: not the bot token, the SMTP password, the data key
#: (the worker gets the photo sub-key alone, through its stdin) nor any other setting.
_WORKER_ENV_NAMES = frozenset(
    (
        *("PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT"),
        *("LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES", "DYLD_FORCE_FLAT_NAMESPACE"),
        *("DONT_FAKE_MONOTONIC", "NO_FAKE_STAT"),  # libfaketime's older names
    )
)
_WORKER_ENV_PREFIXES = ("LC_", "PYTHON", "FAKETIME")


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The minimal environment a worker process starts with."""
    return {
        name: value
        for name, value in environ.items()
        if name in _WORKER_ENV_NAMES or name.startswith(_WORKER_ENV_PREFIXES)
    }


class _Process:
    """One worker process and the tasks it has not answered yet."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdin is not None
        self.process = process
        self.tasks = process.stdin
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.reader = asyncio.create_task(self._read_answers())
        self.waiting_users = 0  # tasks someone is waiting for to get their answer
        self.no_user_waiting = asyncio.Event()
        self.no_user_waiting.set()
        self.background_slot = asyncio.Semaphore(1)  # one background task queued at a time

    async def call_for_user(self, call_id: int, name: str, args: tuple[Any, ...]) -> Any:
        """A task a citizen is waiting for (a photo, a QR code): sent at once."""
        self.waiting_users += 1
        self.no_user_waiting.clear()
        try:
            return await self.call(call_id, name, args)
        finally:
            self.waiting_users -= 1
            if not self.waiting_users:
                self.no_user_waiting.set()

    async def call_in_background(self, call_id: int, name: str, args: tuple[Any, ...]) -> Any:
        """Work nobody is waiting on (a PDF after its receipt): sent when no citizen's task
        is queued, so a 4.5 ms render never sits in front of someone's photo check; under
        sustained load it goes anyway after ``_BACKGROUND_PATIENCE`` seconds. One at a time:
        PDFs that waited together must not then queue up together in front of the next
        photo (``bench/flow.py`` saw photo checks wait ~400 ms behind such a flood)."""
        async with self.background_slot:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.no_user_waiting.wait(), _BACKGROUND_PATIENCE)
            return await self.call(call_id, name, args)

    @property
    def alive(self) -> bool:
        return self.process.returncode is None and not self.reader.done()

    def send(self, payload: bytes) -> None:
        self.tasks.write(payload)

    async def call(self, call_id: int, name: str, args: tuple[Any, ...]) -> Any:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.pending[call_id] = future
        try:
            # No ``drain()``: it waits until the whole write buffer, other users' tasks
            # queued after this one included, has gone into the pipe. Frames are small
            # (photos go as files) and bounded by the users waiting for an answer.
            self.send(_frame((call_id, name, args)))
        except (ConnectionError, RuntimeError) as exc:
            self.pending.pop(call_id, None)
            raise WorkerError(f"worker process unavailable: {exc}") from exc
        return await future

    async def _read_answers(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        try:
            while True:
                header = await stdout.readexactly(_HEADER)
                body = await stdout.readexactly(int.from_bytes(header, "big"))
                call_id, ok, value = pickle.loads(body)  # noqa: S301 - our own worker
                future = self.pending.pop(call_id, None)
                if future is None or future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(WorkerError(value))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the worker stopped
        except Exception:  # an answer we cannot read: stop using this worker
            log.exception("unreadable answer from the CPU worker; restarting it")
            self.process.kill()
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(WorkerError("the worker process stopped"))
            self.pending.clear()

    async def stop(self) -> None:
        if not self.tasks.is_closing():
            self.tasks.close()  # end of tasks: the worker returns
        try:
            await asyncio.wait_for(self.process.wait(), _STOP_TIMEOUT)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader


class CpuWorker:
    def __init__(
        self, translator: Translator, sealer: PhotoSealer, workers: int | None = None
    ) -> None:
        self.translator = translator
        self.sealer = sealer
        self.workers = workers or max(1, (os.cpu_count() or 2) - 1)
        self._processes: list[_Process] = []
        self._starting = asyncio.Lock()
        self._ids = itertools.count(1)
        self._spool: Path | None = None

    async def start(self) -> None:
        """Start the worker processes now (idempotent); the first task also starts them.

        Also removes the photo spools a killed bot left in RAM: at start, not at the next
        photo, so a citizen's photo does not wait there for the next citizen."""
        _remove_stale_spools()
        await self._ready()

    @property
    def pids(self) -> list[int]:
        """The worker processes' ids (for an operator's ``ps``, and the tests)."""
        return [p.process.pid for p in self._processes if p.alive]

    async def _ready(self) -> list[_Process]:
        live = [p for p in self._processes if p.alive]
        if len(live) == self.workers:
            return live
        async with self._starting:
            self._processes = [p for p in self._processes if p.alive]
            while len(self._processes) < self.workers:
                self._processes.append(await self._spawn())
            return self._processes

    async def _spawn(self) -> _Process:
        env = worker_environment(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PROJECT_ROOT, env.get("PYTHONPATH")]))
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cpu_worker",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        worker = _Process(process)
        worker.send(_frame((self.translator, self.sealer)))
        await worker.call(next(self._ids), "ping", ())  # up, initialised, answering
        return worker

    async def _call(self, name: str, *args: Any, background: bool = False) -> Any:
        processes = await self._ready()
        least_busy = min(processes, key=lambda p: len(p.pending))
        if background:
            return await least_busy.call_in_background(next(self._ids), name, args)
        return await least_busy.call_for_user(next(self._ids), name, args)

    def _spooled(self, data: bytes) -> str:
        """Leave a photo where the worker will read it, and hand over only its path.

        Through the pipe a photo (~150 KB) went over one pipe-full (64 KB) per turn of
        the event loop, and under load turns are milliseconds apart: the worker sat idle
        while photos queued (``bench/flow.py``: ~400 ms per photo check in a closed loop,
        the worker ~55 % busy). A file in a private RAM-backed folder (0700, the file 0600)
        costs a memory copy, and the worker deletes it as soon as it has read it.
        """
        if self._spool is None or not self._spool.is_dir():
            prefix = f"{_SPOOL_PREFIX}{os.getpid()}-"
            self._spool = Path(tempfile.mkdtemp(prefix=prefix, dir=_RAM_FOLDER))
        fd, path = tempfile.mkstemp(dir=self._spool)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        return path

    async def keep_photo(
        self, data: bytes, *, channel_encoded: bool = False
    ) -> KeptPhoto | PhotoProblem:
        """Check a photo and seal the stored copy into its file, all in the worker; the
        caller indexes it (``PhotoStore.record``). ``channel_encoded``: see
        ``bot.flows.photos.check_photo``."""
        path = self._spooled(data)
        kept: KeptPhoto | PhotoProblem = await self._call("keep_photo", path, channel_encoded)
        return kept

    async def keep_id_photo(
        self, data: bytes, *, channel_encoded: bool = False
    ) -> tuple[KeptPhoto | PhotoProblem, CardScan | None]:
        """``keep_photo``, and the quick reading of a QR the photo may show (``None`` when
        the photo was refused)."""
        answer: tuple[KeptPhoto | PhotoProblem, CardScan | None] = await self._call(
            "keep_id_photo", self._spooled(data), channel_encoded
        )
        return answer

    async def scan_card(self, data: bytes) -> CardScan:
        scan: CardScan = await self._call("scan_card", self._spooled(data))
        return scan

    async def render(
        self,
        data: Mapping[str, Any],
        receipt: str,
        agency: Mapping[str, str] | None,
        submitted_at: datetime,
        lang: str,
    ) -> bytes:
        """The declaration PDF (``bot.declaration_pdf``)."""
        copy = dict(agency) if agency else None
        pdf: bytes = await self._call(
            "render", dict(data), receipt, copy, submitted_at, lang, background=True
        )
        return pdf

    async def close(self) -> None:
        processes, self._processes = self._processes, []
        await asyncio.gather(*(p.stop() for p in processes))
        if self._spool is not None:  # photos a stopped worker never took
            shutil.rmtree(self._spool, ignore_errors=True)
            self._spool = None


if __name__ == "__main__":
    # Through the package, not this ``__main__`` copy: the classes in answers must pickle as
    # ``bot.cpu_worker.KeptPhoto``, which the bot can load.
    from bot.cpu_worker import serve as serve_from_package

    serve_from_package()
