"""Writes docs/registration.mmd, a mermaid diagram of the registration state machine,
from the same data the bot runs on (``bot.flows.machine``). Run after changing the flow."""

from __future__ import annotations

from pathlib import Path

from transitions.extensions import GraphMachine

from bot.flows.conversation import Conversation
from bot.flows.machine import STATES, TRANSITIONS

OUT = Path(__file__).resolve().parents[1] / "docs" / "registration.mmd"


def render() -> str:
    model = Conversation("diagram")
    GraphMachine(
        model=model,
        states=STATES,
        transitions=[t for t in TRANSITIONS if t["source"] != "*"],  # cancel: from anywhere
        initial="consent",
        auto_transitions=False,
        graph_engine="mermaid",
        show_conditions=True,
    )
    diagram: str = model.get_graph().draw(None)  # type: ignore[attr-defined]
    return diagram


def main() -> None:
    OUT.write_text(render())
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
