"""Benchmark the whole registration through the real PTB ``Application``, in one process.

What runs: the ``Application`` made by ``bot.handlers.app.build_application`` (real handler,
real ``RegistrationService`` and flow, real SQLite write-through in a temporary data folder,
real photo check/encryption and declaration PDF, both in the CPU worker process the bot
starts (``bot/cpu_worker.py``, as in production), and the background submission worker that
``post_init`` starts), fed ``Update.de_json(json.loads(raw), bot)`` through
``await app.process_update(update)`` (the webhook path: no updater, no network), on the
event loop the bot runs on (``bot.event_loop``: uvloop where installed). Every Bot API
call the bot makes is answered by :class:`LocalBotApi`, a ``BaseRequest`` that reads
``request_data.json_parameters`` (and ``multipart_data``) as ``HTTPXRequest`` would and returns
realistic JSON: ``getMe``, ``setMyCommands``, ``sendMessage``, ``editMessageText``,
``answerCallbackQuery``, ``getFile`` + the file download, ``sendDocument``.

Wiring: ``build_application(settings, parts, request=..., rate_limiter=...)`` gets the
in-process :class:`LocalBotApi` from :func:`local_transport`. The limiter stays
the bot's own ``TelegramBudget`` (``bot/handlers/budget.py``: PTB's ``AIORateLimiter`` with a
background lane; ``max_retries=3``) but with its *overall* 30 messages/s bucket and the
background lane's cap off (``overall_max_rate=0``, ``background_max_rate=0``): they model
Telegram's bulk limit, not CPU, and cap the bot at a few dozen steps/s whatever the code
costs; one short extra run measures exactly that, with the budget as shipped.

A user (``SCRIPT``, the happy path of ``tests/story.py``) sends 18 updates: /start, the consent
button, 7 typed answers, the e-mail-choice button, an e-mail, 3 photos (1000×750 JPEG, ~150 KB,
made once with Pillow), the first suggested agency button, the confirm button, the "code by
e-mail" button (only pressed when the bot offers it) and the 6-digit code. Buttons are pressed on
the bot's own message, as Telegram sends it back. The code is read from what the bot writes to
the dev outbox (a wrapper around ``parts.outbox.put`` keeps the body as the user's mailbox, so
the simulator adds no SQL to the bot's connection). Logging is set up as ``bot.__main__`` does
(INFO, same format, httpx at WARNING) but written to /dev/null. A run fails loudly if any
step got no answer or anything was logged at WARNING or above.

Measures (each 3 runs, medians; ``--quick``: one short run of each, 50 users, N = 1,000):

1. throughput: 200 users at once, each sending its next update as soon as ``process_update``
   for the previous one returned; steps/s = all updates / wall time of the whole run. Also
   CPU per step (process, event-loop thread, and the CPU worker processes, from ``/proc``)
   and Bot API calls per step; and the calls
   aimed at a chat (every one with a ``chat_id``: messages, edits, the PDF; not
   ``answerCallbackQuery`` or ``getFile``) per completed registration, PDFs included (counted
   after the background backlog is drained): each spends Telegram's ~30 a second.
2. latency: open loop at a steady 500 steps/s. ``LANES`` lanes each play one user after
   another; slot *i* is due at ``t0 + i/rate`` whether or not other steps are done (a lane
   waits for its own previous step; how late steps start is reported as "schedule lag").
   Lane *l*'s first user is advanced ``l % 18`` steps beforehand (untimed), so the step mix is
   uniform from the first slot. Latency = from ``process_update`` start to the *last*
   sendMessage/editMessageText/sendDocument of that step (the complete answer, including the
   next question); the first reply is shown too. An overloaded run stops issuing
   ``OVERLOAD_GRACE`` s after its schedule ends. One more run at half of 500/s (or of the
   measured throughput if that is lower) shows the latency of a bot that keeps up easily.
3. memory: in 3 fresh interpreters (in parallel; RSS is per process), N = 5,000 conversations
   are stopped at the name question. RSS (``/proc/self/statm``) after ``gc.collect()`` is
   compared with a baseline taken after ``gc.collect()`` + ``malloc_trim(0)``, per
   conversation; again after ``service.conversations.forget_cache()`` + gc, and after a
   final ``malloc_trim(0)``.

Usage: ``python bench/flow.py [--quick] [--profile] [--waits]``. The last line is
``steps_per_s=… p50_ms=… p99_ms=… kb_per_conversation=… calls_per_registration=…`` (median
throughput, median of the 500 steps/s runs' p50/p99 of the complete answer, memory with the
row cache kept as the bot runs, median chat-aimed calls per registration). ``--profile``
prints cProfile tables of one throughput run (event-loop thread only); ``--waits`` samples
where that run's users wait (the CPU worker, a database write, …), which names the bottleneck.
"""

from __future__ import annotations

import os

os.environ.setdefault("PTB_TIMEDELTA", "true")  # before telegram is imported

import argparse
import asyncio
import contextlib
import ctypes
import gc
import io
import json
import logging
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw, ImageFilter  # noqa: E402
from telegram import Update  # noqa: E402
from telegram.ext import Application  # noqa: E402
from telegram.request import BaseRequest, RequestData  # noqa: E402

