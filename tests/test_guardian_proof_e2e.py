"""End to end over HTTP: a guardian new to the bot proves their e-mail and adds a child,
the real PTB Application talking to the Bot API emulator (issue 11)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import FakeClock
from tests.emulator import ApiCall
from tests.story import photo_bytes
from tests.test_telegram_e2e import Running, running_bot

EMAIL = "hoa.pham@example.com"


@pytest.fixture
async def telegram(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Running]:
    async with running_bot(tmp_path, clock, sweeps=False) as running:
        yield running


async def test_a_new_guardian_proves_their_email_and_adds_one_child(
    telegram: Running, clock: FakeClock
) -> None:
    mother = telegram.user(7301)
    told = await mother.command("child")
    assert "cần có tài khoản VssID trước" in told
    await mother.presses("Tôi đã có VssID, đồng ý tiếp tục")  # the button, by its label
    assert "Mã số BHXH của bạn" in mother.text
    await mother.says("0311122233")
    await mother.says("Phạm Thị Hoa")
    await mother.shares_phone("+84912345678")
    sent = await mother.says(EMAIL)
    assert "h***@example.com" in sent
    proved = await mother.says(await telegram.code_for(EMAIL))
    assert "Đã xác minh email của Phạm Thị Hoa" in proved
    await mother.presses("child:consent:yes")
    await mother.presses("relationship:mother")
    await mother.says("0398765432")
    await mother.says("Phạm Minh Khang")
    await mother.says("05/03/2015")
    await mother.presses("gender:male")
    await mother.sends_photo(photo_bytes(seed=11))
    await mother.sends_photo(photo_bytes(seed=12))
    await mother.says("Hải Phòng")  # no address was given: the office is searched
    await mother.presses("agency:pick:")
    assert "Người kê khai: Phạm Thị Hoa" in mother.text
    clock.advance(minutes=5)
    await mother.presses("review:confirm")
    done = await mother.says(await telegram.code_for(EMAIL))
    assert re.search(r"cho con Phạm Minh Khang .* số hồ sơ là \d{5}\.GD/2026/\d{3,5}", done), done

    def pdfs() -> list[ApiCall]:
        return [c for c in telegram.emu.calls("sendDocument") if c.chat_id == 7301]

    await telegram.emu.wait_for(lambda: bool(pdfs()), timeout=20)  # to the mother's chat
    [(_, data)] = pdfs()[0].files.items()
    assert data.startswith(b"%PDF")
