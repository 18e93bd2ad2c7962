"""The same registration in a terminal: no token, no network.

Buttons become numbered choices, a path to an image file sends that photo (as typed, or as
a terminal pastes a dragged file: quoted, backslash-escaped or as a ``file://`` URL), and
the one-time code is shown from the dev outbox, so a developer can walk the whole flow on
a fresh machine. What the bot would tell the citizen unprompted (an officer's decision, a
reminder) is printed as it comes, as Telegram would show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit
from urllib.request import url2pathname

from bot.clock import Clock, utc_now
from bot.flows.events import Button, Event, Reply
from bot.flows.sanitize import ascii_digits
from bot.service import Outcome
from bot.settings import Settings
from bot.wiring import Components, build
from storage.private import private_folder, write_private

log = logging.getLogger(__name__)

USER_KEY = "console:local"
#: Seconds between two looks for news while the citizen is not typing (the bot sweeps
#: every 5 minutes; a terminal is one user, so it can look more often).
NOTICE_EVERY = 15.0
#: A bot command as Telegram spells it: ``/start``, ``/language en``, ``/help@SomeBot``.
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(@\w+)?(\s.*)?", re.DOTALL)
#: A backslash a shell reads as an escape (macOS terminals paste ``my\ photo.jpg``).
_SHELL_ESCAPE = re.compile(r"\\[\s()\[\]{}'\"&;!$`*?<>|#~=,]")
#: A Windows path: ``C:\…``, ``C:/…`` or ``\\server\share``.
_WINDOWS_PATH = re.compile(r"([A-Za-z]:[\\/]|\\\\)")
#: What a file name typed without a folder ends with when it is meant as a photo.
_FILE_SUFFIXES = frozenset(
    (".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".gif", ".bmp", ".tif", ".tiff")
)
_LONGEST_PATH = 4096


@dataclass(frozen=True)
class NotAFile:
    """A line meant as a photo whose file cannot be read: nothing goes to the bot, the
    console says so and the step goes on. ``reason`` is ``missing`` or ``not_a_file``
    (a folder, a file without read permission)."""

    path: Path
    reason: str


def _meant(text: str) -> str:
    """The path ``text`` spells, as a shell would read it when a terminal quoted or escaped
    a dragged file (``'…'``, ``"…"``, ``my\\ photo.jpg``), and as a file name when a file
    manager pasted a ``file://`` URL. Plain text comes back as it is."""
    spelling = text
    if text[:1] in ("'", '"') or _SHELL_ESCAPE.search(text):
        with contextlib.suppress(ValueError):  # an unbalanced quote: not shell syntax
            words = shlex.split(text)
            if len(words) == 1:
                spelling = words[0]
    if spelling.lower().startswith("file://"):
        url = urlsplit(spelling)
        if url.netloc in ("", "localhost"):
            spelling = url2pathname(url.path)
    return spelling


def _as_path(spelling: str) -> Path | None:
    try:
        return Path(spelling).expanduser()
    except (RuntimeError, ValueError):  # ``~nobody/…``: no such user; a NUL byte
        return None


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a NUL byte, a name too long for the file system: text
        return False


def _looks_like_path(spelling: str) -> bool:
    """Typed as a file, not as an answer: a folder in front, or a picture's file name."""
    if spelling.startswith(("/", "~", "./", "../", "file://")) or _WINDOWS_PATH.match(spelling):
        return True
    return "@" not in spelling and Path(spelling).suffix.lower() in _FILE_SUFFIXES


def _read_file(text: str) -> Event | NotAFile | None:
    """The file ``text`` names as a document event; ``NotAFile`` when it looks like a
    path to nothing readable; ``None`` when it is not a path at all."""
    if not text or len(text) > _LONGEST_PATH:
        return None
    meant = _meant(text)
    for spelling in dict.fromkeys((text, meant)):  # as typed first: a name may hold quotes
        path = _as_path(spelling)
        if path is None or not _is_file(path):
            continue
        try:
            return Event(kind="document", data=path.read_bytes(), file_name=path.name)
        except OSError:  # no permission to read it
            return NotAFile(path, "not_a_file")
    if _COMMAND.fullmatch(text):
        return None
    path = _as_path(meant)
    if path is None or not _looks_like_path(meant):
        return None
    with contextlib.suppress(OSError, ValueError):
        if path.exists():
            return NotAFile(path, "not_a_file")
    return NotAFile(path, "missing")


def to_event(line: str, buttons: list[Button]) -> Event | NotAFile:
    text = line.strip()
    read = _read_file(text)  # before commands: /home/… is a path
    if read is not None:
        return read
    if text.startswith("/") and len(text) > 1:
        head, _, rest = text[1:].partition(" ")
        return Event.slash(head, rest)
    if ascii_digits(text) and len(text) <= 2 and buttons and 1 <= int(text) <= len(buttons):
        return Event.pressed(buttons[int(text) - 1].data)
    return Event.typed(line.rstrip("\n"))


