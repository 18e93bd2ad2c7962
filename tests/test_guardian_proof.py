"""A guardian who did not register through this bot proves their e-mail with a code
(issue 11, "What a guardian gets"): told first that they need VssID themself, then their
BHXH code, name, phone and e-mail, checked as an adult's are, and a code to that e-mail.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import service as service_module
from bot.flows.events import Event
from bot.guardians.flow import guardian_of
from bot.service import Notice
from bot.wiring import Components
from tests.conftest import FakeClock
from tests.servers import Inbox
from tests.story import (
    Citizen,
    code_from_outbox,
    fill_until_review,
    photo_bytes,
    wrong_codes_until_locked,
)
from tests.test_data_at_rest import as_bytes, database_files, pieces

GUARDIAN_CODE = "0311122233"
GUARDIAN_EMAIL = "binh.tran@example.com"


async def _gives_her_code(guardian: Citizen) -> None:
    """A mother new to the bot says she has VssID and gives her BHXH code."""
    await guardian.command("child")
    await guardian.presses("child:vssid:yes")
    await guardian.says(GUARDIAN_CODE)


async def _identified_until_code(guardian: Citizen, email: str = GUARDIAN_EMAIL) -> None:
    """... then her name, phone and e-mail, up to the code."""
    await _gives_her_code(guardian)
    await guardian.says("Trần Thị Bình")
    await guardian.says("0912 345 678")
    await guardian.says(email)


async def _asked_for_vssid_again(guardian: Citizen) -> None:
    """Nothing of the guardian is known any more: /child starts from the beginning."""
    await guardian.command("child")
    assert guardian.keys == ["child.needs_vssid"]


async def _proved(guardian: Citizen, parts: Components) -> None:
    await _identified_until_code(guardian)
    await guardian.says(await code_from_outbox(parts))


async def _child_submitted(
    guardian: Citizen, parts: Components, clock: FakeClock, code: str
) -> None:
    """From the child's consent to the receipt; the office is searched by province, since
    a guardian proved by e-mail gave no address to suggest it from."""
    await guardian.presses("child:consent:yes")
    await guardian.presses("relationship:mother")
    await guardian.says(code)
    await guardian.says("Nguyễn Minh Khang")
    await guardian.says("05/03/2015")
    await guardian.presses("gender:male")
    await guardian.sends_photo(photo_bytes(seed=11))
    await guardian.sends_photo(photo_bytes(seed=12))
    assert guardian.keys[-1] == "child.ask.agency_search"
    await guardian.says("Hải Phòng")
    await guardian.presses("agency:pick:")
    assert guardian.keys[-1] == "child.review.summary"
    clock.advance(minutes=5)  # the address's next code may go
    await guardian.presses("review:confirm")
    await guardian.says(await code_from_outbox(parts))
    assert "child.receipt" in guardian.keys


# ---------------------------------------------------------------- who is asked what
async def test_a_guardian_unknown_to_the_bot_is_told_they_need_vssid_and_can_register_first(
    citizen: Citizen,
) -> None:
    await citizen.command("child")
    assert citizen.keys == ["child.needs_vssid"]
    assert "VssID" in citizen.text
    await citizen.presses("child:vssid:no")
    assert citizen.keys[-1] == "ask.consent"  # the adult registration, as /register
    await citizen.presses("consent:yes:")
    assert citizen.keys[-1] == "ask.bhxh_code"


async def test_a_citizen_registered_without_email_is_asked_from_the_button_under_the_receipt(
    citizen: Citizen, parts: Components
) -> None:
    await fill_until_review(citizen, email=None)  # the code went to her phone
    await citizen.presses("review:confirm")
    await citizen.says(await code_from_outbox(parts))
    await citizen.presses("child:start")
    assert citizen.keys == ["child.needs_vssid"]  # her e-mail is not known: proved first
    await citizen.presses("child:vssid:yes")
    assert citizen.keys[-1] == "guardian.ask.bhxh_code"


async def test_the_guardians_yes_i_have_vssid_is_their_consent_and_is_recorded(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await citizen.command("child")
    assert "đồng ý" in citizen.text  # the question says pressing the button is agreeing
    await citizen.presses("Tôi đã có VssID, đồng ý tiếp tục")
    rows = await parts.db.fetch("SELECT user_key, version, given_at FROM consents")
    assert [(key, at) for key, _, at in rows] == [
        (f"{citizen.user_key}/guardian", clock().isoformat())
    ]


async def test_the_vssid_question_can_be_answered_by_typing(parts: Components) -> None:
    guardian = Citizen(parts, "tg:3001")
    await guardian.command("child")
    assert await guardian.state() == "(nothing stored)"  # nothing before they agree
    await guardian.says("1")  # the first button, typed
    assert guardian.keys[-1] == "guardian.ask.bhxh_code"
    other = Citizen(parts, "tg:3002")
    await other.command("child")
    await other.says("đăng ký cho tôi trước")  # the second button's words
    assert other.keys[-1] == "ask.consent"
    assert await other.state() == "(nothing stored)"


async def test_questions_held_before_consent_are_bounded(
    parts: Components, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Held in memory only, and not without end: the oldest asker is then a newcomer."""
    monkeypatch.setattr(service_module, "MAX_ASKED_BEFORE_CONSENT", 2)
    first, *others = (Citizen(parts, f"tg:301{n}") for n in range(3))
    for asker in (first, *others):
        await asker.command("child")
    await first.says("1")
    assert first.keys[-1] != "guardian.ask.bhxh_code"  # forgotten: greeted afresh
    await others[-1].says("1")
    assert others[-1].keys[-1] == "guardian.ask.bhxh_code"


