"""The documentation drawn from the code is the code's current shape."""

from __future__ import annotations

from scripts.draw_machine import OUT, render


def test_the_state_machine_diagram_is_up_to_date() -> None:
    assert OUT.read_text() == render(), "run: python scripts/draw_machine.py"