class Console:
    def __init__(self, parts: Components, out: TextIO) -> None:
        self.parts = parts
        self.out = out
        #: The numbered choices: they stay usable while the conversation stays at the step
        #: that showed them (an error message has no buttons of its own, as in Telegram the
        #: question's buttons stay on the question).
        self.buttons: list[Button] = []
        self.state: str | None = None  # the step the buttons belong to
        self.lang: str = parts.settings.bot_default_locale
        self.seen_outbox = 0
        self._telling = asyncio.Lock()  # one look for news at a time: each told once

    def _print(self, text: str = "") -> None:
        print(text, file=self.out)

    def _number(self, button: Button, lang: str) -> None:
        label = self.parts.translator.label(lang, button)
        number = [b.data for b in self.buttons].index(button.data) + 1
        self._print(f"  [{number}] {label}")

    def show(self, replies: list[Reply], lang: str, *, keep: bool = False) -> None:
        """Print the replies with their buttons numbered.

        ``keep``: the buttons shown before stay usable and new ones are numbered after
        them; the whole list is then printed under the last reply, so the numbers on
        screen are the numbers that work.
        """
        translator = self.parts.translator
        if not keep:
            self.buttons = []
        known = {button.data for button in self.buttons}
        for reply in replies:
            for row in reply.buttons:
                for button in row:
                    if button.data not in known:
                        known.add(button.data)
                        self.buttons.append(button)
        for reply in replies:
            self._print(translator.reply(lang, reply))
            if reply.document is not None and reply.document_name:
                exports = private_folder(self.parts.settings.vssid_data_dir / "exports")
                saved = exports / reply.document_name
                write_private(saved, reply.document)
                self._print(translator.text(lang, "console.file_saved", {"path": str(saved)}))
            if keep:
                shown = self.buttons if reply is replies[-1] else []
            else:
                shown = [button for row in reply.buttons for button in row]
            for button in shown:
                self._number(button, lang)
            if reply.keyboard == "contact":
                self._print("  " + translator.text(lang, "console.contact_hint"))
            self._print()

    def not_a_file(self, missing: NotAFile) -> None:
        key = f"console.file_{missing.reason}"
        self._print(self.parts.translator.text(self.lang, key, {"path": str(missing.path)}))
        self._print()

    async def show_outbox(self, lang: str) -> None:
        """Print what went to the dev outbox since the last step (the one-time code)."""
        self.seen_outbox, fresh = await self.parts.outbox.since(self.seen_outbox)
        for message in fresh:
            line = self.parts.translator.text(
                lang,
                "console.otp_shown",
                {"channel": message.channel, "to": message.recipient, "body": message.body},
            )
            self._print(line)

    async def tell_news(self) -> None:
        """What the bot's sweep would send this citizen: an officer's decision, a
        reminder; each is marked delivered once printed, as the Telegram channel does."""
        async with self._telling:
            service = self.parts.service
            for notice in await service.sweep(only=USER_KEY):
                self.show(notice.replies, notice.locale, keep=True)
                if notice.notice_id is not None:
                    await service.notice_delivered(notice.notice_id)

    async def keep_telling_news(self, every: float) -> None:
        """While the citizen reads or types: a decision is news even if nobody types."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.tell_news()
            except Exception:  # a locked database, a bug: the next look may do better
                log.exception("could not look for news for the console")

    async def step(self, event: Event) -> None:
        await self.parts.service.handle(USER_KEY, event, self.deliver)
        await self.parts.service.drain()  # a terminal can wait for the PDF
        await self.show_outbox(self.lang)
        await self.tell_news()

    async def deliver(self, outcome: Outcome) -> None:
        self.lang = outcome.locale
        conv = await self.parts.service.conversations.load(USER_KEY)
        state = conv.state if conv is not None else None
        # At the same step (a wrong answer, /status, /help) the question's buttons stay;
        # a new step or an edited question (a page of a list) brings its own.
        same_step = state is not None and state == self.state
        self.show(
            outcome.replies,
            outcome.locale,
            keep=same_step and not any(r.edit for r in outcome.replies),
        )
        self.state = state


async def run_console(
    settings: Settings,
    read_line: Callable[[], str] = sys.stdin.readline,
    out: TextIO = sys.stdout,
    clock: Clock = utc_now,
    notice_every: float = NOTICE_EVERY,
) -> int:
    # The terminal is where a developer reads the code: always the dev outbox when a channel
    # has no carrier (``VSSID_DEV_OUTBOX`` needs no setting here).
    parts = await build(settings.model_copy(update={"vssid_dev_outbox": True}), clock)
    try:
        await parts.service.cpu.start()  # and a killed bot's photo spools are removed
        console = Console(parts, out)
        console.seen_outbox, _ = await parts.outbox.since(0)
        print(parts.translator.text(console.lang, "console.banner"), file=out)
        async with parts.delivering():
            await console.step(Event.slash("start"))
            news = asyncio.create_task(console.keep_telling_news(notice_every))
            try:
                while True:
                    line = await asyncio.to_thread(read_line)
                    if not line or line.strip() in ("/quit", "/exit"):
                        print(parts.translator.text(console.lang, "console.bye"), file=out)
                        return 0
                    if not line.strip():
                        continue
                    event = await asyncio.to_thread(to_event, line, console.buttons)  # reads
                    if isinstance(event, NotAFile):
                        console.not_a_file(event)
                    else:
                        await console.step(event)
            finally:
                news.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await news
    finally:
        await parts.close()