async def test_a_guardian_proves_their_email_and_then_the_childs_consent_is_asked(
    mailed: tuple[Components, Inbox],
) -> None:
    parts, inbox = mailed
    guardian = Citizen(parts, "tg:3101")
    await _identified_until_code(guardian)
    assert guardian.keys[-1] == "otp.sent_email"
    [mail] = inbox.messages
    assert mail["To"] == GUARDIAN_EMAIL
    code = re.search(r"\b\d{6}\b", mail.get_content())
    assert code
    await guardian.says(code.group(0))
    assert guardian.keys == ["guardian.proved", "child.consent"]
    assert "Trần Thị Bình" in guardian.text
    await guardian.presses("child:consent:yes")
    assert guardian.keys[-1] == "child.ask.relationship"
    # The record is kept sealed: the database holds no name, code or address in clear.
    [(sealed,)] = await parts.db.fetch("SELECT data FROM guardians WHERE user_key = 'tg:3101'")
    for secret in ("Trần Thị Bình", GUARDIAN_CODE, GUARDIAN_EMAIL):
        assert secret.encode() not in as_bytes(sealed)


async def test_the_guardians_answers_are_checked_as_an_adults_are(parts: Components) -> None:
    guardian = Citizen(parts, "tg:3201")
    await guardian.command("child")
    await guardian.presses("child:vssid:yes")
    await guardian.says("12345")
    assert guardian.keys[0].startswith("err.")
    await guardian.says(GUARDIAN_CODE)
    await guardian.says("Tran Thi Binh")  # no diacritics: asked about, as an adult's name is
    assert guardian.keys == ["ask.name_confirm"]
    await guardian.presses("name_confirm:keep")
    assert guardian.keys[-1] == "guardian.ask.phone"
    await guardian.says("0912 345 678")
    await guardian.says("binh.tran@gmial.com")  # a provider mistyped: asked about
    assert guardian.keys == ["ask.email_confirm"]
    await guardian.presses("email_confirm:suggested")
    assert guardian.keys[-1] == "otp.sent_email"
    assert "b***" in guardian.text or "@gmail.com" in guardian.text


async def test_a_wrong_code_for_the_guardians_email_follows_the_adults_limits(
    parts: Components, clock: FakeClock
) -> None:
    guardian = Citizen(parts, "tg:3301")
    await _identified_until_code(guardian)
    right = await code_from_outbox(parts)
    await wrong_codes_until_locked(guardian, right)
    await guardian.says(right)  # locked: even the right code waits
    assert "guardian.proved" not in guardian.keys
    # Starting over does not lift the lock: it is the address's, and no code goes to it.
    await guardian.command("cancel")
    await guardian.presses("g:cancel:yes")
    clock.advance(minutes=2)
    await _identified_until_code(guardian)
    assert guardian.keys[-1] == "otp.locked"
    assert await parts.outbox.latest() == []  # nothing sent since /cancel erased the rest
    clock.advance(minutes=16)
    await guardian.presses("otp:resend")
    await guardian.says(await code_from_outbox(parts))
    assert guardian.keys[0] == "guardian.proved"


async def test_a_guardian_who_reads_english_proves_their_email_in_english(
    parts: Components,
) -> None:
    guardian = Citizen(parts, "tg:3251")
    await guardian.command("child")
    await guardian.presses("child:vssid:yes")
    await guardian.command("language")
    await guardian.presses("g:lang:en")
    assert "Your BHXH code" in guardian.text
    await guardian.says(GUARDIAN_CODE)
    await guardian.says("Trần Thị Bình")
    await guardian.says("0912 345 678")
    await guardian.says(GUARDIAN_EMAIL)
    await guardian.says(await code_from_outbox(parts))
    assert guardian.keys == ["guardian.proved", "child.consent"]
    assert "e-mail is checked" in guardian.text and "Do you agree" in guardian.text


# ---------------------------------------------------------------- several children
async def test_a_proved_guardian_adds_a_second_child_without_giving_their_data_again(
    parts: Components, clock: FakeClock
) -> None:
    guardian = Citizen(parts, "tg:3401")
    await _proved(guardian, parts)
    await _child_submitted(guardian, parts, clock, "0398765432")
    keys = await parts.service.conversations.children_of(guardian.user_key)
    [declaration] = await parts.service.declarations.for_user(keys[0])
    assert declaration.data["guardian"]["bhxh_code"] == GUARDIAN_CODE
    assert declaration.data["guardian"]["email"] == GUARDIAN_EMAIL
    assert declaration.data["relationship"] == "mother"
    assert declaration.data["guardian"]["proved_at"]  # the agency sees how she was proved
    clock.advance(minutes=30)
    await guardian.command("child")
    assert guardian.keys == ["child.consent"]  # recognised: nothing asked again
    await _child_submitted(guardian, parts, clock, "0398765433")
    await guardian.command("status")
    assert len([k for k in guardian.keys if k == "status.child"]) == 2
    assert "status.not_started" not in guardian.keys  # she has declared: for her children


