"""What is kept, for how long, and what goes when: the retention rules of the README.

A submitted declaration leaves no answers in the conversation; its personal fields, PDF
and photos go RETENTION_DAYS after the agency's decision (or its expiry), while /status
still shows its receipt, agency, date and outcome; a portrait replaced at the review goes
at submission; /cancel, expiry and /deletemydata leave nothing keyed by the user.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.settings import Settings
from bot.wiring import Components, build
from storage.conversations import sealed_for as conversation_context
from storage.declarations import sealed_for as declaration_context
from tests.conftest import FakeClock, make_settings
from tests.story import Citizen, code_from_outbox, fill_until_review, photo_bytes, submit

FIRST_EMAIL = "an.nguyen@example.com"
FIRST_PHONE = "+84983847986"  # "0983 847 986", as the story types it
LATER_EMAIL = "an.tran@example.org"
LATER_PHONE = "+84912345678"


def photo_files(parts: Components) -> set[str]:
    folder = parts.settings.vssid_data_dir / "photos"
    return {p.stem for p in folder.iterdir()} if folder.exists() else set()


async def photo_rows(parts: Components) -> set[str]:
    return {str(r[0]) for r in await parts.db.fetch("SELECT id FROM photos")}


async def recipients(parts: Components) -> set[str]:
    return {m.recipient for m in await parts.outbox.latest(limit=1000)}


async def count(parts: Components, table: str) -> int:
    [(found,)] = await parts.db.fetch(f"SELECT COUNT(*) FROM {table}")  # noqa: S608
    return int(found)


async def submitted(citizen: Citizen) -> str:
    await fill_until_review(citizen)
    await submit(citizen)
    await citizen.parts.service.drain()  # the PDF that follows the receipt
    [declaration] = await citizen.parts.service.declarations.for_user(citizen.user_key)
    return declaration.receipt


def status_line(text: str, receipt: str) -> str:
    """The /status line of one submitted declaration."""
    found = re.search(rf"Tờ khai {re.escape(receipt)} – cơ quan \d+ – nộp ngày [\d/]+: .*", text)
    assert found, text
    return found.group(0)


async def status_of(citizen: Citizen, receipt: str) -> str:
    """What /status says of this declaration."""
    await citizen.command("status")
    return status_line(citizen.text, receipt)


async def swept(parts: Components) -> dict[str, object]:
    """Run the sweep; the data of the citizen's one declaration after it."""
    await parts.service.sweep()
    [declaration] = await parts.service.declarations.for_user("tg:1001")
    return declaration.data


# ------------------------------------------------------------------ at submission


async def test_the_answers_leave_the_conversation_once_the_declaration_is_stored(
    citizen: Citizen, parts: Components
) -> None:
    receipt = await submitted(citizen)
    raw = await stored_conversation(parts)
    for given in ("Nguyễn Văn An", "001099012345", "0312345678", FIRST_PHONE, FIRST_EMAIL):
        assert given not in raw
    conv = await parts.service.conversations.load("tg:1001")
    assert conv is not None
    assert (conv.state, conv.receipt, conv.locale) == ("done", receipt, "vi")
    assert set(conv.answers) <= {"agency_code", "draft_id"}
    assert conv.otp is None and conv.contacts == []
    # The declaration itself is whole, and the citizen still finds it.
    [declaration] = await parts.service.declarations.for_user("tg:1001")
    assert declaration.data["full_name"] == "Nguyễn Văn An"
    assert "chờ cơ quan BHXH xét duyệt" in await status_of(citizen, receipt)


async def test_a_portrait_replaced_at_the_review_is_deleted_when_the_declaration_is_stored(
    citizen: Citizen, parts: Components
) -> None:
    await fill_until_review(citizen)
    first = (await citizen.answers())["portrait"]
    await citizen.presses("review:edit:portrait")
    await citizen.sends_photo(photo_bytes(seed=9))
    assert await citizen.state() == "review"
    assert first in photo_files(parts) and first in await photo_rows(parts)  # until submitted
    await submit(citizen)
    [declaration] = await parts.service.declarations.for_user("tg:1001")
    kept = {declaration.data[f] for f in ("portrait", "id_front", "id_back")}
    assert first not in kept
    assert photo_files(parts) == kept and await photo_rows(parts) == kept


# ------------------------------------------------------------------ after the decision


