"""The documentation drawn from the code is the code's current shape."""

from __future__ import annotations

import pytest

from scripts.draw_machine import MACHINES, diagram_path, main, render


@pytest.mark.parametrize("kind", sorted(MACHINES))
def test_each_declarations_state_machine_diagram_is_up_to_date(kind: str) -> None:
    expected = render(kind)
    assert diagram_path(kind).read_text() == expected, "run: python scripts/draw_machine.py"


def test_the_childs_diagram_draws_the_childs_machine_not_the_adults() -> None:
    child, adult = render("child"), render("adult")
    assert "birth_certificate" in child and "id_card_question" in child
    assert "birth_certificate" not in adult and "id_front" not in child


def test_an_unknown_kind_is_refused_with_the_kinds_there_are(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["--kind", "company"])
    assert "adult" in capsys.readouterr().err
