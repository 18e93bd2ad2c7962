"""An operator who turns the log up to DEBUG still reads no citizen's data."""

from __future__ import annotations

import io
import logging

from bot.__main__ import configure_logging
from tests.story import Citizen, fill_until_review


async def test_a_debug_log_does_not_carry_the_sql_parameters_of_a_registration(
    citizen: Citizen,
) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    kept = (root.level, list(root.handlers))
    configure_logging(stream)
    root.setLevel(logging.DEBUG)  # as an operator chasing a problem would
    try:
        await fill_until_review(citizen)
        logging.getLogger("bot.test").debug("registration reached the review")
    finally:
        root.setLevel(kept[0])
        root.handlers[:] = kept[1]
    assert await citizen.state() == "review"
    logged = stream.getvalue()
    assert "DEBUG bot.test: registration reached the review" in logged  # DEBUG was on
    for personal in ("0983847986", "an.nguyen@example.com", "Nguyễn Văn An", "Lạch Tray"):
        assert personal not in logged
