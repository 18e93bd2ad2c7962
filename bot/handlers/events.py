"""Turns a Telegram ``Update`` into the flow's channel-free ``Event``."""

from __future__ import annotations

from telegram import Document, Message, PhotoSize, Update

from bot.flows.events import Event
from bot.flows.photos import MAX_FILE_BYTES

#: Message attributes that carry something the flow cannot use, by the name it reports.
OTHER_KINDS = (
    "sticker",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "location",
    "venue",
    "poll",
    "dice",
)


def _language(update: Update) -> str | None:
    user = update.effective_user
    return user.language_code if user else None


async def to_event(update: Update) -> Event | None:
    """``None`` for updates the registration does not answer (edits, service messages)."""
    lang = _language(update)
    query = update.callback_query
    if query is not None:
        return Event(kind="choice", choice=query.data or "", language_hint=lang)
    message = update.message
    if message is None:
        return None
    if message.text is not None:
        return _text_event(message, lang)
    if message.contact is not None:
        own = message.contact.user_id is not None and message.contact.user_id == (
            message.from_user.id if message.from_user else None
        )
        return Event(
            kind="contact",
            text=message.contact.phone_number,
            contact_is_own=own,
            language_hint=lang,
        )
    if message.photo:
        return await _file_event(message, "photo", lang)
    if message.document is not None:
        return await _file_event(message, "document", lang)
    for kind in OTHER_KINDS:
        if getattr(message, kind, None):
            return Event(kind="other", other_kind=kind, language_hint=lang)
    return Event(kind="other", other_kind="other", language_hint=lang)


def _text_event(message: Message, lang: str | None) -> Event:
    text = message.text or ""
    if text.startswith("/") and len(text) > 1:
        head, _, rest = text[1:].partition(" ")
        command = head.split("@", 1)[0]
        if command.replace("_", "").isalnum():
            return Event(
                kind="command", command=command.lower(), text=rest.strip(), language_hint=lang
            )
    return Event(kind="text", text=text, language_hint=lang)


async def _file_event(message: Message, kind: str, lang: str | None) -> Event:
    attachment: PhotoSize | Document
    name: str | None = None
    mime: str | None = "image/jpeg"
    if kind == "photo":
        attachment = message.photo[-1]  # the largest size Telegram offers
    else:
        assert message.document is not None
        attachment = message.document
        name, mime = message.document.file_name, message.document.mime_type
    if attachment.file_size and attachment.file_size > MAX_FILE_BYTES:
        return Event(
            kind="photo" if kind == "photo" else "document",
            photo_problem="file_too_big",
            problem_detail={"max_mb": MAX_FILE_BYTES // (1024 * 1024)},
            language_hint=lang,
        )
    file = await attachment.get_file()
    data = bytes(await file.download_as_bytearray())
    return Event(
        kind="photo" if kind == "photo" else "document",
        data=data,
        file_name=name,
        mime_type=mime,
        language_hint=lang,
        channel_encoded=kind == "photo",  # Telegram re-encodes what is sent as a photo
    )
