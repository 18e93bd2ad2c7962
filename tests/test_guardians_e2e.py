"""Guardians register their children end to end (issue 11): the real PTB Application
talking over HTTP to the Bot API emulator, for a guardian who registered herself through
the bot earlier.

The mother registers herself first (her receipt carries «Đăng ký cho con»), and a while
later — a code to the same address within the minute would wait its turn — she declares
for her children in her own chat.
"""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from bot.flows import otp
from bot.flows.validators import bhxh_display
from bot.masking import mask_email
from tests.conftest import FakeClock
from tests.corpus import Record, bhyt_payload
from tests.emulator import ApiCall, BotApiEmulator
from tests.story import photo_bytes, qr_photo
from tests.telegram_story import TelegramUser
from tests.test_telegram_e2e import Running, answer_until_review, running_bot

MOTHER = 7601
MOTHERS_EMAIL = "me.an@example.com"
#: The receipt number, as in "số hồ sơ là 00031.GD/2026/123".
RECEIPT = re.compile(r"\d{5}\.GD/\d{4}/\d{3,5}")


@dataclass(frozen=True)
class Child:
    """A synthetic child, each with their own BHXH code (one declaration per code waits)."""

    full_name: str
    born: date
    bhxh_code: str

    @property
    def first_name(self) -> str:
        return self.full_name.rsplit(maxsplit=1)[-1]

    @property
    def typed_birth_date(self) -> str:
        return self.born.strftime("%d/%m/%Y")

    def bhyt_card(self, layout: int) -> bytes:
        """A photo of the child's BHYT card, its QR laid out as the corpus lays real ones;
        ``layout`` picks the card's form (see ``CARD_FORMS``)."""
        record = Record(
            id_number="031215000000",  # a child has none; the card's region digits come from it
            old_id="",
            name=self.full_name,
            birth=self.born,
            gender="male",
            address="Số 5 Lạch Tray, Phường Gia Viên, Thành phố Hải Phòng",
            issued=date(2025, 1, 15),
            bhxh=self.bhxh_code,
            new_card=True,
        )
        return qr_photo(bhyt_payload(record, random.Random(layout)))


KHANG = Child("Nguyễn Minh Khang", date(2015, 3, 5), "0398765432")
HA = Child("Nguyễn Thu Hà", date(2018, 9, 1), "0398765433")
#: 16 on the test's day (23/11/2026 in Vietnam).
CUC = Child("Trần Thị Cúc", date(2010, 1, 1), "0398765434")
#: The corpus's seeds that draw each form of BHYT card: the 16-field form of new cards,
#: and the old 9-field form whose card number puts a group code (here TE4 31) before the
#: BHXH code.
CARD_FORMS = {"new card": 1, "old TE card": 9}


@pytest.fixture
async def running(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Running]:
    async with running_bot(tmp_path, clock) as bot:
        yield bot


# ---------------------------------------------------------------- steps of the story
async def registered_mother(running: Running, clock: FakeClock) -> TelegramUser:
    """A mother who registered herself through the bot, with her e-mail, half an hour ago."""
    mother = running.user(MOTHER)
    await answer_until_review(mother, MOTHERS_EMAIL)
    await mother.presses("review:confirm")
    await mother.presses("otp:via:email")
    assert RECEIPT.search(await mother.says(await running.code_for(MOTHERS_EMAIL)))
    await pdf_sent(running, count=1)  # her own declaration's PDF follows her receipt
    clock.advance(minutes=30)
    return mother


async def starts_a_child(mother: TelegramUser, how: str = "/child") -> None:
    """/child or a «Đăng ký cho con» button, then the consent: she is recognised, not
    asked for her own data again."""
    consent = await (mother.command("child") if how == "/child" else mother.presses(how))
    assert "Nguyễn Văn An sẽ là người kê khai" in consent, consent
    await mother.presses("child:consent:yes")
    assert "relationship:mother" in buttons_shown(mother)
    await mother.presses("relationship:mother")


def buttons_shown(user: TelegramUser) -> str:
    """The buttons the bot showed in answer to the user's last action."""
    markup = [c.params.get("reply_markup") for c in user.last or []]
    return " ".join(str(m) for m in markup if m)


async def answers_until_gender(mother: TelegramUser, child: Child) -> str:
    await mother.says(child.bhxh_code)
    await mother.says(child.full_name)
    return await mother.says(child.typed_birth_date)


async def answers_from_gender(mother: TelegramUser) -> str:
    """Gender, portrait, birth certificate and the suggested office; returns the review."""
    await mother.presses("gender:male")
    await mother.sends_photo(photo_bytes(seed=11))
    await mother.sends_photo(photo_bytes(seed=12))
    return await mother.presses("agency:pick:")


async def child_until_review(mother: TelegramUser, child: Child, how: str = "/child") -> str:
    await starts_a_child(mother, how)
    await answers_until_gender(mother, child)
    return await answers_from_gender(mother)


async def confirms_with_the_code(running: Running, mother: TelegramUser) -> str:
    """The review confirmed, the code (sent to her e-mail) typed: returns the receipt."""
    sent = await mother.presses("review:confirm")
    assert mask_email(MOTHERS_EMAIL) in sent, sent  # the code goes to her e-mail
    done = await mother.says(await running.code_for(MOTHERS_EMAIL))
    found = RECEIPT.search(done)
    assert found, done
    return found.group(0)


def documents(running: Running) -> list[ApiCall]:
    return [c for c in running.emu.calls("sendDocument") if c.chat_id == MOTHER and c.ok]


