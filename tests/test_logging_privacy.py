"""An operator who turns the log up to DEBUG still reads no citizen's data."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from bot.__main__ import configure_logging
from tests.story import Citizen, fill_until_review


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(stream)
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)  # as an operator chasing a problem would
    try:
        yield stream
    finally:
        root.setLevel(logging.WARNING)
        for handler in list(root.handlers):
            root.removeHandler(handler)


async def test_a_debug_log_does_not_carry_the_sql_parameters_of_a_registration(
    citizen: Citizen, debug_log: io.StringIO
) -> None:
    await fill_until_review(citizen)
    assert await citizen.state() == "review"
    logged = debug_log.getvalue()
    assert " DEBUG " in logged  # the level really was DEBUG
    for personal in ("0983847986", "an.nguyen@example.com", "Nguyễn Văn An", "Lạch Tray"):
        assert personal not in logged
