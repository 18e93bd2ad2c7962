"""Agency officers in the staff chat: ``/review``, ``/approve``, ``/reject REASON``.

The same decisions as ``vssid-bot review`` (``bot.review.Reviews``), taken inside a topic
of the staff chat by an authorised staff member (``bot.handlers.helpdesk.is_staff``). The
declaration under review is remembered per topic and officer, in memory: after a restart
``/review`` shows it again, which costs one command and decides nothing by mistake.
Numbers are masked as in the CLI; the photos are shown in that topic and nowhere else.
"""

from __future__ import annotations

import logging
from typing import Any

from telegram.error import TelegramError
from telegram.ext import ExtBot

from bot.flows.conversation import PHOTO_FIELDS
from bot.handlers.registration import deliver_notices
from bot.helpdesk import card
from bot.helpdesk.desk import HelpDesk
from bot.review import Decision
from bot.wiring import Components
from storage.declarations import StoredDeclaration

log = logging.getLogger(__name__)

COMMANDS = ("review", "approve", "reject")
_SHOWN_FIELDS = ("bhxh_code", "full_name", "id_number", "phone", "email")

#: (chat topic, officer) → the receipt that officer last opened there.
Reviewing = dict[tuple[int, int], str]


async def officer_command(
    bot: ExtBot[Any],
    parts: Components,
    desk: HelpDesk,
    reviewing: Reviewing,
    place: tuple[int, int],
    command: str,
    text: str,
) -> None:
    """``place`` is (thread, staff id); ``text`` the whole command message."""
    thread, staff_id = place
    if command == "review":
        agency = text.split()[1] if len(text.split()) > 1 else None
        await _review(bot, parts, desk, reviewing, place, agency)
        return
    receipt = reviewing.get(place)
    if receipt is None:
        await _say(bot, parts, thread, "officers.none_open")
        return
    reason = text.partition(" ")[2].strip() if command == "reject" else None
    if command == "reject" and not reason:
        await _say(bot, parts, thread, "officers.reason_needed")
        return
    decision: Decision = "approved" if command == "approve" else "rejected"
    decided = await parts.reviews.decide(receipt, decision, reason, officer=f"tg:{staff_id}")
    reviewing.pop(place, None)
    if decided is None:
        await _say(bot, parts, thread, "officers.already_decided", {"receipt": receipt})
        return
    await desk.audit(staff_id, decision, None, receipt)
    await _say(bot, parts, thread, f"officers.{decision}", {"receipt": receipt})
    # The stored notice goes out now rather than at the next sweep (it stays stored, and
    # is retried there, if Telegram refuses it now).
    await deliver_notices(bot, parts, only=decided.user_key)


async def _review(
    bot: ExtBot[Any],
    parts: Components,
    desk: HelpDesk,
    reviewing: Reviewing,
    place: tuple[int, int],
    agency: str | None,
) -> None:
    thread, staff_id = place
    waiting = await parts.reviews.waiting(agency)
    if not waiting:
        await _say(bot, parts, thread, "officers.queue_empty")
        return
    declaration = waiting[0]
    reviewing[place] = declaration.receipt
    await desk.audit(staff_id, "review", None, declaration.receipt)
    await _say(bot, parts, thread, "officers.declaration", _shown(parts, declaration, waiting))
    for name in PHOTO_FIELDS:
        photo_id = declaration.data.get(name)
        if not photo_id:
            continue
        try:
            data = await parts.service.photos.get(str(photo_id))
            await bot.send_photo(
                parts.staff_chat(), data, caption=_field(parts, name), message_thread_id=thread
            )
        except (OSError, TelegramError) as exc:  # a missing file must not hide the rest
            log.warning("photo of %s not shown: %s", declaration.receipt, type(exc).__name__)


def _shown(
    parts: Components, declaration: StoredDeclaration, waiting: list[StoredDeclaration]
) -> dict[str, Any]:
    lang = parts.settings.bot_default_locale
    lines = [
        parts.translator.text(
            lang,
            "helpdesk.card.line",
            {"field": _field(parts, name), "value": card.masked_value(name, value)},
        )
        for name in _SHOWN_FIELDS
        if (value := declaration.data.get(name))
    ]
    return {
        "receipt": declaration.receipt,
        "agency": declaration.agency_code,
        "submitted": declaration.submitted_at[:10],
        "fields": "\n".join(lines),
        "left": len(waiting) - 1,
    }


def _field(parts: Components, name: str) -> str:
    return parts.translator.text(parts.settings.bot_default_locale, f"field.{name}")


async def _say(
    bot: ExtBot[Any], parts: Components, thread: int, key: str, params: dict[str, Any] | None = None
) -> None:
    words = parts.translator.text(parts.settings.bot_default_locale, key, params)
    await bot.send_message(parts.staff_chat(), words, message_thread_id=thread)