from bot import event_loop  # noqa: E402
from bot.__main__ import configure_logging as configure_bot_logging  # noqa: E402
from bot.handlers import app as app_module  # noqa: E402
from bot.handlers.budget import TelegramBudget  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.wiring import Components, build  # noqa: E402

BOT_ID = 7_100_000_001
TOKEN = f"{BOT_ID}:AAbenchBENCHbenchBENCHbenchBENCHbe"
BOT_USER = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "VssID",
    "username": "vssid_bench_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
#: Values the Bot API takes as plain strings; everything else arrives JSON-encoded.
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "callback_query_id",
        "file_id",
        "language_code",
        "parse_mode",
        "inline_message_id",
        "url",
        "business_connection_id",
        "filename",
    }
)
SHOWN = frozenset({"sendMessage", "editMessageText", "sendDocument", "sendPhoto"})

#: The happy path of tests/story.py ``fill_until_review`` + confirm + code.
SCRIPT: tuple[tuple[str, str], ...] = (
    ("command", "/start"),
    ("press", "consent:yes:"),
    ("bhxh", ""),  # each user's own: one declaration per BHXH code may wait at a time
    ("text", "Nguyễn Văn An"),
    ("text", "001099012345"),
    ("text", "hai phong"),
    ("text", "gia vien"),
    ("text", "Số 5 Lạch Tray"),
    ("text", "0983 847 986"),
    ("press", "email_choice:yes"),
    ("email", ""),
    ("photo", "0"),
    ("photo", "1"),
    ("photo", "2"),
    ("press", "agency:pick:"),
    ("press", "review:confirm"),
    ("press?", "otp:via:email"),  # asked when both an e-mail and a phone are known
    ("otp", ""),
)
PARK_AT = 3  # /start, consent, BHXH code: the conversation now waits at the name question
CODE = re.compile(r"\b\d{6}\b")

THROUGHPUT_USERS = 200
RATE = 500.0
LANES = 100  # → at 500 steps/s each simulated user sends a step every 0.2 s
WARM_USERS = 5  # whole registrations run before each measurement (imports, caches, threads)
OVERLOAD_GRACE = 2.0  # s after the schedule's end at which an overloaded run stops issuing
MEMORY_N = 5000