async def pdf_sent(running: Running, *, count: int) -> list[ApiCall]:
    """The ``count`` PDFs in the mother's chat; each follows its receipt."""
    await running.emu.wait_for(lambda: len(documents(running)) >= count, timeout=20)
    sent = documents(running)
    assert len(sent) == count
    return sent


# ---------------------------------------------------------------- the stories
async def test_a_guardian_who_registered_earlier_adds_two_children_one_after_another(
    running: Running, clock: FakeClock
) -> None:
    mother = await registered_mother(running, clock)
    receipts: dict[Child, str] = {}
    # Her own receipt offers «Đăng ký cho con»; a child's, «… cho người con khác».
    for child, button in ((KHANG, "Đăng ký cho con"), (HA, "người con khác")):
        review = await child_until_review(mother, child, how=button)
        assert child.full_name in review and child.typed_birth_date in review
        receipts[child] = await confirms_with_the_code(running, mother)
        assert child.full_name in mother.text  # the receipt names the child
        [*_, pdf] = await pdf_sent(running, count=1 + len(receipts))
        caption = str(pdf.params.get("caption"))
        assert receipts[child] in caption and child.full_name in caption, caption
        [(_, data)] = pdf.files.items()
        assert data.startswith(b"%PDF")
        clock.advance(minutes=5)
    assert len(set(receipts.values())) == 2  # each child their own declaration
    status = await mother.command("status")
    for child, receipt in receipts.items():
        assert f"Con {child.first_name}: tờ khai {receipt}" in status, status


async def test_a_16_year_old_with_an_id_card_is_sent_to_register_themself(
    running: Running, clock: FakeClock
) -> None:
    mother = await registered_mother(running, clock)
    await starts_a_child(mother)
    asked = await answers_until_gender(mother, CUC)
    assert "CCCD/Căn cước" in asked and "14 tuổi" in asked
    told = await mother.presses("id_card_question:yes")
    assert "con tự đăng ký" in told and "/register" in told
    assert "đã xóa" in told  # the draft and what it held are dropped
    assert await running.parts.service.conversations.children_of(f"tg:{MOTHER}") == []
    assert CUC.first_name not in await mother.command("status")


@pytest.mark.parametrize("form", sorted(CARD_FORMS))
async def test_a_childs_bhyt_card_photo_fills_code_name_and_birth_date(
    running: Running, clock: FakeClock, form: str
) -> None:
    mother = await registered_mother(running, clock)
    await starts_a_child(mother)
    read = await mother.sends_photo(KHANG.bhyt_card(CARD_FORMS[form]))
    assert KHANG.full_name in read and KHANG.typed_birth_date in read, read
    asked = await mother.presses("bhxh_code:card:yes")
    assert "Ảnh chân dung của con" in asked, asked  # the card answered the gender too
    await mother.sends_photo(photo_bytes(seed=11))
    await mother.sends_photo(photo_bytes(seed=12))
    review = await mother.presses("agency:pick:")
    for filled in (KHANG.full_name, KHANG.typed_birth_date, bhxh_display(KHANG.bhxh_code)):
        assert filled in review, review


async def test_a_restart_in_the_middle_of_a_childs_registration_resumes_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    async with BotApiEmulator() as emu:
        async with running_bot(tmp_path, clock, emulator=emu) as first:
            mother = await registered_mother(first, clock)
            await starts_a_child(mother)
            await mother.says(KHANG.bhxh_code)
            assert "Ngày sinh của con" in await mother.says(KHANG.full_name)
        async with running_bot(tmp_path, clock, emulator=emu) as second:
            mother = second.user(MOTHER)
            # She simply types the next answer: the birth date asked before the restart.
            await mother.says(KHANG.typed_birth_date)
            assert "gender:male" in buttons_shown(mother)
            review = await answers_from_gender(mother)
            assert KHANG.full_name in review and bhxh_display(KHANG.bhxh_code) in review, review
            assert "Mẹ" in review
            await confirms_with_the_code(second, mother)


async def wrong_codes_then_the_right_one(
    running: Running, user: TelegramUser, email: str
) -> list[str]:
    """What the bot answers to as many wrong codes as allowed, then to the right code."""
    code = await running.code_for(email)
    wrong = f"{(int(code) + 7) % 1_000_000:06d}"
    return [*[await user.says(wrong) for _ in range(otp.MAX_WRONG)], await user.says(code)]


async def test_wrong_codes_for_a_childs_declaration_lock_as_an_adults_do(
    running: Running, clock: FakeClock
) -> None:
    mother = await registered_mother(running, clock)
    await child_until_review(mother, KHANG)
    await mother.presses("review:confirm")
    # A father registering himself at the same moment, with codes to his own e-mail.
    father = running.user(MOTHER + 1)
    await answer_until_review(father, "ba.binh@example.com", bhxh_code="0312345679")
    await father.presses("review:confirm")
    await father.presses("otp:via:email")
    for_child = await wrong_codes_then_the_right_one(running, mother, MOTHERS_EMAIL)
    for_adult = await wrong_codes_then_the_right_one(running, father, "ba.binh@example.com")
    assert for_child == for_adult  # word for word, the same tries, lock and wait
    assert f"còn {otp.MAX_WRONG - 1} lần" in for_child[0]
    assert "sai quá nhiều lần" in for_child[-2] and "số hồ sơ" not in for_child[-1]
    clock.advance(seconds=otp.LOCK_TIME.total_seconds() + 1)
    assert "Mã OTP 6 chữ số đã được gửi" in await mother.presses("otp:resend")
    fresh = await running.code_for(MOTHERS_EMAIL)
    assert KHANG.full_name in await mother.says(fresh)