# ---------------------------------------------------------------- drafts and their ends
async def test_a_restart_during_identification_resumes_it(parts: Components) -> None:
    guardian = Citizen(parts, "tg:3501")
    await _gives_her_code(guardian)
    await guardian.says("Trần Thị Bình")
    parts.service.conversations.forget_cache()  # the bot restarts: only SQLite remains
    await guardian.command("start")
    assert guardian.keys == ["start.resume", "guardian.ask.phone"]
    await guardian.command("status")
    assert "status.guardian_proof" in guardian.keys
    await guardian.says("0912 345 678")
    assert guardian.keys[-1] == "guardian.ask.email"


async def test_cancel_during_identification_cancels_only_that_draft(parts: Components) -> None:
    guardian = Citizen(parts, "tg:3601")
    await _gives_her_code(guardian)
    await guardian.command("cancel")
    await guardian.presses("g:cancel:yes")
    assert guardian.keys == ["cancel.done"]
    assert await parts.db.fetch(
        "SELECT user_key FROM conversations WHERE user_key LIKE 'tg:3601/%'"
    ) == []
    await _asked_for_vssid_again(guardian)


async def _swept(parts: Components, key: str) -> list[Notice]:
    """What the sweep has to tell now, of one kind (a reminder, an expiry)."""
    return [n for n in await parts.service.sweep() if any(r.key == key for r in n.replies)]


async def test_a_quiet_identification_expires_and_the_guardian_is_told(
    parts: Components, clock: FakeClock
) -> None:
    guardian = Citizen(parts, "tg:3701")
    await _gives_her_code(guardian)
    clock.advance(days=11)
    expired = await _swept(parts, "draft.expired")
    assert [guardian_of(n.user_key) for n in expired] == [guardian.user_key]
    await _asked_for_vssid_again(guardian)


async def test_a_quiet_identification_is_reminded_in_the_guardians_chat_and_resumed(
    parts: Components, clock: FakeClock
) -> None:
    guardian = Citizen(parts, "tg:3751")
    await _gives_her_code(guardian)
    clock.advance(days=1, hours=1)  # 11:00 in Vietnam the next day
    [reminder] = await _swept(parts, "draft.reminder")
    assert guardian_of(reminder.user_key) == guardian.user_key
    await guardian.send(Event.pressed("g:resume"))
    assert guardian.keys == ["start.resume", "guardian.ask.full_name"]


async def test_deletemydata_erases_the_proved_guardian_record(
    parts: Components, tmp_path: Path
) -> None:
    guardian = Citizen(parts, "tg:3801")
    await _proved(guardian, parts)
    [(sealed,)] = await parts.db.fetch("SELECT data FROM guardians WHERE user_key = 'tg:3801'")
    assert any(as_bytes(sealed) in blob for blob in database_files(tmp_path).values())
    await guardian.command("deletemydata")
    await guardian.presses("g:erase:yes")
    assert await parts.db.fetch("SELECT * FROM guardians") == []
    traces = [
        name
        for name, blob in database_files(tmp_path).items()
        for piece in pieces(as_bytes(sealed))
        if piece in blob
    ]
    assert traces == []
    await _asked_for_vssid_again(guardian)


async def test_the_retention_sweep_forgets_a_guardian_record_whose_purpose_ended(
    parts: Components, clock: FakeClock
) -> None:
    used = Citizen(parts, "tg:3901")
    idle = Citizen(parts, "tg:3902")
    await _proved(used, parts)
    clock.advance(minutes=5)
    await _identified_until_code(idle, email="cuc.le@example.com")
    await idle.says(await code_from_outbox(parts))
    assert idle.keys[0] == "guardian.proved"
    clock.advance(days=20)
    await used.command("child")  # used again for a child: its purpose goes on
    assert used.keys == ["child.consent"]
    clock.advance(days=15)
    await parts.service.sweep()
    kept = await parts.db.fetch("SELECT user_key FROM guardians")
    assert kept == [("tg:3901",)]
    await _asked_for_vssid_again(idle)


async def test_a_guardian_who_only_asked_does_not_hold_up_the_reminder_sweep(
    parts: Components, clock: FakeClock
) -> None:
    # Their row keeps the question's buttons (for a typed answer), nothing personal, and is
    # no draft: the sweep, which looks at a few hundred quiet rows at a time, skips it.
    await Citizen(parts, "tg:4001").command("child")
    clock.advance(days=2)
    assert await parts.service.conversations.quiet_since(clock().isoformat()) == []
