"""Officers decide on declarations; photos go and the citizen is told, even much later."""

from __future__ import annotations

import asyncio

import pytest

from bot.__main__ import main
from bot.wiring import Components
from tests.conftest import FakeClock
from tests.story import Citizen, fill_until_review, submit


async def submitted(citizen: Citizen) -> str:
    await fill_until_review(citizen)
    await submit(citizen)
    [declaration] = await citizen.parts.service.declarations.for_user(citizen.user_key)
    return declaration.receipt


def photo_files(parts: Components) -> list[str]:
    return [p.name for p in (parts.settings.vssid_data_dir / "photos").iterdir()]


async def test_an_approval_deletes_the_photos_and_tells_the_citizen(
    citizen: Citizen, parts: Components
) -> None:
    receipt = await submitted(citizen)
    assert len(photo_files(parts)) == 3
    assert [d.receipt for d in await parts.reviews.waiting("03102")] in ([receipt], [])
    assert await parts.reviews.decide(receipt, "approved")
    assert photo_files(parts) == []
    [notice] = await parts.service.sweep()
    assert notice.user_key == "tg:1001"
    assert "đã được cơ quan BHXH duyệt" in parts.translator.reply("vi", notice.replies[0])
    assert notice.notice_id is not None
    await parts.service.notice_delivered(notice.notice_id)
    assert await parts.service.sweep() == []
    await citizen.command("status")
    assert "đã được duyệt" in citizen.text


async def test_a_rejection_gives_the_reason_and_is_told_until_delivered(
    citizen: Citizen, parts: Components
) -> None:
    receipt = await submitted(citizen)
    assert await parts.reviews.decide(receipt, "rejected", "Ảnh CCCD bị mờ")
    assert await parts.reviews.decide(receipt, "approved") is None  # decided once
    first = await parts.service.sweep()
    again = await parts.service.sweep()  # not reported delivered: offered again
    assert [n.notice_id for n in first] == [n.notice_id for n in again]
    text = parts.translator.reply("vi", first[0].replies[0])
    assert "Lý do: Ảnh CCCD bị mờ" in text
    await citizen.command("status")
    assert "bị từ chối – lý do: Ảnh CCCD bị mờ" in citizen.text


async def test_an_undecided_declaration_expires_after_10_days(
    citizen: Citizen, parts: Components, clock: FakeClock
) -> None:
    await submitted(citizen)
    clock.advance(days=10, minutes=1)
    [notice] = await parts.service.sweep()
    assert notice.replies[0].key == "decision.expired"
    assert photo_files(parts) == []
    [declaration] = await parts.service.declarations.for_user("tg:1001")
    assert declaration.status == "expired"


async def test_officers_list_and_decide_from_the_command_line(
    citizen: Citizen,
    parts: Components,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    receipt = await submitted(citizen)
    monkeypatch.setenv("VSSID_DATA_DIR", str(parts.settings.vssid_data_dir))
    monkeypatch.setenv("VSSID_DATA_KEY", "11" * 32)
    await parts.close()  # the command opens the database itself
    assert await asyncio_run(main, ["review", "list"]) == 0
    listed = capsys.readouterr().out
    assert receipt in listed and "001******345" in listed and "001099012345" not in listed
    rejecting = ["review", "reject", receipt, "--officer", "Trần Thị Bình", "--reason", "Thiếu ảnh"]
    assert await asyncio_run(main, rejecting) == 0
    assert await asyncio_run(main, ["review", "approve", receipt, "--officer", "Võ Minh"]) == 2


async def asyncio_run(func: object, argv: list[str]) -> int:
    """The command runs its own event loop: call it from a thread, as a terminal would."""
    assert callable(func)
    result: int = await asyncio.to_thread(func, argv)
    return result
