"""The same registration in a terminal, and the command line's own messages."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.console import run_console
from tests.conftest import FakeClock, make_settings
from tests.story import TYPED_UNTIL_PHONE, photo_bytes


async def test_a_citizen_registers_in_the_terminal_with_photos_as_file_paths(
    tmp_path: Path, clock: FakeClock
) -> None:
    photos = []
    for seed in (1, 2, 3):
        path = tmp_path / f"photo{seed}.jpg"
        path.write_bytes(photo_bytes(seed=seed))
        photos.append(str(path))
    out = io.StringIO()
    answers = iter(
        [
            "1",  # I agree
            *TYPED_UNTIL_PHONE,
            "0983847986",
            "2",  # no e-mail: the code goes by SMS, to the dev outbox
            *photos,
            "1",  # the first suggested agency
            "CONFIRM",
            "CODE",
            "/quit",
        ]
    )

    def read_line() -> str:
        line = next(answers)
        if line == "CONFIRM":
            found = re.findall(r"\[(\d+)\] ✅ Xác nhận", out.getvalue())
            line = found[-1]
        if line == "CODE":
            line = re.findall(r"OTP .*? là (\d{6})", out.getvalue())[-1]
        return line + "\n"

    data_dir = tmp_path / "data"
    assert await run_console(make_settings(data_dir), read_line, out, clock) == 0
    shown = out.getvalue()
    assert "[1] ✅ Tôi đồng ý" in shown
    assert "[dev outbox] sms tới +84983847986" in shown
    assert re.search(r"số hồ sơ là \d{5}\.GD/2026/\d{3,5}", shown), shown[-2000:]
    [saved] = (data_dir / "exports").glob("to-khai-01_*.pdf")
    assert saved.read_bytes().startswith(b"%PDF") and f"[đã lưu tệp: {saved}]" in shown


def test_run_without_a_token_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.setenv("VSSID_DATA_DIR", str(tmp_path))
    assert main(["run"]) == 2
    assert "TELEGRAM_BOT_TOKEN" in capsys.readouterr().err
