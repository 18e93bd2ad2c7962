"""The help desk in Telegram: a forum topic per citizen in the staff chat, relayed both ways.

Two entry points, both beside the citizens' handler rather than inside it:

* ``citizen_gate`` runs before it (handler group -1) in private chats. It opens a request
  when the citizen presses «Gặp nhân viên hỗ trợ», withdraws one, and — while a person is
  helping — copies the citizen's messages into the topic and stops the update there, so the
  registration flow never sees them (it is paused; ANCHORS lesson 9).
* ``on_staff_message`` handles the staff chat only. Group updates never reach the
  citizens' handler (it filters private chats). A message counts only from a user listed in
  ``STAFF_USER_IDS`` who is a member of the chat (asked of Telegram each time: someone
  removed from the chat loses access at once), inside a topic the desk knows; it can then
  reach that topic's citizen and nobody else. Nothing staff type is ever fed to the flow.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import Message, ReplyParameters, Update
from telegram.error import BadRequest, RetryAfter, TelegramError
from telegram.ext import ApplicationHandlerStop, ContextTypes, ExtBot

from bot.flows import validators
from bot.flows.conversation import Conversation
from bot.flows.events import Button, Event, Reply
from bot.flows.sanitize import visible
from bot.handlers import officers
from bot.handlers.render import send_replies
from bot.helpdesk import card
from bot.helpdesk.desk import HelpDesk
from bot.masking import mask_user
from bot.service import Outcome
from bot.wiring import Components
from storage.helpdesk import HelpRequest

log = logging.getLogger(__name__)

#: Who may act in the staff chat: members in good standing (not "left", "kicked" or
#: "restricted" — a restricted member is one the chat's admins chose to limit).
MEMBER_STATUSES = frozenset({"creator", "administrator", "member"})
#: Flood control on topic creation (about 20 a minute): waits honoured before giving up.
TOPIC_TRIES = 3
_THREAD_GONE = "thread not found"

#: Topics are created one at a time: two quick presses of one citizen must not open two
#: topics, and Telegram limits creations per chat anyway (so a per-user lock buys nothing).
_creating = asyncio.Lock()


def _parts(context: ContextTypes.DEFAULT_TYPE) -> Components:
    found: Components = context.application.bot_data["components"]
    return found


def _chat_of(user_key: str) -> int:
    return int(user_key.partition(":")[2])


# ----------------------------------------------------------------------------- citizen side


async def citizen_gate(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    parts = _parts(context)
    desk = parts.helpdesk
    user = update.effective_user
    if desk is None or user is None or user.is_bot:
        return
    key = f"tg:{user.id}"
    query = update.callback_query
    if query is not None and query.data in ("g:human", "g:human:cancel", "g:human:callback"):
        await query.answer()
        if query.data == "g:human":
            await _ask_for_person(context.bot, parts, desk, key)
        elif query.data == "g:human:callback":
            await _call_back(context.bot, parts, desk, key)
        else:
            await _withdraw(context.bot, parts, desk, key)
        raise ApplicationHandlerStop
    if update.edited_message is not None:
        helped = await desk.helping(key)
        if helped is None:
            return
        copy = await desk.topic_side(helped, update.edited_message.message_id)
        if copy is not None:
            await _mirror_edit(context.bot, parts.staff_chat(), copy, update.edited_message)
        raise ApplicationHandlerStop
    message = update.message
    if message is None:
        return
    request = await desk.of_user(key)
    if request is None or not request.is_open:
        return
    if request.status == "human":
        await _relay_to_topic(context.bot, parts, desk, key, message)
        raise ApplicationHandlerStop  # the flow is paused while a person helps
    if request.callback == "asking" and message.text and not message.text.startswith("/"):
        await _take_call_back_phone(context.bot, parts, desk, request, message.text)
        raise ApplicationHandlerStop


async def _citizen_locale(parts: Components, key: str) -> tuple[str, Conversation | None]:
    conv = await parts.service.conversations.load(key)
    return (conv.locale if conv else parts.settings.bot_default_locale), conv


async def _tell_citizen(bot: ExtBot[Any], parts: Components, key: str, *replies: Reply) -> None:
    locale, _ = await _citizen_locale(parts, key)
    await send_replies(bot, _chat_of(key), list(replies), locale, parts.translator)


async def _ask_for_person(bot: ExtBot[Any], parts: Components, desk: HelpDesk, key: str) -> None:
    asked = await desk.ask(key)
    await _open_topic(bot, parts, desk, asked.request)
    withdraw = ((Button("g:human:cancel", label_key="btn.human_withdraw"),),)
    hours = desk.hours.describe()
    if asked.open_now:
        reply = Reply(
            "helpdesk.asked",
            {"reference": asked.request.reference, "position": asked.position, "hours": hours},
            buttons=withdraw,
        )
    else:
        opens = asked.opens_at.strftime("%H:%M %d/%m/%Y")
        reply = Reply(
            "helpdesk.asked_closed",
            {"reference": asked.request.reference, "hours": hours, "opens": opens},
            buttons=withdraw,
        )
    await _tell_citizen(bot, parts, key, reply)


async def _withdraw(bot: ExtBot[Any], parts: Components, desk: HelpDesk, key: str) -> None:
    request = await desk.withdraw(key)
    if request is None:
        await _tell_citizen(bot, parts, key, Reply("helpdesk.nothing_open"))
        return
    await _post_in_topic(bot, parts, request, "helpdesk.staff.withdrawn")
    await _tell_citizen(bot, parts, key, Reply("helpdesk.withdrawn"))
    await _resume(bot, parts, key)


async def _call_back(bot: ExtBot[Any], parts: Components, desk: HelpDesk, key: str) -> None:
    """The citizen would rather be called: the draft's phone, or one they type next."""
    request = await desk.of_user(key)
    if request is None or not request.is_open:
        await _tell_citizen(bot, parts, key, Reply("helpdesk.nothing_open"))
        return
    _, conv = await _citizen_locale(parts, key)
    phone = conv.answers.get("phone") if conv is not None else None
    if phone:
        await _keep_call_back(bot, parts, desk, request, str(phone))
        return
    await desk.call_back_asked(request)
    await _tell_citizen(bot, parts, key, Reply("helpdesk.callback_ask"))