# ---------------------------------------------------------------------------- photos
def make_photo(seed: int, width: int = 1000, height: int = 750) -> bytes:
    """A camera-like JPEG (noise, gradient, shapes, slight blur): ~150 KB at q85."""
    noise = Image.effect_noise((width, height), 40).convert("RGB")
    base = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    image = Image.blend(base, noise, 0.35)
    draw = ImageDraw.Draw(image)
    for i in range(0, width, 37):
        draw.line([(i, 0), (width - i, height)], fill=(20 + seed * 30, 60, 120), width=3)
    draw.rectangle([width // 4, height // 4, width // 2, height // 2], fill=(240, 235, 220))
    image = image.filter(ImageFilter.GaussianBlur(0.8))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


# ---------------------------------------------------------------------------- fake Telegram
@dataclass
class ChatLog:
    """What the fake server keeps per private chat (dropped when a user is done)."""

    next_id: int = 1
    keyboard_message: dict[str, Any] | None = None
    first: float = 0.0
    last: float = 0.0
    shown: int = 0

    def take_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1


class FakeTelegram:
    """The server side of the Bot API, answering in-process."""

    def __init__(self, photos: list[bytes]) -> None:
        self.photos = photos
        self.chats: dict[int, ChatLog] = {}
        self.calls: Counter[str] = Counter()
        self.chat_calls = 0  # calls with a chat_id: what Telegram's ~30 a second counts
        self.errors: list[str] = []

    def chat(self, chat_id: int) -> ChatLog:
        log = self.chats.get(chat_id)
        if log is None:
            log = self.chats[chat_id] = ChatLog()
        return log

    def forget(self, chat_id: int) -> None:
        self.chats.pop(chat_id, None)

    @staticmethod
    def chat_json(chat_id: int) -> dict[str, Any]:
        return {"id": chat_id, "type": "private", "first_name": "An", "last_name": "Nguyễn"}

    def call(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self.calls[method] += 1
        if "chat_id" in params:
            self.chat_calls += 1
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            self.errors.append(f"unexpected Bot API method {method}")
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        result = handler(params)
        if method in SHOWN:
            log = self.chat(int(params["chat_id"]))
            now = time.perf_counter()
            if not log.first:
                log.first = now
            log.last = now
            log.shown += 1
        return 200, {"ok": True, "result": result}

    def api_getMe(self, params: dict[str, Any]) -> Any:
        return BOT_USER

    def api_setMyCommands(self, params: dict[str, Any]) -> Any:
        return True

    def api_answerCallbackQuery(self, params: dict[str, Any]) -> Any:
        return True

    def _message(self, chat_id: int, params: dict[str, Any], message_id: int) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": BOT_USER,
            "chat": self.chat_json(chat_id),
            "date": int(time.time()),
        }
        if "text" in params:
            message["text"] = params["text"]
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = {"inline_keyboard": markup["inline_keyboard"]}
        return message

    def api_sendMessage(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        log = self.chat(chat_id)
        message = self._message(chat_id, params, log.take_id())
        if "reply_markup" in message:
            log.keyboard_message = message
        return message

    def api_editMessageText(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        log = self.chat(chat_id)
        message = self._message(chat_id, params, int(params["message_id"]))
        message["edit_date"] = message["date"]
        kept = log.keyboard_message
        if "reply_markup" in message:
            log.keyboard_message = message
        elif kept is not None and kept["message_id"] == message["message_id"]:
            log.keyboard_message = None
        return message

    def api_sendDocument(self, params: dict[str, Any]) -> Any:
        chat_id = int(params["chat_id"])
        message = self._message(chat_id, params, self.chat(chat_id).take_id())
        message["document"] = {
            "file_id": f"BQAD{chat_id}_{message['message_id']}",
            "file_unique_id": f"AgAD{chat_id}{message['message_id']}",
            "file_name": params.get("filename") or "document.pdf",
            "mime_type": "application/pdf",
            "file_size": int(params.get("_size", 0)),
        }
        if "caption" in params:
            message["caption"] = params["caption"]
        return message

    def api_getFile(self, params: dict[str, Any]) -> Any:
        file_id = str(params["file_id"])  # "AgACphoto_<index>_<user>_<size>"
        _, index, user, _ = file_id.rsplit("_", 3)
        return {
            "file_id": file_id,
            "file_unique_id": f"AQAD{index}{user}",
            "file_size": len(self.photos[int(index)]),
            "file_path": f"photos/file_{index}_{user}.jpg",
        }

    def download(self, path: str) -> bytes:
        index = int(path.rsplit("/", 1)[-1].split("_")[1])
        return self.photos[index]


class LocalBotApi(BaseRequest):
    """``BaseRequest`` answering in-process; parses parameters as ``HTTPXRequest`` sends them."""

    def __init__(self, server: FakeTelegram) -> None:
        self.server = server

    @property
    def read_timeout(self) -> float | None:
        return 20.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if "/file/bot" in url:
            return 200, self.server.download(url)
        params: dict[str, Any] = {}
        if request_data is not None:
            for name, value in request_data.json_parameters.items():
                params[name] = value if name in STRING_PARAMS else _json_or_str(value)
            if request_data.contains_files:
                size = 0
                for part in request_data.multipart_data.values():
                    content = part[1] if isinstance(part, tuple) else b""
                    size += len(content) if isinstance(content, bytes) else 0
                params["_size"] = size
        code, body = self.server.call(url.rsplit("/", 1)[-1], params)
        return code, json.dumps(body, ensure_ascii=False).encode()


def _json_or_str(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def local_transport(
    server: FakeTelegram, settings: Settings, *, throttle: bool
) -> dict[str, Any]:
    """Arguments for ``build_application``: :class:`LocalBotApi` instead of ``HTTPXRequest``;
    with ``throttle=False`` the limiter is still ``TelegramBudget`` (same retries), minus its
    overall 30 msg/s bucket and the background lane's cap."""
    limiter = (
        TelegramBudget(background_max_rate=settings.telegram_background_rate)
        if throttle
        else TelegramBudget(background_max_rate=0, overall_max_rate=0)
    )
    return {"request": LocalBotApi(server), "rate_limiter": limiter}


# ---------------------------------------------------------------------------- the bot
class ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = f"{record.name}: {record.getMessage()}"
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            text += f" [{type(exc).__name__}: {exc}]"
        self.records.append(text[:400])


ERRORS = ErrorCounter()


def configure_logging() -> None:
    """As ``bot.__main__.main`` does (INFO, same format), but into /dev/null."""
    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    configure_bot_logging(sink)
    logging.getLogger().addHandler(ERRORS)


@dataclass
class Step:
    kind: str
    start: float
    first: float
    last: float
    end: float


@dataclass
class SimUser:
    uid: int
    step: int = 0

    @property
    def done(self) -> bool:
        return self.step >= len(SCRIPT)

    @property
    def email(self) -> str:
        return f"u{self.uid}@example.com"

    @property
    def bhxh_code(self) -> str:
        return f"03{self.uid % 10**8:08d}"


@dataclass
class Sim:
    """One bot (components + Application + fake Telegram) in its own data folder."""

    folder: Path
    parts: Components
    app: Application[Any, Any, Any, Any, Any, Any]
    server: FakeTelegram
    mailbox: dict[str, str] = field(default_factory=dict)
    expecting: set[str] = field(default_factory=set)  # e-mails of users waiting for a code
    update_id: int = 0

    # -- the updates a user sends -------------------------------------------------------
    def _user_json(self, uid: int) -> dict[str, Any]:
        return {
            "id": uid,
            "is_bot": False,
            "first_name": "An",
            "last_name": "Nguyễn",
            "language_code": "vi",
        }

    def _message(self, uid: int, **content: Any) -> dict[str, Any]:
        return {
            "message_id": self.server.chat(uid).take_id(),
            "from": self._user_json(uid),
            "chat": FakeTelegram.chat_json(uid),
            "date": int(time.time()),
            **content,
        }

    def _button(self, uid: int, prefix: str) -> tuple[dict[str, Any], str] | None:
        """The newest message with an inline keyboard, and its button whose data starts so."""
        shown = self.server.chat(uid).keyboard_message
        if shown is None:
            return None
        for row in shown["reply_markup"]["inline_keyboard"]:
            for button in row:
                if str(button.get("callback_data", "")).startswith(prefix):
                    return shown, str(button["callback_data"])
        return None

    async def raw_update(self, user: SimUser) -> tuple[str, str]:
        kind, value = SCRIPT[user.step]
        while kind.endswith("?"):  # an optional press: skipped when the bot did not ask
            if self._button(user.uid, value) is not None:
                kind = kind[:-1]
                break
            user.step += 1
            kind, value = SCRIPT[user.step]
        self.update_id += 1
        body: dict[str, Any] = {"update_id": self.update_id}
        uid = user.uid
        if kind == "command":
            entity = {"offset": 0, "length": len(value), "type": "bot_command"}
            body["message"] = self._message(uid, text=value, entities=[entity])
        elif kind == "text":
            body["message"] = self._message(uid, text=value)
        elif kind == "email":
            body["message"] = self._message(uid, text=user.email)
        elif kind == "bhxh":
            body["message"] = self._message(uid, text=user.bhxh_code)
        elif kind == "otp":
            self.expecting.discard(user.email)
            body["message"] = self._message(uid, text=await self._code_for(user.email))
        elif kind == "photo":
            size = len(self.server.photos[int(value)])
            sizes = [(90, 68, 1_400), (320, 240, 16_000), (800, 600, 95_000), (1000, 750, size)]
            body["message"] = self._message(
                uid,
                photo=[
                    {
                        "file_id": f"AgACphoto_{value}_{uid}_{w}",
                        "file_unique_id": f"AQAD{value}{uid}{w}",
                        "width": w,
                        "height": h,
                        "file_size": n,
                    }
                    for w, h, n in sizes
                ],
            )
        else:  # press: the button (by data prefix) on the newest message with a keyboard
            found = self._button(uid, value)
            if found is None:
                raise RuntimeError(f"user {uid}: no button {value!r} at step {user.step}")
            shown, data = found
            if data == "review:confirm":
                self.expecting.add(user.email)
            body["callback_query"] = {
                "id": f"{uid}{self.update_id}",
                "from": self._user_json(uid),
                "message": shown,
                "chat_instance": f"ci{uid}",
                "data": data,
            }
        user.step += 1
        shown_as = "text" if kind == "bhxh" else kind  # a typed answer like the others
        return shown_as, json.dumps(body, ensure_ascii=False)

    async def _code_for(self, email: str) -> str:
        body = self.mailbox.pop(email, None)
        if body is None:  # not seen by the wrapper: read the dev outbox table
            [message] = await self.parts.outbox.latest(email, limit=1)
            body = message.body
        found = CODE.search(body)
        if not found:
            raise RuntimeError(f"no code in {body!r}")
        return found.group(0)

    # -- one step -----------------------------------------------------------------------
    async def step(self, user: SimUser) -> Step:
        kind, raw = await self.raw_update(user)
        update = Update.de_json(json.loads(raw), self.app.bot)
        log = self.server.chat(user.uid)
        log.first = log.last = 0.0
        start = time.perf_counter()
        await self.app.process_update(update)
        end = time.perf_counter()
        if not log.first:
            self.server.errors.append(f"user {user.uid}: no reply to {kind} step {user.step}")
        return Step(kind, start, log.first or end, log.last or end, end)

    async def run_user(self, user: SimUser, until: int = len(SCRIPT)) -> int:
        steps = 0
        while user.step < until:
            await self.step(user)
            steps += 1
        if user.done:
            self.server.forget(user.uid)
        return steps

    async def count(self, sql: str) -> list[Any]:
        return await self.parts.db.fetch(sql)


@contextlib.asynccontextmanager
async def running_bot(photos: list[bytes], *, throttle: bool = False) -> AsyncIterator[Sim]:
    folder = Path(tempfile.mkdtemp(prefix="vssid-bench-"))
    server = FakeTelegram(photos)
    settings = Settings(
        vssid_data_dir=folder,
        telegram_bot_token=TOKEN,  # type: ignore[arg-type]
        smtp_host=None,
        sms_gateway_url=None,
        vssid_dev_outbox=True,  # the simulated users read their codes there
        vssid_data_key="11" * 32,  # type: ignore[arg-type]
        bot_default_locale="vi",
    )
    parts = await build(settings)
    app = app_module.build_application(
        settings, parts, **local_transport(server, settings, throttle=throttle)
    )
    sim = Sim(folder, parts, app, server)
    original_put = parts.outbox.put

    async def put_and_deliver(
        channel: str, recipient: str, subject: str, body: str, now: Any
    ) -> None:
        await original_put(channel, recipient, subject, body, now)
        if recipient in sim.expecting:  # the user's inbox; the row is in dev_outbox as well
            sim.mailbox[recipient] = body

    parts.outbox.put = put_and_deliver  # type: ignore[method-assign]
    await app.initialize()
    if app.post_init is not None:  # run_polling would call it (setMyCommands)
        await app.post_init(app)
    try:
        yield sim
    finally:
        await app.shutdown()
        if app.post_shutdown is not None:  # run_polling would call it (stops background work)
            await app.post_shutdown(app)
        await parts.close()
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------- measures
_next_uid = 1_000_000


def new_uids(n: int) -> range:
    global _next_uid  # noqa: PLW0603
    first = _next_uid
    _next_uid += n
    return range(first, first + n)


async def warm_up(sim: Sim, users: int = WARM_USERS) -> None:
    await asyncio.gather(*(sim.run_user(SimUser(uid)) for uid in new_uids(users)))


@dataclass
class ThroughputRun:
    steps: int
    rate: float
    cpu_ms: float  # whole process (all threads) CPU per step, while users were answered
    loop_cpu_ms: float  # event-loop thread CPU per step
    calls: Counter[str]
    drain_s: float  # background backlog left when the last user was answered
    sustained_rate: float  # steps / (run + drain)
    cpu_all_ms: float  # whole process CPU per step, backlog included
    calls_per_registration: float  # calls with a chat_id, PDFs included
    worker_cpu_ms: float  # the CPU worker processes' CPU per step, while users were answered


def processes_cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the live processes ``pids`` have used so far: a child's
    own figures from ``/proc``, since ``RUSAGE_CHILDREN`` counts only children that ended."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / ticks


async def throughput(photos: list[bytes], users: int) -> ThroughputRun:
    async with running_bot(photos) as sim:
        await warm_up(sim)
        await sim.parts.service.drain()  # the warm-up's PDFs, not to be counted below
        gc.collect()
        calls_before = Counter(sim.server.calls)
        chat_calls_before = sim.server.chat_calls
        workers = sim.parts.service.cpu.pids
        cpu, loop_cpu = time.process_time(), time.thread_time()
        worker_cpu = processes_cpu(workers)
        start = time.perf_counter()
        counts = await asyncio.gather(*(sim.run_user(SimUser(uid)) for uid in new_uids(users)))
        elapsed = time.perf_counter() - start
        cpu_run, loop_cpu = time.process_time() - cpu, time.thread_time() - loop_cpu
        worker_cpu = processes_cpu(workers) - worker_cpu
        calls = sim.server.calls - calls_before
        # Work the replies did not wait for (the submission worker's e-mail copies) is still
        # queued: post_shutdown lets the worker finish its pass, i.e. drain that backlog.
        drain_start = time.perf_counter()
        if sim.app.post_shutdown is not None:
            await sim.app.post_shutdown(sim.app)  # idempotent: running_bot's second call no-ops
        drain = time.perf_counter() - drain_start
        cpu_all = time.process_time() - cpu
        chat_calls = sim.server.chat_calls - chat_calls_before
        [[declared]] = await sim.count("SELECT COUNT(*) FROM declarations")
        check(sim, int(declared), users + WARM_USERS)
    steps = sum(counts)
    return ThroughputRun(
        steps,
        steps / elapsed,
        cpu_run / steps * 1e3,
        loop_cpu / steps * 1e3,
        calls,
        drain,
        steps / (elapsed + drain),
        cpu_all / steps * 1e3,
        chat_calls / users,
        worker_cpu / steps * 1e3,
    )


async def throttled_throughput(photos: list[bytes], users: int, window: float) -> float:
    """Closed loop with ``TelegramBudget`` exactly as shipped, for ``window`` seconds."""
    async with running_bot(photos, throttle=True) as sim:
        done = 0

        async def one(uid: int) -> None:
            nonlocal done
            user = SimUser(uid)
            while not user.done:
                await sim.step(user)
                done += 1

        start = time.perf_counter()
        tasks = [asyncio.create_task(one(uid)) for uid in new_uids(users)]
        await asyncio.sleep(window)
        finished, elapsed = done, time.perf_counter() - start
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return finished / elapsed


@dataclass
class LatencyRun:
    last_ms: list[float]
    first_ms: list[float]
    lag_ms: list[float]
    by_kind: dict[str, list[float]]
    achieved_rate: float
    not_issued: int = 0  # slots dropped after the overload deadline


async def latency(photos: list[bytes], rate: float, lanes: int, duration: float) -> LatencyRun:
    """Open loop: slot i is due at t0 + i/rate; lane i % lanes plays it (see the docstring)."""
    async with running_bot(photos) as sim:
        await warm_up(sim)
        users = [SimUser(uid) for uid in new_uids(lanes)]
        # Stagger: lane l starts l % len(SCRIPT) steps into its first user's flow (untimed).
        await asyncio.gather(*(sim.run_user(u, until=i % len(SCRIPT)) for i, u in enumerate(users)))
        gc.collect()
        slots = int(rate * duration)
        run = LatencyRun([], [], [], {}, 0.0)
        t0 = time.perf_counter() + 0.05
        deadline = t0 + duration + OVERLOAD_GRACE  # an overloaded bot stops being fed here

        async def lane(index: int) -> None:
            user = users[index]
            for slot in range(index, slots, lanes):
                due = t0 + slot / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif time.perf_counter() > deadline:
                    run.not_issued += len(range(slot, slots, lanes))
                    return
                step = await sim.step(user)
                last_ms = (step.last - step.start) * 1000
                run.last_ms.append(last_ms)
                run.first_ms.append((step.first - step.start) * 1000)
                run.lag_ms.append(max(0.0, step.start - due) * 1000)
                run.by_kind.setdefault(step.kind, []).append(last_ms)
                if user.done:
                    sim.server.forget(user.uid)
                    user = SimUser(new_uids(1)[0])

        await asyncio.gather(*(lane(i) for i in range(lanes)))
        run.achieved_rate = len(run.last_ms) / (time.perf_counter() - t0)
        check(sim, None, None)
    return run


def check(sim: Sim, declared: int | None, expected: int | None) -> None:
    problems = sim.server.errors[:5] + ERRORS.records[:5]
    if declared is not None and declared != expected:
        problems.append(f"{declared} declarations stored, {expected} expected")
    if problems:
        raise RuntimeError("bench run went wrong:\n  " + "\n  ".join(problems))


def trim() -> None:
    """Give free heap pages back to the OS (glibc), so RSS shows what is still in use."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def memory_worker(photos: list[bytes], n: int) -> dict[str, Any]:
    """Run in a fresh interpreter: RSS growth per conversation parked at the name question."""
    async with running_bot(photos) as sim:
        # Warm up with parked users only: a finished registration would set the submission
        # worker rendering PDFs in the background during the measurement.
        parked_warm = [SimUser(uid) for uid in new_uids(300)]
        await asyncio.gather(*(sim.run_user(u, until=PARK_AT) for u in parked_warm))
        for u in parked_warm:
            sim.server.forget(u.uid)
        store = sim.parts.service.conversations
        cached_before = len(store._cache)  # noqa: SLF001 - reporting only
        gc.collect()
        trim()  # start from a heap with no free pages kept, so the deltas below are growth
        before = rss_bytes()
        uids = list(new_uids(n))
        for chunk in range(0, n, 200):  # 200 users at a time, like the throughput run
            batch = [SimUser(uid) for uid in uids[chunk : chunk + 200]]
            await asyncio.gather(*(sim.run_user(u, until=PARK_AT) for u in batch))
            for u in batch:
                sim.server.forget(u.uid)
        gc.collect()
        after = rss_bytes()
        cached_after = len(store._cache)  # noqa: SLF001
        cache_bytes = sum(
            sys.getsizeof(k) + sys.getsizeof(v)
            for k, v in store._cache.items()  # noqa: SLF001
        )
        store.forget_cache()
        gc.collect()
        cleared = rss_bytes()
        trim()
        trimmed = rss_bytes()
        states = dict(await sim.count("SELECT state, COUNT(*) FROM conversations GROUP BY state"))
        [[pages]] = await sim.count("PRAGMA page_count")
        [[page_size]] = await sim.count("PRAGMA page_size")
        check(sim, None, None)
    return {
        "n": n,
        "kb_cached": (after - before) / n / 1024,
        "kb_cleared": (cleared - before) / n / 1024,
        "kb_trimmed": (trimmed - before) / n / 1024,
        "rss_before_mb": before / 2**20,
        "cache_entries": cached_after - cached_before,
        "cache_bytes_per_entry": cache_bytes / max(1, cached_after),
        "stored_full_name": states.get("full_name", 0),
        "db_mb": int(pages) * int(page_size) / 2**20,  # SQLite's page cache holds ≤ 2 MB of it
    }


def run_memory_subprocesses(n: int, count: int) -> list[dict[str, Any]]:
    """``count`` fresh interpreters at once (RSS is per process, so they do not disturb it)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-worker", str(n)]
    workers = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
        )
        for _ in range(count)
    ]
    results: list[dict[str, Any]] = []
    for worker in workers:
        out, err = worker.communicate()
        if worker.returncode != 0:
            raise RuntimeError(f"memory worker failed:\n{err[-2000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def version() -> str:
    try:
        done = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            check=False,
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
    except OSError:
        return "unknown"
    return done.stdout.strip() or "unknown"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def row(name: str, values: list[float], fmt: str = "{:9.1f}") -> str:
    cells = " ".join(fmt.format(v) for v in values)
    return f"{name:<46} {cells:<30} | {fmt.format(statistics.median(values))}"


async def profile(photos: list[bytes], users: int) -> None:
    """cProfile of one throughput run (event-loop thread only), top functions by own time."""
    import cProfile
    import pstats

    async with running_bot(photos) as sim:
        await warm_up(sim)
        profiler = cProfile.Profile()
        profiler.enable()
        start = time.perf_counter()
        counts = await asyncio.gather(*(sim.run_user(SimUser(uid)) for uid in new_uids(users)))
        elapsed = time.perf_counter() - start
        profiler.disable()
    print(f"profiled run: {sum(counts)} steps in {elapsed:.2f} s (with profiler overhead)")
    stats = pstats.Stats(profiler)
    profiler.dump_stats(os.environ.get("BENCH_PROFILE_OUT", "/tmp/bench_flow.prof"))
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(45)


def _awaited_in(coro: Any) -> str:
    """Where a suspended coroutine chain waits: its deepest frame in the bot's own code
    (``bot/`` or ``storage/``), as ``module:function``, with the worker task's ``name`` or
    the first words of the statement's ``sql`` when the frame has one."""
    where = "elsewhere"
    while coro is not None:
        frame = getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
        if frame is not None:
            path = frame.f_code.co_filename
            for root in ("/bot/", "/storage/"):
                if root in path:
                    module = root.strip("/") + "/" + path.rsplit(root, 1)[1]
                    where = f"{module}:{frame.f_code.co_name}"
                    detail = frame.f_locals.get("name") or frame.f_locals.get("sql")
                    if isinstance(detail, str):
                        where += f" ({' '.join(detail.split()[:3])})"
        coro = getattr(coro, "cr_await", None) or getattr(coro, "gi_yieldfrom", None)
    return where


async def waits(photos: list[bytes], users: int, every: float = 0.005) -> None:
    """Where the users of one throughput run wait, sampled every ``every`` s.

    Little's law makes this the bottleneck's name: with the throughput independent of the
    number of users, the share of users parked at one await is the share of the run that
    resource holds them up. Walking 200 coroutine chains costs the event loop ~10 %,
    so the run's own speed is not reported.
    """
    samples: Counter[str] = Counter()
    finished = asyncio.Event()

    async def sample() -> None:
        while not finished.is_set():
            await asyncio.sleep(every)
            for task in asyncio.all_tasks():
                coro = task.get_coro()
                if getattr(coro, "__qualname__", "") == "Sim.run_user":
                    samples[_awaited_in(coro)] += 1

    async with running_bot(photos) as sim:
        await warm_up(sim)
        sampler = asyncio.create_task(sample())
        await asyncio.gather(*(sim.run_user(SimUser(uid)) for uid in new_uids(users)))
        finished.set()
        await sampler
    total = sum(samples.values()) or 1
    print(f"where {users} users wait during a throughput run ({total} samples):")
    for where, count in samples.most_common(12):
        print(f"  {100 * count / total:5.1f} %  {where}")


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def main_async(args: argparse.Namespace) -> None:
    photos = [make_photo(seed) for seed in range(3)]
    if args.memory_worker:
        print(json.dumps(await memory_worker(photos, args.memory_worker)))
        return
    if args.profile:
        await profile(photos, THROUGHPUT_USERS)
        return
    if args.waits:
        await waits(photos, THROUGHPUT_USERS)
        return
    quick = args.quick
    repeats = 1 if quick else 3
    users = 50 if quick else THROUGHPUT_USERS
    duration = 2.0 if quick else 4.0
    memory_n = 1000 if quick else MEMORY_N
    began = time.perf_counter()

    def stamp() -> str:
        return f"[{time.perf_counter() - began:5.1f} s]"

    print(f"code: {version()} (git describe --dirty)")
    print(f"photos: 3 × 1000×750 JPEG, {statistics.mean(map(len, photos)) / 1024:.0f} KB avg")
    print(f"script: up to {len(SCRIPT)} updates per user (3 photos); repeats: {repeats}")
    print(f"load average at start: {loadavg()} (other processes share this machine's 2 cores)")
    tput: list[ThroughputRun] = []
    for _ in range(repeats):
        tput.append(await throughput(photos, users))
        t = tput[-1]
        print(
            f"  {stamp()} throughput run: {t.steps} steps, {t.rate:.0f} steps/s,"
            f" {t.cpu_ms:.2f} ms CPU/step; then {t.drain_s:.1f} s of background backlog"
        )
    lat: list[LatencyRun] = []
    for _ in range(repeats):
        lat.append(await latency(photos, RATE, LANES, duration))
        r = lat[-1]
        print(
            f"  {stamp()} latency run: {len(r.last_ms)} steps at {r.achieved_rate:.0f}/s achieved"
            f" ({r.not_issued} not issued), p50 {pct(r.last_ms, 50):.1f} ms,"
            f" p99 {pct(r.last_ms, 99):.1f} ms"
        )
    # One more open-loop run at half the measured capacity: the latency when not overloaded.
    half_rate = round(min(RATE, statistics.median(t.rate for t in tput)) / 2)
    half_lanes = max(10, round(LANES * half_rate / RATE))
    half = None if quick else await latency(photos, half_rate, half_lanes, duration)
    if half is not None:
        print(f"  {stamp()} latency run at {half_rate}/s: {len(half.last_ms)} steps")
    limited = await throttled_throughput(photos, users, 2.0 if quick else 3.0)
    print(f"  {stamp()} throttled run (TelegramBudget as shipped): {limited:.0f} steps/s")
    mem = run_memory_subprocesses(memory_n, repeats)
    for m in mem:
        print(
            f"  {stamp()} memory run: {m['n']} parked, {m['kb_cached']:.2f} KB/conv"
            f" (rows stored at full_name: {m['stored_full_name']}, database {m['db_mb']:.1f} MB)"
        )

    print()
    header = "  ".join(f"run{i + 1:>6}" for i in range(repeats))
    print(f"{'measure':<46} {header:<30} | median")
    print("-" * 90)
    print(
        row(f"throughput, {users} users closed loop (steps/s)", [t.rate for t in tput], "{:9.0f}")
    )
    print(row("  background backlog after the run (s)", [t.drain_s for t in tput], "{:9.1f}"))
    print(row("  steps/s incl. draining that backlog", [t.sustained_rate for t in tput], "{:9.0f}"))
    print(row("  CPU per step, whole process (ms)", [t.cpu_ms for t in tput], "{:9.2f}"))
    print(row("  CPU per step, incl. backlog (ms)", [t.cpu_all_ms for t in tput], "{:9.2f}"))
    print(row("  CPU per step, event-loop thread (ms)", [t.loop_cpu_ms for t in tput], "{:9.2f}"))
    print(row("  CPU per step, CPU worker (ms)", [t.worker_cpu_ms for t in tput], "{:9.2f}"))
    print(row("  Bot API calls per step", [t.calls.total() / t.steps for t in tput], "{:9.2f}"))
    print(
        row(
            "  chat-aimed calls per registration",
            [t.calls_per_registration for t in tput],
            "{:9.1f}",
        )
    )
    print(row("latency @500/s, complete answer p50 (ms)", [pct(r.last_ms, 50) for r in lat]))
    print(row("latency @500/s, complete answer p99 (ms)", [pct(r.last_ms, 99) for r in lat]))
    print(row("latency @500/s, first reply p50 (ms)", [pct(r.first_ms, 50) for r in lat]))
    print(row("latency @500/s, first reply p99 (ms)", [pct(r.first_ms, 99) for r in lat]))
    print(row("latency @500/s, max (ms)", [max(r.last_ms) for r in lat]))
    print(row("  schedule lag p99 (ms late vs. due time)", [pct(r.lag_ms, 99) for r in lat]))
    print(row("  rate achieved (steps/s)", [r.achieved_rate for r in lat], "{:9.0f}"))
    print(row("  slots not issued (overload cut-off)", [r.not_issued for r in lat], "{:9.0f}"))
    print(row("memory KB/conversation, row cache kept", [m["kb_cached"] for m in mem], "{:9.2f}"))
    print(
        row("memory KB/conversation, cache cleared + gc", [m["kb_cleared"] for m in mem], "{:9.2f}")
    )
    print(
        row("memory KB/conversation, + malloc_trim(0)", [m["kb_trimmed"] for m in mem], "{:9.2f}")
    )
    print(
        row(
            "  row cache, bytes per entry (key + value)",
            [m["cache_bytes_per_entry"] for m in mem],
            "{:9.0f}",
        )
    )
    print()
    calls = sum((t.calls for t in tput), Counter())
    steps_total = sum(t.steps for t in tput)
    print(
        "Bot API calls per step: "
        + ", ".join(f"{name} {n / steps_total:.2f}" for name, n in calls.most_common())
    )
    print("latency @500/s by step kind (complete answer, runs pooled):")
    for kind in sorted({k for r in lat for k in r.by_kind}):
        pooled = [v for r in lat for v in r.by_kind.get(kind, [])]
        print(
            f"  {kind:<8} n={len(pooled):>6}  p50 {pct(pooled, 50):8.2f} ms"
            f"  p99 {pct(pooled, 99):8.2f} ms  max {max(pooled):8.2f} ms"
        )
    if half is not None:
        print(
            f"latency @{half_rate}/s = half of 500/s or of the throughput if lower"
            f" (one run, {half_lanes} lanes):"
            f" p50 {pct(half.last_ms, 50):.2f} ms, p99 {pct(half.last_ms, 99):.2f} ms,"
            f" first reply p99 {pct(half.first_ms, 99):.2f} ms,"
            f" lag p99 {pct(half.lag_ms, 99):.2f} ms"
        )
        for kind in sorted(half.by_kind):
            values = half.by_kind[kind]
            print(
                f"  {kind:<8} n={len(values):>6}  p50 {pct(values, 50):8.2f} ms"
                f"  p99 {pct(values, 99):8.2f} ms  max {max(values):8.2f} ms"
            )
    print(
        f"with TelegramBudget as shipped (overall 30 msg/s): {limited:.0f} steps/s"
        f" ({users} users, closed loop)"
    )
    print(f"load average at end: {loadavg()}; whole run {time.perf_counter() - began:.0f} s")
    print()
    steps_per_s = statistics.median(t.rate for t in tput)
    p50 = statistics.median(pct(r.last_ms, 50) for r in lat)
    p99 = statistics.median(pct(r.last_ms, 99) for r in lat)
    kb = statistics.median(m["kb_cached"] for m in mem)
    per_registration = statistics.median(t.calls_per_registration for t in tput)
    print(
        f"steps_per_s={steps_per_s:.0f} p50_ms={p50:.2f} p99_ms={p99:.2f}"
        f" kb_per_conversation={kb:.2f} calls_per_registration={per_registration:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one short run of each (~20 s)")
    parser.add_argument("--profile", action="store_true", help="cProfile one throughput run")
    parser.add_argument("--waits", action="store_true", help="where users wait, sampled")
    parser.add_argument("--memory-worker", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    configure_logging()
    event_loop.run(main_async(args))  # the loop the bot runs on


if __name__ == "__main__":
    main()
