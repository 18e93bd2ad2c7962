"""A small Telegram Bot API emulator (aiohttp on 127.0.0.1) for end-to-end tests.

The bot under test is a real PTB ``Application`` with its real ``HTTPXRequest``, pointed here with
``base_url=f"{emu.root_url}/bot"`` and ``base_file_url=f"{emu.root_url}/file/bot"``. The test acts
as the users (``send_text``, ``press_button``, ...) and reads what the bot did (``messages``,
``calls``). Design after watzon/tg-mock (spec validation, error injection, ``/__control`` API) and
jehy/telegram-test-api (in-memory chats driven as a user).

Behaviour worth knowing:

* Every request is checked against the Bot API spec (see :mod:`.spec`); a request real Telegram
  would refuse is answered 400 and recorded in :attr:`BotApiEmulator.spec_violations`.
* Chats must be known before the bot can write to them, as on Telegram ("chat not found"): a
  private chat becomes known when its user sends anything (or via :meth:`add_private_chat`), a
  staff supergroup via :meth:`add_forum_chat` (or a raw update coming from it).
* Message ids are per chat and shared by user and bot messages; a forum topic's
  ``message_thread_id`` is the id of its ``forum_topic_created`` service message.
* Closed forum topics still accept the bot's messages (it is an administrator there); use
  :meth:`BotApiEmulator.fail_next` to simulate ``TOPIC_CLOSED``.
* Only inline keyboards are echoed in returned ``Message`` objects (like Telegram); every
  ``reply_markup`` the bot sent is kept on :class:`SentMessage`.
* State lives in the event loop that runs the server; call the helpers from that loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import dataclasses
import io
import itertools
import json
import mimetypes
import re
import time
import traceback
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from aiohttp import BodyPartReader, web

from .formatting import ParsedText, parse_text
from .spec import (
    CheckResult,
    check_request,
    decode_form_params,
    method_fields,
    resolve_method,
)

__all__ = [
    "ApiCall",
    "BotApiEmulator",
    "ForumTopicState",
    "ReplyButton",
    "SentMessage",
    "button_rows",
    "buttons",
    "reply_keyboard",
]

MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile limit for bots
MAX_UPLOAD = 50 * 1024 * 1024
_LONG_POLL_CAP = 60.0
_SETTLE = 0.05
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]+)?")
_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_TOPIC_COLORS = {7322096, 16766590, 13338331, 9367192, 16749490, 16478047}
_DEFAULT_ALLOWED = {"chat_member", "message_reaction", "message_reaction_count"}
_MEDIA_KEYS = (
    "photo",
    "document",
    "video",
    "audio",
    "voice",
    "video_note",
    "animation",
    "sticker",
    "contact",
    "location",
    "venue",
    "poll",
    "dice",
)
# methods whose successful call changes what a chat shows (used by wait_activity)
_ACTIVITY_METHODS = {
    "sendMessage",
    "sendPhoto",
    "sendDocument",
    "sendMediaGroup",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
    "editMessageMedia",
    "deleteMessage",
    "deleteMessages",
    "copyMessage",
    "copyMessages",
    "forwardMessage",
    "forwardMessages",
}

_MSG_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_THREAD_NOT_FOUND = "Bad Request: message thread not found"
_QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


# ------------------------------------------------------------------------------- public records


@dataclass
class SentMessage:
    """The current state of one message the bot sent (edits applied in place)."""

    message_id: int
    chat_id: int
    text: str | None  # text or caption, exactly as the bot sent it (markup included)
    reply_markup: dict[str, Any] | None
    kind: str  # "text" | "photo" | "document" | (copies) "contact", "sticker", "voice", ...
    file: bytes | None = None
    file_name: str | None = None
    edited: int = 0
    message_thread_id: int | None = None
    parse_mode: str | None = None
    mime_type: str | None = None
    file_id: str | None = None
    plain_text: str | None = None  # text/caption after entity parsing (what the user sees)
    entities: list[dict[str, Any]] = field(default_factory=list)
    method: str = "sendMessage"
    date: int = 0
    reply_to_message_id: int | None = None
    copied_from: tuple[int, int] | None = None  # (from_chat_id, message_id) for copy/forward
    media: dict[str, Any] = field(
        default_factory=dict
    )  # Message JSON media part, e.g. {"photo": [...]}

    @property
    def caption(self) -> str | None:
        return None if self.kind == "text" else self.text

    def to_json(self) -> dict[str, Any]:
        """JSON-friendly form (file bytes base64-encoded) used by the control API."""
        data = dataclasses.asdict(self)
        data["file"] = base64.b64encode(self.file).decode("ascii") if self.file else None
        return data


@dataclass
class ApiCall:
    """One HTTP request the bot made, with the decoded parameters and the JSON answered."""

    seq: int
    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    response: dict[str, Any]
    status: int = 200
    file_names: dict[str, str] = field(default_factory=dict)
    at: float = 0.0

    @property
    def ok(self) -> bool:
        return self.response.get("ok") is True

    @property
    def result(self) -> Any:
        return self.response.get("result")

    @property
    def description(self) -> str | None:
        return self.response.get("description")

    @property
    def chat_id(self) -> int | str | None:
        value = self.params.get("chat_id")
        return value if isinstance(value, int | str) else None

    def __str__(self) -> str:
        shown = {k: v for k, v in self.params.items() if k not in ("reply_markup", "entities")}
        args = ", ".join(f"{k}={_short(v)}" for k, v in shown.items())
        if self.files:
            args += (", " if args else "") + ", ".join(
                f"{k}=<{len(v)} bytes>" for k, v in self.files.items()
            )
        outcome = "ok" if self.ok else f"{self.status} {self.description}"
        return f"#{self.seq} {self.method}({args}) -> {outcome}"


@dataclass
class ForumTopicState:
    message_thread_id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    closed: bool = False
    created_message: dict[str, Any] = field(default_factory=dict)


class ReplyButton(NamedTuple):
    text: str
    request_contact: bool = False
    request_location: bool = False


def _markup_of(msg: SentMessage | dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(msg, SentMessage):
        return msg.reply_markup or {}
    if isinstance(msg, dict):
        return msg.get("reply_markup") or msg
    return {}


def button_rows(msg: SentMessage | dict[str, Any] | None) -> list[list[tuple[str, str]]]:
    """Inline keyboard rows as ``(text, callback_data)``; buttons without callback_data have ""."""
    rows = _markup_of(msg).get("inline_keyboard") or []
    return [[(b.get("text", ""), b.get("callback_data", "")) for b in row] for row in rows]


def buttons(msg: SentMessage | dict[str, Any] | None) -> list[tuple[str, str]]:
    """``(text, callback_data)`` of every callback button of an inline keyboard, row by row."""
    return [(text, data) for row in button_rows(msg) for text, data in row if data]


def reply_keyboard(msg: SentMessage | dict[str, Any] | None) -> list[ReplyButton]:
    """Buttons of a reply keyboard (``ReplyKeyboardMarkup``), flattened row by row."""
    rows = _markup_of(msg).get("keyboard") or []
    out: list[ReplyButton] = []
    for row in rows:
        for button in row:
            if isinstance(button, str):
                out.append(ReplyButton(button))
            else:
                out.append(
                    ReplyButton(
                        button.get("text", ""),
                        bool(button.get("request_contact")),
                        bool(button.get("request_location")),
                    )
                )
    return out


# ------------------------------------------------------------------------------------ internals


class _ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def _bad(description: str) -> _ApiError:
    return _ApiError(
        400, description if description.startswith("Bad Request") else f"Bad Request: {description}"
    )


@dataclass
class _Upload:
    data: bytes
    filename: str | None
    content_type: str | None


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int = 0
    height: int = 0


@dataclass
class _Failure:
    method: str
    error_code: int
    description: str
    retry_after: int | None
    times: int
    chat_id: int | None


@dataclass
class _Req:
    method: str
    params: dict[str, Any]
    files: dict[str, _Upload]
    checked: CheckResult


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _norm_markup(markup: Any) -> str | None:
    if not isinstance(markup, dict) or not markup.get("inline_keyboard"):
        return None
    return json.dumps(markup, sort_keys=True, ensure_ascii=False)


def _image_size(data: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image  # noqa: PLC0415

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                return int(img.width), int(img.height)
    except Exception:  # not an image Pillow can read
        return None


def _thumbnail(data: bytes, side: int) -> tuple[bytes, int, int] | None:
    try:
        from PIL import Image  # noqa: PLC0415

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:
                img.thumbnail((side, side))
                out = io.BytesIO()
                img.convert("RGB").save(out, "JPEG", quality=80)
                return out.getvalue(), int(img.width), int(img.height)
    except Exception:
        return None


# ------------------------------------------------------------------------------------ emulator


class BotApiEmulator:
    """In-memory Telegram Bot API server; see the module docstring."""

    def __init__(
        self, token: str = "123456:TEST-TOKEN", bot_username: str = "vssid_test_bot"
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        bot_id = token.split(":", 1)[0]
        self.bot_id = int(bot_id) if bot_id.isdigit() else 123456
        self.root_url = ""
        self.spec_violations: list[str] = []
        self.internal_errors: list[str] = []  # tracebacks of emulator bugs (answered 500)
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self._changed = asyncio.Event()
        self._version = 0
        self._ids = itertools.count(1)
        # updates
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._poll_generation = 0
        self._active_polls = 0
        self._allowed_updates: list[str] | None = None
        self._webhook_url = ""
        # chats, users, messages
        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._forums: dict[int, dict[int, ForumTopicState]] = {}
        self._next_mid: dict[int, int] = {}
        self._user_msgs: dict[tuple[int, int], dict[str, Any]] = {}
        self._bot_msgs: dict[int, dict[int, SentMessage]] = {}
        self._reply_keyboards: dict[int, dict[str, Any] | None] = {}
        self._blocked: set[int] = set()
        self._members: dict[tuple[int, int], str] = {}
        self._callback_queries: dict[str, bool] = {}  # id -> answered
        self.callback_answers: list[dict[str, Any]] = []
        # files
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._photo_sizes: dict[str, list[dict[str, Any]]] = {}  # any size's file_id -> sizes
        # bot settings
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.bot_settings: dict[str, Any] = {}
        # log and error injection
        self._calls: list[ApiCall] = []
        self._failures: list[_Failure] = []
        self._stubs: dict[str, Any] = {}
        self._handlers: dict[str, Callable[[_Req], Awaitable[Any]]] = {
            "getMe": self._get_me,
            "logOut": self._true,
            "close": self._true,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "setMyDescription": self._store_setting,
            "setMyShortDescription": self._store_setting,
            "setMyName": self._store_setting,
            "setChatMenuButton": self._set_chat_menu_button,
            "getChatMenuButton": self._get_chat_menu_button,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "editMessageText": self._edit_message_text,
            "editMessageCaption": self._edit_message_caption,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "deleteMessage": self._delete_message,
            "deleteMessages": self._delete_messages,
            "answerCallbackQuery": self._answer_callback_query,
            "sendChatAction": self._send_chat_action,
            "copyMessage": self._copy_message,
            "forwardMessage": self._forward_message,
            "createForumTopic": self._create_forum_topic,
            "editForumTopic": self._edit_forum_topic,
            "closeForumTopic": self._close_forum_topic,
            "reopenForumTopic": self._reopen_forum_topic,
            "deleteForumTopic": self._delete_forum_topic,
            "getFile": self._get_file,
            "getChat": self._get_chat,
            "getChatMember": self._get_chat_member,
            "pinChatMessage": self._pin_chat_message,
            "unpinChatMessage": self._true,
        }

    # ------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Bind 127.0.0.1 on a free port; ``root_url`` is set afterwards."""
        if self._runner is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._closing = False
        app = web.Application(client_max_size=MAX_UPLOAD + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_post("/__control/updates", self._control_updates)
        app.router.add_get("/__control/messages", self._control_messages)
        app.router.add_get("/__control/calls", self._control_calls)
        app.router.add_post("/__control/fail_next", self._control_fail_next)
        app.router.add_get("/__control/spec_violations", self._control_violations)
        runner = web.AppRunner(
            app, shutdown_timeout=1.0, handler_cancellation=True, access_log=None
        )
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        host, port = runner.addresses[0][:2]
        self.root_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Release pending long polls at once, then shut the server down."""
        if self._runner is None:
            return
        self._closing = True
        self._bump()
        await asyncio.sleep(0)
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """``base_url`` for PTB (``ApplicationBuilder().base_url(...)``)."""
        return f"{self.root_url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root_url}/file/bot"

    # -------------------------------------------------------------------------- change signal

    def _bump(self) -> None:
        """Wake every waiter (long polls, wait_for); safe to call from another thread."""
        loop = self._loop
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if loop is None or running is loop:
            self._bump_now()
        else:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(self._bump_now)

    def _bump_now(self) -> None:
        self._version += 1
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def _wait_change(self, at_most: float) -> None:
        event = self._changed
        if at_most <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(at_most):
                await event.wait()

    # ------------------------------------------------------------------------- user identities

    def _user_json(self, user_id: int) -> dict[str, Any]:
        profile = self._users.setdefault(user_id, {"first_name": "An", "language_code": "vi"})
        return {"id": user_id, "is_bot": False, **profile}

    def _set_profile(self, user_id: int, **values: str | None) -> None:
        profile = self._users.setdefault(user_id, {"first_name": "An", "language_code": "vi"})
        profile.update({k: v for k, v in values.items() if v is not None})
        if user_id in self._chats and self._chats[user_id]["type"] == "private":
            self._chats[user_id] = self._private_chat_json(user_id)

    def _private_chat_json(self, user_id: int) -> dict[str, Any]:
        profile = self._users.get(user_id, {"first_name": "An"})
        chat = {"id": user_id, "type": "private", "first_name": profile.get("first_name", "An")}
        for key in ("last_name", "username"):
            if profile.get(key):
                chat[key] = profile[key]
        return chat

    def _ensure_private_chat(self, user_id: int) -> dict[str, Any]:
        self._user_json(user_id)
        if user_id not in self._chats:
            self._chats[user_id] = self._private_chat_json(user_id)
        return self._chats[user_id]

    def _next_message_id(self, chat_id: int) -> int:
        mid = self._next_mid.get(chat_id, 1)
        self._next_mid[chat_id] = mid + 1
        return mid

    @staticmethod
    def _now() -> int:
        return int(time.time())

    # ------------------------------------------------------------------------ acting as a user

    def _queue_update(self, body: dict[str, Any]) -> int:
        update_id = self._next_update_id
        self._next_update_id += 1
        self._updates.append({"update_id": update_id, **body})
        self._bump()
        return update_id

    def _user_message(
        self,
        user_id: int,
        content: dict[str, Any],
        *,
        chat_id: int | None = None,
        message_thread_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        chat_key = user_id if chat_id is None else chat_id
        chat = self._ensure_private_chat(user_id) if chat_id is None else self._chats[chat_key]
        mid = self._next_message_id(chat_key)
        msg: dict[str, Any] = {
            "message_id": mid,
            "from": self._user_json(user_id),
            "chat": dict(chat),
            "date": self._now(),
        }
        if message_thread_id is not None:
            msg["message_thread_id"] = message_thread_id
            msg["is_topic_message"] = True
            topic = self._forums.get(chat_key, {}).get(message_thread_id)
            if topic is not None and reply_to_message_id is None:
                msg["reply_to_message"] = copy.deepcopy(topic.created_message)
        if reply_to_message_id is not None:
            replied = self._message_json_by_id(chat_key, reply_to_message_id)
            if replied is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat_key}")
            replied.pop("reply_to_message", None)
            msg["reply_to_message"] = replied
        msg.update(content)
        self._user_msgs[(chat_key, mid)] = msg
        return self._queue_update({"message": msg})

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """A private text message from ``user_id`` (a leading /command gets its entity).

        The profile (``first_name`` default "An", ``language_code`` default "vi", ...) is
        remembered per user: pass a value once and later messages keep it.
        """
        self._set_profile(
            user_id,
            first_name=first_name,
            language_code=language_code,
            last_name=last_name,
            username=username,
        )
        content: dict[str, Any] = {"text": text}
        match = _COMMAND_RE.match(text)
        if match:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": match.end()}]
        return self._user_message(user_id, content, reply_to_message_id=reply_to_message_id)

    def send_command(self, user_id: int, command: str) -> int:
        """``/start`` (or ``start``, ``/start payload``) with a ``bot_command`` entity."""
        text = command if command.startswith("/") else f"/{command}"
        command_len = len(text.split(maxsplit=1)[0])
        content = {
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": command_len}],
        }
        return self._user_message(user_id, content)

    def send_photo(self, user_id: int, data: bytes, *, caption: str | None = None) -> int:
        """A photo; ``message.photo`` has 2-3 sizes, the largest being exactly ``data``."""
        content: dict[str, Any] = {"photo": self._store_photo(data)}
        if caption is not None:
            content["caption"] = caption
        return self._user_message(user_id, content)

    def send_document(
        self,
        user_id: int,
        data: bytes,
        *,
        file_name: str,
        mime_type: str,
        caption: str | None = None,
    ) -> int:
        stored = self._store_file(data, "documents", file_name=file_name, mime_type=mime_type)
        content: dict[str, Any] = {"document": self._document_json(stored)}
        if caption is not None:
            content["caption"] = caption
        return self._user_message(user_id, content)

    def send_contact(
        self,
        user_id: int,
        phone_number: str,
        *,
        contact_user_id: int | None = None,
        first_name: str | None = None,
    ) -> int:
        """A shared contact; by default the user's own (as with a request_contact button)."""
        owner = user_id if contact_user_id is None else contact_user_id
        profile = self._user_json(user_id)
        contact = {
            "phone_number": phone_number,
            "first_name": first_name or profile.get("first_name", "An"),
            "user_id": owner,
        }
        if owner == user_id and profile.get("last_name"):
            contact["last_name"] = profile["last_name"]
        return self._user_message(user_id, {"contact": contact})

    def send_sticker(self, user_id: int) -> int:
        stored = self._store_file(
            b"RIFF\x00\x00\x00\x00WEBPVP8 ", "stickers", mime_type="image/webp"
        )
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "\U0001f44d",
            "set_name": "TestStickers",
            "file_size": len(stored.data),
        }
        return self._user_message(user_id, {"sticker": sticker})

    def send_voice(self, user_id: int, *, duration: int = 2) -> int:
        stored = self._store_file(b"OggS\x00\x02" + b"\x00" * 64, "voice", mime_type="audio/ogg")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": duration,
            "mime_type": "audio/ogg",
            "file_size": len(stored.data),
        }
        return self._user_message(user_id, {"voice": voice})

    def press_button(
        self,
        user_id: int,
        message_id: int,
        callback_data: str,
        *,
        strict: bool = True,
        chat_id: int | None = None,
    ) -> int:
        """The user presses an inline button of bot message ``message_id`` in their private chat
        (or in ``chat_id``, e.g. the staff group).

        With ``strict`` (default) the message must exist and currently show a button carrying
        ``callback_data``, as a real client could only press what is on screen.
        """
        chat_key = user_id if chat_id is None else chat_id
        sent = self._bot_msgs.get(chat_key, {}).get(message_id)
        if strict:
            if sent is None:
                raise ValueError(f"bot message {message_id} not found in chat {chat_key}")
            available = [data for _, data in buttons(sent)]
            if callback_data not in available:
                raise ValueError(
                    f"message {message_id} has no button with callback_data {callback_data!r}; "
                    f"it shows {buttons(sent)}"
                )
        query_id = str(4_000_000_000_000_000 + next(self._ids))
        self._callback_queries[query_id] = False
        query: dict[str, Any] = {
            "id": query_id,
            "from": self._user_json(user_id),
            "chat_instance": str(-(abs(chat_key) * 7919 % 10**18) - 1),
            "data": callback_data,
        }
        if sent is not None:
            query["message"] = self._message_json(sent)
        else:  # an old message the emulator never saw: Telegram sends InaccessibleMessage
            chat = self._ensure_private_chat(user_id) if chat_id is None else self._chats[chat_id]
            query["message"] = {"message_id": message_id, "chat": dict(chat), "date": 0}
        return self._queue_update({"callback_query": query})

    def click(self, user_id: int, label: str, *, message_id: int | None = None) -> int:
        """Press the inline button labelled ``label`` on the newest bot message showing it."""
        candidates = reversed(list(self._bot_msgs.get(user_id, {}).values()))
        for sent in candidates:
            if message_id is not None and sent.message_id != message_id:
                continue
            for text, data in buttons(sent):
                if text == label:
                    return self.press_button(user_id, sent.message_id, data)
        shown = [buttons(m) for m in self._bot_msgs.get(user_id, {}).values() if buttons(m)]
        raise ValueError(f"no inline button labelled {label!r} in chat {user_id}; buttons: {shown}")

    def send_raw_update(self, update: dict[str, Any]) -> int:
        """Queue any update (the update_id is assigned here). Chats and messages in it are
        registered (a chat with ``is_forum`` becomes a forum chat), missing message_id/date filled.
        """
        body = {k: copy.deepcopy(v) for k, v in update.items() if k != "update_id"}
        for key in ("message", "edited_message", "channel_post", "edited_channel_post"):
            msg = body.get(key)
            if isinstance(msg, dict):
                self._register_raw_message(msg, is_new=key in ("message", "channel_post"))
        return self._queue_update(body)

    def _register_raw_message(self, msg: dict[str, Any], *, is_new: bool) -> None:
        chat = msg.get("chat")
        if not isinstance(chat, dict) or "id" not in chat:
            return
        chat_id = int(chat["id"])
        if chat_id not in self._chats:
            self._chats[chat_id] = dict(chat)
        if chat.get("is_forum"):
            self._forums.setdefault(chat_id, {})
        if "message_id" not in msg:
            msg["message_id"] = self._next_message_id(chat_id)
        elif is_new:
            self._next_mid[chat_id] = max(
                self._next_mid.get(chat_id, 1), int(msg["message_id"]) + 1
            )
        msg.setdefault("date", self._now())
        if isinstance(msg.get("from"), dict):
            sender = msg["from"]
            self._users.setdefault(
                int(sender["id"]),
                {
                    k: v
                    for k, v in sender.items()
                    if k in ("first_name", "last_name", "username", "language_code")
                },
            )
        created = msg.get("forum_topic_created")
        if isinstance(created, dict):
            self._forums.setdefault(chat_id, {})[int(msg["message_id"])] = ForumTopicState(
                int(msg["message_id"]),
                str(created.get("name", "")),
                int(created.get("icon_color", 7322096)),
                created_message=dict(msg),
            )
        self._user_msgs[(chat_id, int(msg["message_id"]))] = msg

    # --- staff side -------------------------------------------------------------------------

    def add_private_chat(
        self, user_id: int, *, first_name: str = "An", language_code: str = "vi"
    ) -> None:
        """Make a private chat known without a message (a user who started the bot earlier)."""
        self._set_profile(user_id, first_name=first_name, language_code=language_code)
        self._ensure_private_chat(user_id)

    def add_forum_chat(self, chat_id: int, *, title: str = "Staff") -> None:
        """Register a supergroup with topics on, in which the bot is an administrator."""
        self._chats[chat_id] = {
            "id": chat_id,
            "type": "supergroup",
            "title": title,
            "is_forum": True,
        }
        self._forums.setdefault(chat_id, {})
        self._members[(chat_id, self.bot_id)] = "administrator"

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """What getChatMember answers: creator, administrator, member, left or kicked."""
        self._members[(chat_id, user_id)] = status

    def send_group_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        message_thread_id: int | None = None,
        first_name: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """A text from ``user_id`` in a known group chat, optionally inside a forum topic.

        ``first_name`` defaults to "Staff" for a user the emulator has not seen yet.
        """
        if chat_id not in self._chats:
            raise ValueError(f"chat {chat_id} is unknown; call add_forum_chat first")
        if first_name is None and user_id not in self._users:
            first_name = "Staff"
        self._set_profile(user_id, first_name=first_name)
        content: dict[str, Any] = {"text": text}
        match = _COMMAND_RE.match(text)
        if match:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": match.end()}]
        return self._user_message(
            user_id,
            content,
            chat_id=chat_id,
            message_thread_id=message_thread_id,
            reply_to_message_id=reply_to_message_id,
        )

    def open_topic(self, chat_id: int, name: str) -> int:
        """A staff member creates a topic in the app (the bot only sees messages in it)."""
        if chat_id not in self._forums:
            raise ValueError(f"chat {chat_id} is not a forum; call add_forum_chat first")
        thread_id = self._next_message_id(chat_id)
        color = 7322096  # Telegram's default icon colour
        created = {
            "message_id": thread_id,
            "chat": dict(self._chats[chat_id]),
            "date": self._now(),
            "message_thread_id": thread_id,
            "forum_topic_created": {"name": name, "icon_color": color},
            "is_topic_message": True,
        }
        self._forums[chat_id][thread_id] = ForumTopicState(
            thread_id, name, color, created_message=created
        )
        return thread_id

    def topics(self, chat_id: int) -> dict[int, ForumTopicState]:
        return {k: dataclasses.replace(v) for k, v in self._forums.get(chat_id, {}).items()}

    def delete_topic(self, chat_id: int, message_thread_id: int) -> None:
        """Someone deleted the topic in the Telegram app (the bot gets no update)."""
        self._forums.get(chat_id, {}).pop(message_thread_id, None)
        for mid, sent in list(self._bot_msgs.get(chat_id, {}).items()):
            if sent.message_thread_id == message_thread_id:
                del self._bot_msgs[chat_id][mid]
        self._bump()

    def close_topic(self, chat_id: int, message_thread_id: int, *, by_user_id: int) -> int:
        """A staff member closes the topic: the bot gets a ``forum_topic_closed`` message."""
        return self._topic_service(chat_id, message_thread_id, by_user_id, closed=True)

    def reopen_topic(self, chat_id: int, message_thread_id: int, *, by_user_id: int) -> int:
        return self._topic_service(chat_id, message_thread_id, by_user_id, closed=False)

    def _topic_service(self, chat_id: int, thread_id: int, user_id: int, *, closed: bool) -> int:
        topic = self._forums.get(chat_id, {}).get(thread_id)
        if topic is None:
            raise ValueError(f"no topic {thread_id} in chat {chat_id}")
        topic.closed = closed
        key = "forum_topic_closed" if closed else "forum_topic_reopened"
        return self._user_message(user_id, {key: {}}, chat_id=chat_id, message_thread_id=thread_id)

    def block_bot(self, user_id: int) -> None:
        """The user blocks the bot: sends to them fail with 403 until :meth:`unblock_bot`."""
        self._blocked.add(user_id)

    def unblock_bot(self, user_id: int) -> None:
        self._blocked.discard(user_id)

    # ---------------------------------------------------------------------- reading the outbox

    def messages(self, chat_id: int) -> list[SentMessage]:
        """Snapshots of every bot message still in ``chat_id``, in send order."""
        return [copy.deepcopy(m) for m in self._bot_msgs.get(chat_id, {}).values()]

    def last_message(self, chat_id: int) -> SentMessage:
        msgs = self.messages(chat_id)
        if not msgs:
            raise LookupError(f"the bot has sent nothing to chat {chat_id}")
        return msgs[-1]

    def user_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Raw Message JSON of what users sent in ``chat_id`` (not deleted), in order."""
        return [copy.deepcopy(m) for (c, _), m in sorted(self._user_msgs.items()) if c == chat_id]

    def transcript(self, chat_id: int) -> str:
        """Both sides of a chat as lines ``> user`` / ``< bot`` (handy in assertion messages)."""
        lines: list[tuple[int, str]] = []
        for (c, mid), msg in self._user_msgs.items():
            if c == chat_id:
                body = (
                    msg.get("text")
                    or msg.get("caption")
                    or next(
                        (f"[{k}]" for k in (*_MEDIA_KEYS, "forum_topic_closed") if k in msg), "[?]"
                    )
                )
                lines.append((mid, f"> {body}"))
        for sent in self._bot_msgs.get(chat_id, {}).values():
            labels = " ".join(f"[{t}]" for t, _ in buttons(sent))
            body = sent.plain_text if sent.plain_text is not None else (sent.text or "")
            if sent.kind != "text":
                body = f"[{sent.kind}] {body}".rstrip()
            lines.append((sent.message_id, f"< {body} {labels}".rstrip()))
        return "\n".join(line for _, line in sorted(lines))

    def current_reply_keyboard(self, chat_id: int) -> dict[str, Any] | None:
        """The reply keyboard the user currently has (None after a ReplyKeyboardRemove)."""
        return copy.deepcopy(self._reply_keyboards.get(chat_id))

    def calls(self, method: str | None = None) -> list[ApiCall]:
        if method is None:
            return list(self._calls)
        canonical = resolve_method(method) or method
        return [c for c in self._calls if c.method == canonical]

    @property
    def pending_updates(self) -> int:
        """Updates queued and not yet confirmed by the bot (through getUpdates ``offset``)."""
        return len(self._updates)

    @property
    def polling(self) -> bool:
        """True while a getUpdates long poll is waiting (the bot is up and listening)."""
        return self._active_polls > 0

    async def wait_until_polling(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait for the bot's first long poll, e.g. after starting a bot subprocess."""
        await self.wait_for(lambda: self.polling, timeout, what="the bot to poll getUpdates")

    def mark(self) -> int:
        """A position in the call log for :meth:`wait_activity`."""
        return len(self._calls)

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 (public API)
        *,
        what: str | None = None,
    ) -> None:
        """Wait until ``predicate()`` is true (re-checked on every state change)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                label = what or getattr(predicate, "__qualname__", repr(predicate))
                recent = "\n  ".join(str(c) for c in self._calls[-8:]) or "(no calls at all)"
                raise TimeoutError(
                    f"timed out after {timeout}s waiting for {label}; last bot API calls:\n"
                    f"  {recent}\npending updates: {self.pending_updates}"
                )
            await self._wait_change(min(remaining, 0.5))

    async def wait_for_messages(
        self,
        chat_id: int,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 (public API)
    ) -> list[SentMessage]:
        await self.wait_for(
            lambda: len(self._bot_msgs.get(chat_id, {})) >= count,
            timeout,
            what=f"{count} bot message(s) in chat {chat_id}",
        )
        return self.messages(chat_id)

    def activity_since(self, chat_id: int, since: int) -> list[ApiCall]:
        return [
            c
            for c in self._calls[since:]
            if c.ok and c.method in _ACTIVITY_METHODS and c.chat_id == chat_id
        ]

    async def wait_activity(
        self,
        chat_id: int,
        *,
        since: int,
        timeout: float = 5.0,  # noqa: ASYNC109 (public API)
        settle: float = _SETTLE,
    ) -> list[ApiCall]:
        """Successful send/edit/delete/copy calls to ``chat_id`` after ``since`` (a :meth:`mark`).

        Waits for the first one, then until the bot has been quiet for ``settle`` seconds (a reply
        often is several messages), and returns them all.
        """
        await self.wait_for(
            lambda: bool(self.activity_since(chat_id, since)),
            timeout,
            what=f"bot activity in chat {chat_id}",
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        seen = len(self._calls)
        while loop.time() < deadline:
            await asyncio.sleep(settle)
            if len(self._calls) == seen:
                break
            seen = len(self._calls)
        return self.activity_since(chat_id, since)

    async def next_bot_activity(
        self,
        chat_id: int,
        timeout: float = 5.0,  # noqa: ASYNC109 (public API)
        *,
        settle: float = _SETTLE,
    ) -> list[ApiCall]:
        """Like :meth:`wait_activity` from the moment of the call.

        Use right after a synchronous ``send_*``: ``emu.send_text(u, "hi"); await
        emu.next_bot_activity(u)`` cannot miss the reply (the bot runs only once we await).
        """
        return await self.wait_activity(chat_id, since=self.mark(), timeout=timeout, settle=settle)

    # ------------------------------------------------------------------------ error injection

    def fail_next(
        self,
        method: str,
        *,
        error_code: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
        chat_id: int | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` (to ``chat_id`` if given) fail like this.

        E.g. ``fail_next("sendMessage", error_code=429, description="Too Many Requests: retry
        after 3", retry_after=3)`` or ``error_code=403, description="Forbidden: bot was blocked
        by the user"``. Injected failures apply after spec validation.
        """
        canonical = resolve_method(method) or method
        self._failures.append(
            _Failure(canonical, error_code, description, retry_after, times, chat_id)
        )

    def stub(self, method: str, result: Any) -> None:
        """Answer ``method`` with ``result`` (for methods the emulator does not implement)."""
        self._stubs[resolve_method(method) or method] = result

    def _take_failure(self, method: str, params: dict[str, Any]) -> _Failure | None:
        for failure in self._failures:
            if failure.method != method:
                continue
            if failure.chat_id is not None and params.get("chat_id") != failure.chat_id:
                continue
            failure.times -= 1
            if failure.times <= 0:
                self._failures.remove(failure)
            return failure
        return None

    # ----------------------------------------------------------------------------- HTTP layer

    @staticmethod
    def _error_body(code: int, description: str, retry_after: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return body

    async def _read_request(
        self, request: web.Request
    ) -> tuple[dict[str, str], dict[str, Any] | None, dict[str, _Upload]]:
        """(form/query strings, JSON body or None, uploaded files)."""
        strings: dict[str, str] = dict(request.query)
        files: dict[str, _Upload] = {}
        if not request.body_exists:
            return strings, None, files
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise _bad(f"can't parse JSON body: {exc}") from exc
            if not isinstance(body, dict):
                raise _bad("JSON body must be an object")
            return strings, body, files
        if ctype.startswith("multipart/"):
            reader = await request.multipart()
            total = 0
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    data = bytes(await part.read())
                    total += len(data)
                    if total > MAX_UPLOAD:
                        raise _ApiError(413, "Request Entity Too Large")
                    ctype_part = part.headers.get("Content-Type")
                    files[part.name] = _Upload(data, part.filename, ctype_part)
                else:
                    strings[part.name] = await part.text()
            return strings, None, files
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, str):
                strings[key] = value
        return strings, None, files

    async def _handle_api(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        call = ApiCall(seq=0, method=resolve_method(name) or name, params={}, files={}, response={})
        uploads: dict[str, _Upload] = {}
        try:
            try:
                if request.match_info["token"] != self.token:
                    raise _ApiError(401, "Unauthorized")
                strings, json_body, uploads = await self._read_request(request)
                call.files = {k: v.data for k, v in uploads.items()}
                call.file_names = {k: v.filename or "" for k, v in uploads.items()}
                result = await self._dispatch(name, strings, json_body, uploads, call)
                call.response = {"ok": True, "result": result}
            except _ApiError as exc:
                call.response = self._error_body(exc.code, exc.description, exc.retry_after)
                call.status = exc.code
        except asyncio.CancelledError:  # the client went away (e.g. a cancelled long poll)
            call.response = self._error_body(499, "client closed the request")
            call.status = 499
            self._log_call(call)
            raise
        except Exception as exc:  # an emulator bug: answer like a broken server, keep the trace
            self.internal_errors.append(traceback.format_exc())
            call.response = self._error_body(500, f"Internal Server Error: emulator bug {exc!r}")
            call.status = 500
        self._log_call(call)
        return web.json_response(
            call.response, status=call.status, dumps=lambda o: json.dumps(o, ensure_ascii=False)
        )

    def _log_call(self, call: ApiCall) -> None:
        call.seq = len(self._calls) + 1
        call.at = time.monotonic()
        self._calls.append(call)
        self._bump()

    async def _dispatch(
        self,
        name: str,
        strings: dict[str, str],
        json_body: dict[str, Any] | None,
        uploads: dict[str, _Upload],
        call: ApiCall,
    ) -> Any:
        known = resolve_method(name)
        params = decode_form_params(known, strings)
        if json_body is not None:
            params.update(json_body)
        call.params = params
        if known is None:
            self.spec_violations.append(f"{name}: unknown method")
            raise _ApiError(404, "Not Found")
        checked = check_request(known, params, set(uploads))
        if checked.violations:
            self.spec_violations.extend(str(v) for v in checked.violations)
            raise _ApiError(400, checked.violations[0].description)
        params = call.params = self._normalize(known, params)
        failure = self._take_failure(known, params)
        if failure is not None:
            raise _ApiError(failure.error_code, failure.description, failure.retry_after)
        if known in self._stubs:
            return copy.deepcopy(self._stubs[known])
        handler = self._handlers.get(known)
        if handler is None:
            raise _ApiError(501, f"Not Implemented: the emulator has no {known}; use stub()")
        return await handler(_Req(known, params, uploads, checked))

    @staticmethod
    def _normalize(method: str, params: dict[str, Any]) -> dict[str, Any]:
        """Top-level Integer/Boolean parameters given as strings (JSON bodies) become typed."""
        fields = method_fields(method)
        out = dict(params)
        for name, value in params.items():
            types = fields.get(name, {}).get("types", [])
            if isinstance(value, str) and "Integer" in types and re.fullmatch(r"-?\d+", value):
                out[name] = int(value)
            elif isinstance(value, str) and types == ["Boolean"]:
                out[name] = value.lower() == "true"
        return out

    async def _handle_file(self, request: web.Request) -> web.Response:
        stored = self._files_by_path.get(request.match_info["path"])
        if request.match_info["token"] != self.token or stored is None:
            return web.json_response(self._error_body(404, "Not Found"), status=404)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    # --- control API --------------------------------------------------------------------------

    async def _control_updates(self, request: web.Request) -> web.Response:
        update = await request.json()
        if not isinstance(update, dict):
            return web.json_response(self._error_body(400, "update must be an object"), status=400)
        update_id = self.send_raw_update(update)
        return web.json_response({"ok": True, "result": {"update_id": update_id}})

    async def _control_messages(self, request: web.Request) -> web.Response:
        try:
            chat_id = int(request.query["chat_id"])
        except (KeyError, ValueError):
            return web.json_response(self._error_body(400, "chat_id is required"), status=400)
        result = [m.to_json() for m in self.messages(chat_id)]
        return web.json_response({"ok": True, "result": result})

    async def _control_calls(self, request: web.Request) -> web.Response:
        result = [
            {"seq": c.seq, "method": c.method, "params": c.params, "response": c.response}
            for c in self.calls(request.query.get("method"))
        ]
        return web.json_response(
            {"ok": True, "result": result}, dumps=lambda o: json.dumps(o, default=str)
        )

    async def _control_fail_next(self, request: web.Request) -> web.Response:
        spec = await request.json()
        self.fail_next(
            spec["method"],
            error_code=int(spec["error_code"]),
            description=str(spec["description"]),
            retry_after=spec.get("retry_after"),
            times=int(spec.get("times", 1)),
            chat_id=spec.get("chat_id"),
        )
        return web.json_response({"ok": True, "result": True})

    async def _control_violations(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "result": list(self.spec_violations)})

    # ------------------------------------------------------------------------- JSON builders

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "VssID Test Bot",
            "username": self.bot_username,
        }

    def _message_json(self, sent: SentMessage, *, with_reply: bool = True) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "message_id": sent.message_id,
            "from": self._bot_user(),
            "chat": dict(self._chats.get(sent.chat_id, {"id": sent.chat_id, "type": "private"})),
            "date": sent.date,
        }
        if sent.message_thread_id is not None:
            msg["message_thread_id"] = sent.message_thread_id
            msg["is_topic_message"] = True
        if sent.edited:
            msg["edit_date"] = sent.date + sent.edited
        if sent.kind == "text":
            msg["text"] = sent.plain_text if sent.plain_text is not None else sent.text
            if sent.entities:
                msg["entities"] = sent.entities
        else:
            msg.update(copy.deepcopy(sent.media))
            if sent.text is not None:
                msg["caption"] = sent.plain_text if sent.plain_text is not None else sent.text
                if sent.entities:
                    msg["caption_entities"] = sent.entities
        if _norm_markup(sent.reply_markup) is not None:
            msg["reply_markup"] = sent.reply_markup
        if with_reply and sent.reply_to_message_id is not None:
            replied = self._message_json_by_id(
                sent.chat_id, sent.reply_to_message_id, with_reply=False
            )
            if replied is not None:
                msg["reply_to_message"] = replied
        return msg

    def _message_json_by_id(
        self, chat_id: int, message_id: int, *, with_reply: bool = False
    ) -> dict[str, Any] | None:
        sent = self._bot_msgs.get(chat_id, {}).get(message_id)
        if sent is not None:
            return self._message_json(sent, with_reply=with_reply)
        raw = self._user_msgs.get((chat_id, message_id))
        if raw is None:
            return None
        replied = copy.deepcopy(raw)
        if not with_reply:
            replied.pop("reply_to_message", None)
        return replied

    # ---------------------------------------------------------------------------------- files

    def _store_file(
        self,
        data: bytes,
        folder: str,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        size: tuple[int, int] | None = None,
    ) -> _StoredFile:
        n = next(self._ids)
        prefix = {"photos": "AgAC", "documents": "BQAC", "voice": "AwAC", "stickers": "CAAC"}
        file_id = f"{prefix.get(folder, 'BAAC')}AgIAAxkBAAI{n:06d}emu"
        ext = ""
        if file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1].lower()
        elif mime_type:
            ext = mimetypes.guess_extension(mime_type) or ""
        elif folder == "photos":
            ext = ".jpg"
        stored = _StoredFile(
            file_id=file_id,
            file_unique_id=f"AQAD{n:06d}",
            data=data,
            file_path=f"{folder}/file_{n}{ext}",
            mime_type=mime_type,
            file_name=file_name,
            width=size[0] if size else 0,
            height=size[1] if size else 0,
        )
        self._files[file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _store_photo(self, data: bytes) -> list[dict[str, Any]]:
        """PhotoSize list, smallest first; the largest is ``data`` itself."""
        dims = _image_size(data)
        width, height = dims or (0, 0)
        variants: list[tuple[bytes, int, int]] = []
        for side in (90, 320):
            if dims is None:
                if not variants:
                    variants.append((data, 0, 0))
                continue
            if max(width, height) > side or not variants:
                thumb = _thumbnail(data, side) if max(width, height) > side else None
                variants.append(thumb or (data, width, height))
        variants.append((data, width, height))
        sizes: list[dict[str, Any]] = []
        for blob, w, h in variants:
            stored = self._store_file(blob, "photos", mime_type="image/jpeg", size=(w, h))
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": w,
                    "height": h,
                    "file_size": len(blob),
                }
            )
        for size in sizes:
            self._photo_sizes[size["file_id"]] = sizes
        return sizes

    @staticmethod
    def _document_json(stored: _StoredFile) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
        }
        if stored.file_name:
            doc["file_name"] = stored.file_name
        if stored.mime_type:
            doc["mime_type"] = stored.mime_type
        return doc

    def file_bytes(self, file_id: str) -> bytes:
        """Content of a file the emulator knows (sent by a user or uploaded by the bot)."""
        return self._files[file_id].data

    # ----------------------------------------------------------------------- method handlers

    def _chat(self, value: Any, *, sending: bool = True) -> int:
        """Resolve chat_id (int or @username) of a known chat; 400/403 like Telegram."""
        chat_id: int | None = None
        if isinstance(value, int):
            chat_id = value
        elif isinstance(value, str):
            wanted = value.lstrip("@").lower()
            chat_id = next(
                (
                    cid
                    for cid, c in self._chats.items()
                    if str(c.get("username", "")).lower() == wanted
                ),
                None,
            )
        if chat_id is None or chat_id not in self._chats:
            raise _bad("chat not found")
        if sending and chat_id in self._blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _thread(self, chat_id: int, params: dict[str, Any]) -> int | None:
        thread_id = params.get("message_thread_id")
        if thread_id is None:
            return None
        if chat_id in self._forums:
            if thread_id not in self._forums[chat_id]:
                raise _bad(_THREAD_NOT_FOUND)
            return int(thread_id)
        return None  # Telegram ignores it outside forums

    def _reply_to(self, chat_id: int, params: dict[str, Any]) -> int | None:
        reply = params.get("reply_parameters")
        if not isinstance(reply, dict):
            return None
        mid = int(reply.get("message_id", 0))
        target_chat = reply.get("chat_id", chat_id)
        exists = (chat_id, mid) in self._user_msgs or mid in self._bot_msgs.get(chat_id, {})
        if target_chat == chat_id and not exists:
            if reply.get("allow_sending_without_reply"):
                return None
            raise _bad("message to be replied not found")
        return mid

    def _track_keyboard(self, chat_id: int, markup: Any) -> None:
        if isinstance(markup, dict):
            if "keyboard" in markup:
                self._reply_keyboards[chat_id] = copy.deepcopy(markup)
            elif markup.get("remove_keyboard"):
                self._reply_keyboards[chat_id] = None

    def _new_bot_message(self, chat_id: int, params: dict[str, Any], **fields: Any) -> SentMessage:
        thread_id = self._thread(chat_id, params)
        reply_to = self._reply_to(chat_id, params)
        sent = SentMessage(
            message_id=self._next_message_id(chat_id),
            chat_id=chat_id,
            reply_markup=copy.deepcopy(params.get("reply_markup")),
            message_thread_id=thread_id,
            date=self._now(),
            reply_to_message_id=reply_to,
            **fields,
        )
        self._bot_msgs.setdefault(chat_id, {})[sent.message_id] = sent
        self._track_keyboard(chat_id, params.get("reply_markup"))
        return sent

    async def _true(self, req: _Req) -> bool:
        return True

    async def _get_me(self, req: _Req) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _confirm(self, offset: Any) -> None:
        if not isinstance(offset, int):
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _deliverable(self, limit: int) -> list[dict[str, Any]]:
        allowed = self._allowed_updates
        kept: list[dict[str, Any]] = []
        for update in self._updates:
            kind = next((k for k in update if k != "update_id"), "")
            ok = kind in allowed if allowed else kind not in _DEFAULT_ALLOWED
            if ok:
                kept.append(update)
        self._updates = kept  # Telegram never delivers filtered-out updates
        return copy.deepcopy(kept[:limit])

    async def _get_updates(self, req: _Req) -> list[dict[str, Any]]:
        params = req.params
        if self._webhook_url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"] or [])
        limit = min(max(int(params.get("limit", 100) or 100), 1), 100)
        timeout = min(max(float(params.get("timeout", 0) or 0), 0.0), _LONG_POLL_CAP)
        self._confirm(params.get("offset"))
        self._poll_generation += 1
        generation = self._poll_generation
        self._bump()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        self._active_polls += 1
        try:
            return await self._long_poll(generation, limit, deadline)
        finally:
            self._active_polls -= 1
            self._bump()

    async def _long_poll(
        self, generation: int, limit: int, deadline: float
    ) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        while True:
            if generation != self._poll_generation:
                raise _ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            batch = self._deliverable(limit)
            if batch or self._closing:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await self._wait_change(remaining)

    async def _set_webhook(self, req: _Req) -> bool:
        self._webhook_url = str(req.params["url"])
        if req.params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _delete_webhook(self, req: _Req) -> bool:
        self._webhook_url = ""
        if req.params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, req: _Req) -> dict[str, Any]:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _set_my_commands(self, req: _Req) -> bool:
        commands = req.params["commands"]
        if len(commands) > 100:
            raise _bad("too many commands")
        for command in commands:
            if not _BOT_COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad("command description must be 1-256 characters")
        self.commands[self._commands_key(req.params)] = copy.deepcopy(commands)
        return True

    async def _get_my_commands(self, req: _Req) -> list[dict[str, Any]]:
        return copy.deepcopy(self.commands.get(self._commands_key(req.params), []))

    async def _delete_my_commands(self, req: _Req) -> bool:
        self.commands.pop(self._commands_key(req.params), None)
        return True

    async def _store_setting(self, req: _Req) -> bool:
        self.bot_settings[req.method] = dict(req.params)
        return True

    async def _set_chat_menu_button(self, req: _Req) -> bool:
        self.menu_buttons[req.params.get("chat_id")] = copy.deepcopy(
            req.params.get("menu_button") or {"type": "default"}
        )
        return True

    async def _get_chat_menu_button(self, req: _Req) -> dict[str, Any]:
        chat_id = req.params.get("chat_id")
        fallback = self.menu_buttons.get(None, {"type": "commands"})
        return copy.deepcopy(self.menu_buttons.get(chat_id, fallback))

    def _parsed(self, req: _Req, key: str) -> ParsedText | None:
        parsed = req.checked.parsed.get(key)
        if parsed is None and isinstance(req.params.get(key), str):
            parsed = parse_text(req.params[key], req.params.get("parse_mode"))
        return parsed

    async def _send_message(self, req: _Req) -> dict[str, Any]:
        chat_id = self._chat(req.params["chat_id"])
        parsed = self._parsed(req, "text")
        sent = self._new_bot_message(
            chat_id,
            req.params,
            text=req.params["text"],
            kind="text",
            parse_mode=req.params.get("parse_mode"),
            plain_text=parsed.text if parsed else None,
            entities=parsed.entities if parsed else [],
            method=req.method,
        )
        return self._message_json(sent)

    def _input_file(self, req: _Req, name: str) -> tuple[_StoredFile | None, _Upload | None]:
        """The stored file a send* refers to (file_id), or the fresh upload."""
        upload = req.files.get(name)
        value = req.params.get(name)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = req.files.get(value[len("attach://") :])
        if upload is not None:
            return None, upload
        if isinstance(value, str):
            stored = self._files.get(value)
            if stored is None:
                raise _bad("wrong file identifier/HTTP URL specified")
            return stored, None
        raise _bad(f"there is no {name} in the request")

    def _caption_fields(self, req: _Req) -> dict[str, Any]:
        parsed = self._parsed(req, "caption")
        return {
            "text": req.params.get("caption"),
            "parse_mode": req.params.get("parse_mode"),
            "plain_text": parsed.text if parsed else None,
            "entities": parsed.entities if parsed else [],
        }

    async def _send_photo(self, req: _Req) -> dict[str, Any]:
        chat_id = self._chat(req.params["chat_id"])
        stored, upload = self._input_file(req, "photo")
        if upload is not None:
            dims = _image_size(upload.data)
            if dims is None:
                raise _bad("IMAGE_PROCESS_FAILED")
            width, height = dims
            if width + height > 10000 or max(width, height) > 20 * min(width, height):
                raise _bad("PHOTO_INVALID_DIMENSIONS")
            if len(upload.data) > 10 * 1024 * 1024:
                raise _bad("PHOTO_SAVE_FILE_INVALID")
            sizes = self._store_photo(upload.data)
            data = upload.data
        else:
            assert stored is not None
            sizes = self._photo_sizes.get(stored.file_id) or self._store_photo(stored.data)
            data = self._files[sizes[-1]["file_id"]].data
        sent = self._new_bot_message(
            chat_id,
            req.params,
            kind="photo",
            file=data,
            file_id=sizes[-1]["file_id"],
            mime_type="image/jpeg",
            media={"photo": sizes},
            method=req.method,
            **self._caption_fields(req),
        )
        return self._message_json(sent)

    async def _send_document(self, req: _Req) -> dict[str, Any]:
        chat_id = self._chat(req.params["chat_id"])
        stored, upload = self._input_file(req, "document")
        if upload is not None:
            mime = upload.content_type
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(upload.filename or "")[0] or mime
            stored = self._store_file(
                upload.data, "documents", file_name=upload.filename, mime_type=mime
            )
        assert stored is not None
        sent = self._new_bot_message(
            chat_id,
            req.params,
            kind="document",
            file=stored.data,
            file_id=stored.file_id,
            file_name=stored.file_name,
            mime_type=stored.mime_type,
            media={"document": self._document_json(stored)},
            method=req.method,
            **self._caption_fields(req),
        )
        return self._message_json(sent)

    def _editable(self, params: dict[str, Any]) -> SentMessage:
        if "inline_message_id" in params:
            raise _bad("inline messages are not supported by the emulator")
        if "chat_id" not in params or "message_id" not in params:
            raise _bad("message identifier is not specified")
        chat_id = self._chat(params["chat_id"], sending=False)
        mid = int(params["message_id"])
        sent = self._bot_msgs.get(chat_id, {}).get(mid)
        if sent is None:
            if (chat_id, mid) in self._user_msgs:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return sent

    def _apply_edit(self, sent: SentMessage, markup: Any, **changes: Any) -> dict[str, Any]:
        for key, value in changes.items():
            setattr(sent, key, value)
        sent.reply_markup = copy.deepcopy(markup) if _norm_markup(markup) else None
        sent.edited += 1
        return self._message_json(sent)

    async def _edit_message_text(self, req: _Req) -> dict[str, Any]:
        sent = self._editable(req.params)
        if "text" not in req.params:
            raise _bad("message text is empty")
        if sent.kind != "text":
            raise _bad("there is no text in the message to edit")
        parsed = self._parsed(req, "text")
        assert parsed is not None
        markup = req.params.get("reply_markup")
        if (
            parsed.text == sent.plain_text
            and parsed.entities == sent.entities
            and _norm_markup(markup) == _norm_markup(sent.reply_markup)
        ):
            raise _bad(_MSG_NOT_MODIFIED)
        return self._apply_edit(
            sent,
            markup,
            text=req.params["text"],
            parse_mode=req.params.get("parse_mode"),
            plain_text=parsed.text,
            entities=parsed.entities,
        )

    async def _edit_message_caption(self, req: _Req) -> dict[str, Any]:
        sent = self._editable(req.params)
        if sent.kind == "text":
            raise _bad("there is no caption in the message to edit")
        fields = self._caption_fields(req)
        markup = req.params.get("reply_markup")
        if (
            fields["plain_text"] == (sent.plain_text if sent.text is not None else None)
            and fields["entities"] == sent.entities
            and _norm_markup(markup) == _norm_markup(sent.reply_markup)
        ):
            raise _bad(_MSG_NOT_MODIFIED)
        return self._apply_edit(sent, markup, **fields)

    async def _edit_message_reply_markup(self, req: _Req) -> dict[str, Any]:
        sent = self._editable(req.params)
        markup = req.params.get("reply_markup")
        if _norm_markup(markup) == _norm_markup(sent.reply_markup):
            raise _bad(_MSG_NOT_MODIFIED)
        return self._apply_edit(sent, markup)

    def _delete(self, chat_id: int, mid: int) -> bool:
        if self._bot_msgs.get(chat_id, {}).pop(mid, None) is not None:
            return True
        return self._user_msgs.pop((chat_id, mid), None) is not None

    async def _delete_message(self, req: _Req) -> bool:
        chat_id = self._chat(req.params["chat_id"], sending=False)
        if not self._delete(chat_id, int(req.params["message_id"])):
            raise _bad("message to delete not found")
        return True

    async def _delete_messages(self, req: _Req) -> bool:
        chat_id = self._chat(req.params["chat_id"], sending=False)
        for mid in req.params["message_ids"]:
            self._delete(chat_id, int(mid))
        return True

    async def _answer_callback_query(self, req: _Req) -> bool:
        query_id = str(req.params["callback_query_id"])
        if self._callback_queries.get(query_id, True):
            raise _bad(_QUERY_TOO_OLD)
        self._callback_queries[query_id] = True
        self.callback_answers.append(dict(req.params))
        return True

    async def _send_chat_action(self, req: _Req) -> bool:
        chat_id = self._chat(req.params["chat_id"])
        self._thread(chat_id, req.params)
        if req.params["action"] not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    def _source(self, params: dict[str, Any]) -> tuple[int, int, dict[str, Any]]:
        from_chat = self._chat(params["from_chat_id"], sending=False)
        mid = int(params["message_id"])
        raw = self._message_json_by_id(from_chat, mid)
        if raw is None:
            raise _bad("message to copy not found")
        return from_chat, mid, raw

    def _content_fields(self, raw: dict[str, Any]) -> dict[str, Any]:
        """SentMessage fields reproducing the content of message JSON ``raw``."""
        if "text" in raw:
            return {
                "kind": "text",
                "text": raw["text"],
                "plain_text": raw["text"],
                "entities": copy.deepcopy(raw.get("entities", [])),
            }
        kind = next((k for k in _MEDIA_KEYS if k in raw), None)
        if kind is None:
            raise _bad("message can't be copied")
        media = {kind: copy.deepcopy(raw[kind])}
        file_obj = raw[kind][-1] if kind == "photo" else raw[kind]
        file_id = file_obj.get("file_id") if isinstance(file_obj, dict) else None
        stored = self._files.get(file_id) if file_id else None
        return {
            "kind": kind,
            "text": raw.get("caption"),
            "plain_text": raw.get("caption"),
            "entities": copy.deepcopy(raw.get("caption_entities", [])),
            "media": media,
            "file": stored.data if stored else None,
            "file_id": file_id,
            "file_name": stored.file_name if stored else None,
            "mime_type": stored.mime_type if stored else None,
        }

    async def _copy_message(self, req: _Req) -> dict[str, int]:
        chat_id = self._chat(req.params["chat_id"])
        from_chat, mid, raw = self._source(req.params)
        fields = self._content_fields(raw)
        if "caption" in req.params and fields["kind"] != "text":
            fields.update(self._caption_fields(req))
        sent = self._new_bot_message(
            chat_id, req.params, method=req.method, copied_from=(from_chat, mid), **fields
        )
        return {"message_id": sent.message_id}

    async def _forward_message(self, req: _Req) -> dict[str, Any]:
        chat_id = self._chat(req.params["chat_id"])
        from_chat, mid, raw = self._source(req.params)
        fields = self._content_fields(raw)
        sent = self._new_bot_message(
            chat_id, req.params, method=req.method, copied_from=(from_chat, mid), **fields
        )
        msg = self._message_json(sent)
        sender = raw.get("from")
        if isinstance(sender, dict):
            msg["forward_origin"] = {
                "type": "user",
                "date": raw.get("date", 0),
                "sender_user": sender,
            }
            sent.media["forward_origin"] = msg["forward_origin"]
        return msg

    def _forum(self, params: dict[str, Any]) -> tuple[int, dict[int, ForumTopicState]]:
        chat_id = self._chat(params["chat_id"])
        if chat_id not in self._forums:
            raise _bad("the chat is not a forum")
        return chat_id, self._forums[chat_id]

    def _topic(self, params: dict[str, Any]) -> ForumTopicState:
        _, topics = self._forum(params)
        topic = topics.get(int(params["message_thread_id"]))
        if topic is None:
            raise _bad(_THREAD_NOT_FOUND)
        return topic

    async def _create_forum_topic(self, req: _Req) -> dict[str, Any]:
        chat_id, topics = self._forum(req.params)
        name = str(req.params["name"])
        if not 1 <= len(name) <= 128:
            raise _bad("TOPIC_NAME_INVALID")
        color = int(req.params.get("icon_color", 7322096))
        if color not in _TOPIC_COLORS:
            raise _bad("TOPIC_COLOR_INVALID")
        thread_id = self._next_message_id(chat_id)
        created = {
            "message_id": thread_id,
            "from": self._bot_user(),
            "chat": dict(self._chats[chat_id]),
            "date": self._now(),
            "message_thread_id": thread_id,
            "forum_topic_created": {"name": name, "icon_color": color},
            "is_topic_message": True,
        }
        topic = ForumTopicState(
            thread_id,
            name,
            color,
            icon_custom_emoji_id=req.params.get("icon_custom_emoji_id"),
            created_message=created,
        )
        topics[thread_id] = topic
        result: dict[str, Any] = {"message_thread_id": thread_id, "name": name, "icon_color": color}
        if topic.icon_custom_emoji_id:
            result["icon_custom_emoji_id"] = topic.icon_custom_emoji_id
        return result

    async def _edit_forum_topic(self, req: _Req) -> bool:
        topic = self._topic(req.params)
        name = req.params.get("name")
        emoji = req.params.get("icon_custom_emoji_id")
        if (name is None or name == topic.name) and (
            emoji is None or emoji == topic.icon_custom_emoji_id
        ):
            raise _bad("TOPIC_NOT_MODIFIED")
        if name is not None:
            topic.name = str(name)
        if emoji is not None:
            topic.icon_custom_emoji_id = str(emoji) or None
        return True

    async def _close_forum_topic(self, req: _Req) -> bool:
        topic = self._topic(req.params)
        if topic.closed:
            raise _bad("TOPIC_NOT_MODIFIED")
        topic.closed = True
        return True

    async def _reopen_forum_topic(self, req: _Req) -> bool:
        topic = self._topic(req.params)
        if not topic.closed:
            raise _bad("TOPIC_NOT_MODIFIED")
        topic.closed = False
        return True

    async def _delete_forum_topic(self, req: _Req) -> bool:
        topic = self._topic(req.params)
        chat_id = self._chat(req.params["chat_id"])
        self.delete_topic(chat_id, topic.message_thread_id)
        return True

    async def _get_file(self, req: _Req) -> dict[str, Any]:
        stored = self._files.get(str(req.params["file_id"]))
        if stored is None:
            raise _bad("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    async def _get_chat(self, req: _Req) -> dict[str, Any]:
        chat_id = self._chat(req.params["chat_id"], sending=False)
        return {
            **self._chats[chat_id],
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _get_chat_member(self, req: _Req) -> dict[str, Any]:
        chat_id = self._chat(req.params["chat_id"], sending=False)
        user_id = int(req.params["user_id"])
        user = self._bot_user() if user_id == self.bot_id else self._user_json(user_id)
        default = "member" if chat_id == user_id or user_id in self._users else "left"
        status = self._members.get((chat_id, user_id), default)
        member: dict[str, Any] = {"status": status, "user": user}
        if status == "administrator":
            rights = [
                "can_manage_chat",
                "can_delete_messages",
                "can_manage_video_chats",
                "can_restrict_members",
                "can_promote_members",
                "can_change_info",
                "can_invite_users",
                "can_post_stories",
                "can_edit_stories",
                "can_delete_stories",
                "can_pin_messages",
                "can_manage_topics",
            ]
            member.update({"can_be_edited": False, "is_anonymous": False})
            member.update(dict.fromkeys(rights, True))
        elif status == "creator":
            member["is_anonymous"] = False
        elif status == "kicked":
            member["until_date"] = 0
        return member

    async def _pin_chat_message(self, req: _Req) -> bool:
        chat_id = self._chat(req.params["chat_id"], sending=False)
        mid = int(req.params["message_id"])
        if self._message_json_by_id(chat_id, mid) is None:
            raise _bad("message to pin not found")
        return True