async def _take_call_back_phone(
    bot: ExtBot[Any], parts: Components, desk: HelpDesk, request: HelpRequest, text: str
) -> None:
    result = validators.mobile_phone(visible(text))
    if isinstance(result, validators.Invalid):
        refusal = Reply(f"err.{result.code}", dict(result.params))
        await _tell_citizen(bot, parts, request.user_key, refusal, Reply("helpdesk.callback_ask"))
        return
    await _keep_call_back(bot, parts, desk, request, result.value)


async def _keep_call_back(
    bot: ExtBot[Any], parts: Components, desk: HelpDesk, request: HelpRequest, phone: str
) -> None:
    request = await desk.call_back(request, phone)
    shown = validators.phone_display(phone)
    # In full in the topic: staff must be able to dial it, and the citizen gave it for that.
    await _post_in_topic(bot, parts, request, "helpdesk.staff.callback", {"phone": shown})
    kept = Reply("helpdesk.callback_set", {"phone": shown})
    await _tell_citizen(bot, parts, request.user_key, kept)


async def deliver_overdue(bot: ExtBot[Any], parts: Components) -> None:
    """Citizens nobody answered in time (office hours): the bot, or a call back."""
    desk = parts.helpdesk
    if desk is None:
        return
    choices = (
        (Button("g:human:cancel", label_key="btn.human_withdraw"),),
        (Button("g:human:callback", label_key="btn.human_callback"),),
    )
    minutes = int(desk.answer_within.total_seconds() // 60)
    for request in await desk.overdue():
        await _post_in_topic(bot, parts, request, "helpdesk.staff.no_answer", {"minutes": minutes})
        try:
            late = Reply("helpdesk.no_answer", {"minutes": minutes}, buttons=choices)
            await _tell_citizen(bot, parts, request.user_key, late)
        except TelegramError as exc:
            log.info("could not tell %s: %s", mask_user(request.user_key), exc)


async def sweep_helpdesk(context: ContextTypes.DEFAULT_TYPE) -> None:
    """JobQueue tick: the answer-time check reads the database, so a restart loses none."""
    await deliver_overdue(context.bot, _parts(context))


async def _relay_to_topic(
    bot: ExtBot[Any], parts: Components, desk: HelpDesk, key: str, message: Message
) -> None:
    request = await desk.helping(key)
    if request is None:
        return
    if request.thread_id is None:
        request = await _open_topic(bot, parts, desk, request)
    try:
        await _copy_into_topic(bot, parts, desk, request, message)
    except BadRequest as exc:
        if _THREAD_GONE not in str(exc).lower():
            log.info("could not copy a message of %s: %s", mask_user(key), exc)
            await _post_in_topic(bot, parts, request, "helpdesk.staff.not_copied")
            return
        # Deleted by mistake in the app (Telegram sends no update): a new topic, a new card.
        request = await _open_topic(bot, parts, desk, request, recreate=True)
        await _copy_into_topic(bot, parts, desk, request, message)


async def _copy_into_topic(
    bot: ExtBot[Any], parts: Components, desk: HelpDesk, request: HelpRequest, message: Message
) -> None:
    replied = message.reply_to_message
    target = await desk.topic_side(request, replied.message_id) if replied else None
    copied = await bot.copy_message(
        chat_id=parts.staff_chat(),
        from_chat_id=message.chat_id,
        message_id=message.message_id,
        message_thread_id=request.thread_id,
        reply_parameters=_replying_to(target),
    )
    await desk.link(request, message.message_id, copied.message_id)


def _replying_to(message_id: int | None) -> ReplyParameters | None:
    if message_id is None:
        return None
    return ReplyParameters(message_id, allow_sending_without_reply=True)


async def _mirror_edit(bot: ExtBot[Any], chat_id: int, message_id: int, edited: Message) -> None:
    """An edit on one side shown on the other: the copy is the bot's own message."""
    try:
        if edited.text is not None:
            await bot.edit_message_text(
                edited.text, chat_id=chat_id, message_id=message_id, entities=edited.entities
            )
        elif edited.caption is not None:
            await bot.edit_message_caption(
                chat_id=chat_id,
                message_id=message_id,
                caption=edited.caption,
                caption_entities=edited.caption_entities,
            )
    except TelegramError as exc:  # deleted meanwhile, or the same text: nothing to mirror
        log.info("edit not mirrored: %s", exc)


# ----------------------------------------------------------------------------- the topic


async def _open_topic(
    bot: ExtBot[Any],
    parts: Components,
    desk: HelpDesk,
    request: HelpRequest,
    *,
    recreate: bool = False,
) -> HelpRequest:
    """The request's topic, created (or reopened) with a fresh pinned card on top."""
    _, conv = await _citizen_locale(parts, request.user_key)
    async with _creating:
        current = await desk.of_user(request.user_key)
        if current is not None:
            request = current
        if request.thread_id is not None and not recreate:
            try:
                await bot.reopen_forum_topic(parts.staff_chat(), request.thread_id)
            except BadRequest as exc:
                recreate = _THREAD_GONE in str(exc).lower()  # else: it was open already
        if request.thread_id is None or recreate:
            name = card.topic_name(conv, request.reference)
            thread_id = await _create_topic(bot, parts.staff_chat(), name)
            request = await desk.in_topic(request, thread_id)
    await _post_card(bot, parts, request, conv)
    return request


async def _create_topic(bot: ExtBot[Any], chat_id: int, name: str) -> int:
    for attempt in range(TOPIC_TRIES):
        try:
            topic = await bot.create_forum_topic(chat_id, name)
        except RetryAfter as exc:
            if attempt == TOPIC_TRIES - 1:
                raise
            wait = exc.retry_after
            await asyncio.sleep(wait.total_seconds() if not isinstance(wait, int) else wait)
            continue
        return topic.message_thread_id
    raise AssertionError("unreachable: the last try raises")


async def _post_card(
    bot: ExtBot[Any], parts: Components, request: HelpRequest, conv: Conversation | None
) -> None:
    lang = parts.settings.bot_default_locale
    text = parts.translator.text
    filled = [
        text(lang, "helpdesk.card.line", {"field": text(lang, f"field.{name}"), "value": value})
        for name, value in card.filled(conv)
    ] if conv else []
    refused = [
        text(lang, "helpdesk.card.failures", {"step": text(lang, f"step.{step}"), "count": n})
        for step, n in card.failures(conv)
    ] if conv else []
    none = text(lang, "helpdesk.card.none")
    body = text(
        lang,
        "helpdesk.card",
        {
            "reference": request.reference,
            "step": text(lang, f"step.{conv.state}") if conv else none,
            "language": conv.locale if conv else lang,
            "since": request.requested_at[:16].replace("T", " ") + " UTC",
            "filled": "\n".join(filled) or none,
            "refused": "\n".join(refused) or none,
        },
    )
    sent = await bot.send_message(
        parts.staff_chat(), body, message_thread_id=request.thread_id
    )
    try:
        await bot.pin_chat_message(parts.staff_chat(), sent.message_id, disable_notification=True)
    except TelegramError as exc:  # the bot may lack the right to pin: the card is there
        log.info("could not pin the card of %s: %s", request.reference, exc)


async def _post_in_topic(
    bot: ExtBot[Any],
    parts: Components,
    request: HelpRequest,
    key: str,
    params: dict[str, Any] | None = None,
) -> None:
    if request.thread_id is None:
        return
    words = parts.translator.text(parts.settings.bot_default_locale, key, params)
    try:
        await bot.send_message(parts.staff_chat(), words, message_thread_id=request.thread_id)
    except TelegramError as exc:
        log.info("could not post in the topic of %s: %s", request.reference, exc)


# ----------------------------------------------------------------------------- staff side


async def is_staff(bot: ExtBot[Any], parts: Components, user_id: int) -> bool:
    """Listed in STAFF_USER_IDS *and* a member of the staff chat right now."""
    if user_id not in parts.settings.staff_ids:
        return False
    try:
        member = await bot.get_chat_member(parts.staff_chat(), user_id)
    except TelegramError as exc:
        log.info("could not check staff member %s: %s", mask_user(str(user_id)), exc)
        return False
    return member.status in MEMBER_STATUSES


async def on_staff_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    parts = _parts(context)
    desk = parts.helpdesk
    message = update.message or update.edited_message
    if desk is None or message is None or message.chat_id != parts.settings.staff_chat_id:
        return
    sender = message.from_user
    thread_id = message.message_thread_id
    if sender is None or sender.is_bot or not message.is_topic_message or thread_id is None:
        return  # the General topic, another bot, an anonymous admin
    edited = update.edited_message is not None  # an edited command is not run again
    command = None if edited else _command(message)
    bot = context.bot
    if command in officers.COMMANDS:  # in any topic: officers may keep one of their own
        if await _authorised(bot, parts, sender.id):
            reviewing: officers.Reviewing = context.application.bot_data.setdefault(
                "reviewing", {}
            )
            place = (thread_id, sender.id)
            await officers.officer_command(
                bot, parts, desk, reviewing, place, command or "", message.text or ""
            )
        return
    request = await desk.of_topic(thread_id)
    if request is None or not await _authorised(bot, parts, sender.id):
        return
    if edited:
        copy = await desk.chat_side(request, message.message_id)
        if copy is not None and request.status == "human":
            await _mirror_edit(bot, _chat_of(request.user_key), copy, message)
            await desk.audit(sender.id, "edit", request)
        return
    if message.forum_topic_closed is not None:
        await _resolve(bot, parts, desk, request, sender.id, close=False)
        return
    if message.forum_topic_reopened is not None:
        request = await desk.reopen(request)
        await desk.audit(sender.id, "reopen", request)
        await _post_in_topic(bot, parts, request, "helpdesk.staff.reopened")
        return
    if command is None:
        await _staff_reply(bot, parts, desk, request, sender.id, message)
    elif command == "takeover":
        await _take_over(bot, parts, desk, request, sender.id)
    elif command == "release":
        await _release(bot, parts, desk, request, sender.id)
    elif command == "resolve":
        await _resolve(bot, parts, desk, request, sender.id, close=True)
    elif command == "queue":
        await _queue(bot, parts, desk, request, sender.id)
    elif command == "set":
        await _set(bot, parts, desk, request, sender.id, message.text or "")
    else:
        await _post_in_topic(bot, parts, request, "helpdesk.staff.unknown_command")


async def _authorised(bot: ExtBot[Any], parts: Components, user_id: int) -> bool:
    if await is_staff(bot, parts, user_id):
        return True
    log.info("ignored a message of non-staff %s in a topic", mask_user(str(user_id)))
    return False


def _command(message: Message) -> str | None:
    text = message.text or ""
    if not text.startswith("/"):
        return None
    return text.split()[0][1:].partition("@")[0].lower()


async def _staff_reply(
    bot: ExtBot[Any],
    parts: Components,
    desk: HelpDesk,
    request: HelpRequest,
    staff_id: int,
    message: Message,
) -> None:
    """Copied to the topic's own citizen; a first reply takes the conversation over."""
    if not request.is_open:
        await _post_in_topic(bot, parts, request, "helpdesk.staff.not_open")
        return
    if request.status != "human":
        request = await _take_over(bot, parts, desk, request, staff_id)
    replied = message.reply_to_message
    # A message in a topic "replies" to the topic's first message when it replies to none.
    answered = replied if replied is not None and replied.message_id != request.thread_id else None
    target = await desk.chat_side(request, answered.message_id) if answered else None
    try:
        copied = await bot.copy_message(
            chat_id=_chat_of(request.user_key),
            from_chat_id=message.chat_id,
            message_id=message.message_id,
            reply_parameters=_replying_to(target),
        )
    except TelegramError as exc:
        log.info("could not reach %s: %s", mask_user(request.user_key), exc)
        await _post_in_topic(bot, parts, request, "helpdesk.staff.not_delivered")
        return
    await desk.link(request, copied.message_id, message.message_id)
    await desk.audit(staff_id, "reply", request)


async def _take_over(
    bot: ExtBot[Any], parts: Components, desk: HelpDesk, request: HelpRequest, staff_id: int
) -> HelpRequest:
    if request.status == "human":
        await _post_in_topic(bot, parts, request, "helpdesk.staff.already_taken")
        return request
    request = await desk.take_over(request, staff_id)
    await desk.audit(staff_id, "takeover", request)
    await _tell_citizen(bot, parts, request.user_key, Reply("helpdesk.taken"))
    await _post_in_topic(bot, parts, request, "helpdesk.staff.taken")
    return request


async def _release(
    bot: ExtBot[Any], parts: Components, desk: HelpDesk, request: HelpRequest, staff_id: int
) -> None:
    if request.status != "human":
        await _post_in_topic(bot, parts, request, "helpdesk.staff.not_taken")
        return
    request = await desk.release(request)
    await desk.audit(staff_id, "release", request)
    await _post_in_topic(bot, parts, request, "helpdesk.staff.released")
    await _tell_citizen(bot, parts, request.user_key, Reply("helpdesk.released"))
    await _resume(bot, parts, request.user_key)


async def _resolve(
    bot: ExtBot[Any],
    parts: Components,
    desk: HelpDesk,
    request: HelpRequest,
    staff_id: int,
    *,
    close: bool,
) -> None:
    """Done: the topic closes (``close``: by the command; else it was closed in the app)."""
    was_helping = request.status == "human"
    request = await desk.resolve(request)
    await desk.audit(staff_id, "resolve", request)
    await _post_in_topic(bot, parts, request, "helpdesk.staff.resolved")
    if close and request.thread_id is not None:
        try:
            await bot.close_forum_topic(parts.staff_chat(), request.thread_id)
        except BadRequest as exc:  # closed already
            log.info("topic of %s not closed: %s", request.reference, exc)
    await _tell_citizen(bot, parts, request.user_key, Reply("helpdesk.resolved"))
    if was_helping:
        await _resume(bot, parts, request.user_key)


async def _set(
    bot: ExtBot[Any],
    parts: Components,
    desk: HelpDesk,
    request: HelpRequest,
    staff_id: int,
    text: str,
) -> None:
    """``/set FIELD VALUE``: the only way staff words become an answer, validated as the
    citizen's own. The audit names the field, never the value."""
    _, name, value = (text.split(maxsplit=2) + ["", ""])[:3]
    if not name or not value:
        await _post_in_topic(bot, parts, request, "helpdesk.staff.set_usage")
        return
    name = name.lower()
    done, reply = await parts.service.correct(request.user_key, name, value)
    lang = parts.settings.bot_default_locale
    if not done:
        await desk.audit(staff_id, "set-refused", request, name)
        reason = parts.translator.reply(lang, reply)
        await _post_in_topic(bot, parts, request, "helpdesk.staff.set_refused", {"reason": reason})
        return
    await desk.audit(staff_id, "set", request, name)
    field = parts.translator.text(lang, f"field.{name}")
    await _post_in_topic(bot, parts, request, "helpdesk.staff.set_done", {"field": field})
    await _tell_citizen(bot, parts, request.user_key, reply)


async def _queue(
    bot: ExtBot[Any], parts: Components, desk: HelpDesk, request: HelpRequest, staff_id: int
) -> None:
    lang = parts.settings.bot_default_locale
    text = parts.translator.text
    lines = [
        text(
            lang,
            "helpdesk.staff.queue_line",
            {
                "reference": r.reference,
                "minutes": minutes,
                "status": text(lang, f"helpdesk.status.{_queue_status(r)}"),
            },
        )
        for r, minutes in await desk.queue()
    ]
    await desk.audit(staff_id, "queue", request)
    listing = "\n".join(lines) or text(lang, "helpdesk.card.none")
    await _post_in_topic(bot, parts, request, "helpdesk.staff.queue", {"lines": listing})


def _queue_status(request: HelpRequest) -> str:
    return "callback" if request.callback == "set" else request.status


async def _resume(bot: ExtBot[Any], parts: Components, key: str) -> None:
    """Back to the bot at the very step the citizen was at, every answer kept."""

    async def deliver(outcome: Outcome) -> None:
        await send_replies(
            bot, _chat_of(key), outcome.replies, outcome.locale, parts.translator
        )

    await parts.service.handle(key, Event.pressed("g:resume"), deliver)