async def test_thirty_days_after_the_decision_only_receipt_agency_dates_and_outcome_remain(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    receipt = await submitted(citizen)
    await parts.worker.run_once()  # the review queue and the e-mail copy with the PDF
    assert FIRST_EMAIL in await recipients(parts)
    assert await parts.reviews.decide(receipt, "approved")
    clock.advance(days=29, hours=23)
    await parts.service.sweep()
    [declaration] = await parts.service.declarations.for_user("tg:1001")
    assert declaration.data["full_name"] == "Nguyễn Văn An"
    assert await parts.service.declarations.document(receipt, "vi") is not None
    clock.advance(hours=2)
    await parts.service.sweep()
    [declaration] = await parts.service.declarations.for_user("tg:1001")
    assert declaration.data == {}
    assert (declaration.receipt, declaration.status) == (receipt, "approved")
    assert await parts.service.declarations.document(receipt, "vi") is None
    assert await count(parts, "declaration_documents") == 0
    assert photo_files(parts) == set() and await photo_rows(parts) == set()
    assert await recipients(parts) == set()  # the copy mailed to the dev outbox, too
    assert await count(parts, "user_notices") == 0
    [(stored_receipt, sealed)] = await parts.db.fetch("SELECT receipt, data FROM declarations")
    opened = parts.db.vault.unseal_text(sealed, declaration_context(stored_receipt))
    assert "Nguyễn Văn An" not in opened
    line = await status_of(citizen, receipt)
    assert "nộp ngày 23/11/2026" in line and "đã được duyệt" in line
    assert re.search(r"cơ quan \d+", line)


async def test_an_undecided_declaration_is_purged_thirty_days_after_its_expiry(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    receipt = await submitted(citizen)
    clock.advance(days=10, minutes=1)
    await parts.service.sweep()  # expired: nobody decided within 10 days
    clock.advance(days=29)
    assert (await swept(parts))["id_number"] == "001099012345"
    clock.advance(days=1, minutes=1)
    assert await swept(parts) == {}
    assert "hết hạn" in await status_of(citizen, receipt)


async def test_a_copy_still_undelivered_when_the_retention_ends_is_dropped_not_sent_empty(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    receipt = await submitted(citizen)  # the worker never ran: the e-mail copy waits
    assert await parts.reviews.decide(receipt, "approved")
    clock.advance(days=30, minutes=1)
    assert await swept(parts) == {}
    items = await parts.worker.outbox.for_declaration(receipt)
    assert [i.status for i in items if i.status != "delivered"] == []
    assert await parts.worker.run_once() == 0
    assert await recipients(parts) == set()


async def test_the_thirty_days_count_from_the_decision_not_from_the_submission(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    receipt = await submitted(citizen)
    clock.advance(days=9)
    assert await parts.reviews.decide(receipt, "approved")
    clock.advance(days=25)  # 34 days after the submission, 25 after the decision
    assert (await swept(parts))["full_name"] == "Nguyễn Văn An"
    clock.advance(days=5, minutes=1)
    assert await swept(parts) == {}


@pytest.fixture
async def week_parts(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Components]:
    monkeypatch.setenv("RETENTION_DAYS", "7")
    components = await build(make_settings(tmp_path), clock)
    yield components
    await components.close()


async def test_the_retention_period_is_set_by_retention_days(
    week_parts: Components, clock: FakeClock
) -> None:
    assert week_parts.settings.retention_days == 7
    citizen = Citizen(week_parts, "tg:1001")
    receipt = await submitted(citizen)
    assert await week_parts.reviews.decide(receipt, "rejected", "Ảnh CCCD bị mờ")
    clock.advance(days=7, minutes=1)
    assert await swept(week_parts) == {}
    assert "bị từ chối – lý do: Ảnh CCCD bị mờ" in await status_of(citizen, receipt)


def test_retention_days_defaults_to_30_and_refuses_a_negative_period(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RETENTION_DAYS", raising=False)
    assert Settings().retention_days == 30
    monkeypatch.setenv("RETENTION_DAYS", "-1")
    with pytest.raises(ValueError, match="retention_days"):
        Settings()


# ------------------------------------------------------------------ erasure


async def codes_to_an_address_then_to_its_replacement(citizen: Citizen, clock: FakeClock) -> None:
    """A code by SMS to the first phone; an hour later the citizen changes phone and
    e-mail at the review, gets a code on the new phone, then has one mailed instead."""
    await fill_until_review(citizen, email=FIRST_EMAIL)
    await citizen.presses("review:confirm")
    await citizen.presses("otp:via:sms")
    clock.advance(minutes=65)
    await citizen.presses("otp:change")
    await citizen.presses("review:edit:phone")
    await citizen.says("0912 345 678")
    await citizen.presses("review:edit:email")
    await citizen.presses("email_choice:yes")
    await citizen.says(LATER_EMAIL)
    assert await citizen.state() == "review"
    await citizen.presses("review:confirm")  # by SMS again, now to the new phone
    clock.advance(minutes=2)
    await citizen.presses("otp:via:email")
    assert await recipients(citizen.parts) == {FIRST_PHONE, LATER_PHONE, LATER_EMAIL}
    assert await count(citizen.parts, "otp_sends") == 3


async def cancels(citizen: Citizen, clock: FakeClock) -> None:
    await citizen.command("cancel")
    await citizen.presses("g:cancel:yes")


async def deletes_their_data(citizen: Citizen, clock: FakeClock) -> None:
    await citizen.command("deletemydata")
    await citizen.presses("g:erase:yes")


async def lets_the_draft_expire(citizen: Citizen, clock: FakeClock) -> None:
    clock.advance(days=10, minutes=1)
    await citizen.parts.service.sweep()


Ending = Callable[[Citizen, FakeClock], Awaitable[None]]


@pytest.mark.parametrize("ending", [cancels, deletes_their_data, lets_the_draft_expire])
async def test_cancel_expiry_and_delete_my_data_forget_every_address_the_citizen_gave(
    citizen: Citizen, parts: Components, clock: FakeClock, ending: Ending
) -> None:
    await codes_to_an_address_then_to_its_replacement(citizen, clock)
    await ending(citizen, clock)
    assert await citizen.state() == "(nothing stored)"
    assert await recipients(parts) == set()  # the first phone's code too
    assert await count(parts, "consents") == 0
    assert photo_files(parts) == set() and await photo_rows(parts) == set()
    # The code sent over an hour ago no longer counts for any limit: its record is gone.
    # Fresh ones still guard their address (whoever owns it) and go when their hour ends.
    assert await count(parts, "otp_sends") <= 2
    clock.advance(hours=1, minutes=1)
    await parts.service.sweep()
    assert await count(parts, "otp_sends") == 0


async def test_starting_again_after_cancel_does_not_reset_the_code_limit_of_an_address(
    citizen: Citizen, clock: FakeClock
) -> None:
    await fill_until_review(citizen, email=None)
    await citizen.presses("review:confirm")
    assert await recipients(citizen.parts) == {FIRST_PHONE}
    await cancels(citizen, clock)
    await fill_until_review(citizen, email=None)
    await citizen.presses("review:confirm")
    assert "otp.address_busy" in citizen.keys
    assert await recipients(citizen.parts) == set()  # erased, and no new one sent


async def test_a_submitted_citizens_erasure_reaches_the_address_changed_before_submitting(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await codes_to_an_address_then_to_its_replacement(citizen, clock)
    await citizen.says(await code_from_outbox(parts))
    assert await citizen.state() == "done"
    await deletes_their_data(citizen, clock)
    assert "erase.kept" in citizen.keys
    assert await recipients(parts) == set()


async def test_delete_my_data_erases_the_notices_already_told(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    receipt = await submitted(citizen)
    assert await parts.reviews.decide(receipt, "approved")
    [notice] = await parts.service.sweep()
    assert notice.notice_id is not None
    await parts.service.notice_delivered(notice.notice_id)
    await deletes_their_data(citizen, clock)
    assert await count(parts, "user_notices") == 0


async def test_a_decision_not_yet_told_is_still_told_after_delete_my_data(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    """The declaration stays (the agency must keep it), so its outcome is still owed."""
    receipt = await submitted(citizen)
    assert await parts.reviews.decide(receipt, "rejected", "Ảnh mờ")
    await deletes_their_data(citizen, clock)
    [notice] = await parts.service.sweep()
    assert notice.user_key == "tg:1001" and notice.replies[0].key == "decision.rejected"


# ------------------------------------------------------------------ rows finished before


async def finished_before_answers_were_forgotten(citizen: Citizen) -> str:
    """A conversation row as a bot that kept the answers after submission left it."""
    receipt = await submitted(citizen)
    conversations = citizen.parts.service.conversations
    conv = await conversations.load(citizen.user_key)
    [declaration] = await citizen.parts.service.declarations.for_user(citizen.user_key)
    assert conv is not None
    conv.answers = {**declaration.data, "draft_id": conv.answers["draft_id"]}
    await conversations.save(conv)
    return receipt


async def stored_conversation(parts: Components) -> str:
    """The conversation row as the bot stores it, opened with the data key."""
    [(sealed,)] = await parts.db.fetch("SELECT data FROM conversations WHERE user_key = 'tg:1001'")
    return parts.db.vault.unseal_text(sealed, conversation_context("tg:1001"))


async def test_an_old_finished_conversation_forgets_its_answers_at_the_next_message(
    citizen: Citizen, parts: Components
) -> None:
    receipt = await finished_before_answers_were_forgotten(citizen)
    assert "Nguyễn Văn An" in await stored_conversation(parts)
    await citizen.command("start")
    assert receipt in citizen.text
    assert "Nguyễn Văn An" not in await stored_conversation(parts)


async def test_an_old_finished_conversation_forgets_its_answers_when_the_retention_ends(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    receipt = await finished_before_answers_were_forgotten(citizen)
    assert await parts.reviews.decide(receipt, "approved")
    clock.advance(days=30, minutes=1)
    await parts.service.sweep()
    assert "Nguyễn Văn An" not in await stored_conversation(parts)
    assert "đã được duyệt" in await status_of(citizen, receipt)
