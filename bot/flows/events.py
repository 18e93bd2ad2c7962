"""What goes into the conversation and what comes out of it, free of any chat channel.

The Telegram adapter and the terminal console both translate their own inputs into an
``Event`` and render ``Reply`` values; the flow never sees either channel. Replies carry
message *keys* and parameters, never sentences, so the renderer picks the user's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

EventKind = Literal["text", "photo", "document", "contact", "choice", "command", "other"]


@dataclass(frozen=True)
class Event:
    """One thing the user did.

    ``other`` covers stickers, voice notes, locations and whatever else the channel cannot
    map; the flow answers it politely with what the current step expects.
    """

    kind: EventKind
    text: str = ""
    data: bytes | None = None
    file_name: str | None = None
    mime_type: str | None = None
    choice: str = ""
    command: str = ""
    contact_is_own: bool = True
    other_kind: str = ""
    # The language the client reports. Not used to choose the greeting's language: Telegram
    # has no Vietnamese interface, so a Vietnamese citizen's client often says "en"
    # (``RegistrationService`` greets in ``BOT_DEFAULT_LOCALE`` with a button for the other).
    language_hint: str | None = None
    # The channel itself made these image bytes (a Telegram photo is re-encoded by
    # Telegram's servers), so their pixels need no decoding check (bot.flows.photos).
    channel_encoded: bool = False
    # Filled in by the service once it has checked a photo: the stored photo's id, or why
    # it was refused (a reason code of ``bot.flows.photos`` and numbers for the message).
    photo_id: str = ""
    photo_problem: str = ""
    problem_detail: dict[str, str | int] = field(default_factory=dict)
    # What the service read from a card's QR code in the photo (``bot.flows.autofill``).
    card: dict[str, Any] | None = None
    # Locks on code entry that the service found for this conversation's destinations
    # (``bot.flows.otp.destination_key`` → end of the lock), kept by address, not by user.
    otp_locks: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def typed(cls, text: str) -> Event:
        return cls(kind="text", text=text)

    @classmethod
    def pressed(cls, choice: str) -> Event:
        return cls(kind="choice", choice=choice)

    @classmethod
    def slash(cls, command: str, argument: str = "") -> Event:
        return cls(kind="command", command=command.lstrip("/").lower(), text=argument)

    @classmethod
    def photo(cls, data: bytes) -> Event:
        return cls(kind="photo", data=data)


@dataclass(frozen=True)
class Msg:
    """A parameter that is itself a catalogue key, translated when the reply is rendered
    (its own parameters may be ``Msg`` too: "address: ask the hotline")."""

    key: str
    params: dict[str, ParamValue] = field(default_factory=dict)


ParamValue = str | int | Msg


@dataclass(frozen=True)
class Button:
    """An inline button. ``label_key`` is translated; ``label`` is shown as is (data such as
    a province name). ``data`` is language-neutral and at most 64 bytes (Telegram's limit).
    ``answer`` is ``"yes"`` or ``"no"`` when typing «có»/«không» means pressing it
    (``bot.flows.typed_buttons``)."""

    data: str
    label_key: str = ""
    label: str = ""
    params: dict[str, ParamValue] = field(default_factory=dict)
    answer: str = ""


@dataclass(frozen=True)
class Reply:
    """One message to the user.

    ``edit`` asks the channel to replace the message whose button triggered this event
    (paging, a pressed choice) instead of adding a new one; channels without buttons ignore it.
    ``keyboard`` is ``"contact"`` to offer the share-my-phone button, ``"remove"`` to take a
    reply keyboard away, ``None`` to leave it alone.
    """

    key: str
    params: dict[str, ParamValue] = field(default_factory=dict)
    buttons: tuple[tuple[Button, ...], ...] = ()
    edit: bool = False
    keyboard: Literal["contact", "remove"] | None = None
    document: bytes | None = None
    document_name: str | None = None
