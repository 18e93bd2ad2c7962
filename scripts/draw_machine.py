"""Writes a mermaid diagram of each kind of declaration's state machine (docs/registration.mmd
for an adult's, docs/registration-<kind>.mmd for the others, e.g. a child's), from the same
data the bot runs on (``bot.flows.machine.MACHINES``). Run after changing a flow:
``python scripts/draw_machine.py`` draws them all, ``--kind child`` one."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from transitions.extensions import GraphMachine

import bot.guardians.machine  # noqa: F401 (registers the child's and the guardian's machines)
from bot.flows.conversation import Conversation
from bot.flows.machine import MACHINES

DOCS = Path(__file__).resolve().parents[1] / "docs"


def diagram_path(kind: str) -> Path:
    """Where the diagram of ``kind`` is written (the adult's keeps its historic name)."""
    return DOCS / ("registration.mmd" if kind == "adult" else f"registration-{kind}.mmd")


def render(kind: str = "adult") -> str:
    flow = MACHINES[kind]
    model = Conversation("diagram", kind=kind)
    GraphMachine(
        model=model,
        states=flow.states,
        transitions=[t for t in flow.transitions if t["source"] != "*"],  # cancel: from anywhere
        initial=flow.initial,
        auto_transitions=False,
        graph_engine="mermaid",
        show_conditions=True,
    )
    diagram: str = model.get_graph().draw(None)  # type: ignore[attr-defined]
    return diagram


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--kind", choices=sorted(MACHINES), help="one kind of declaration (default: all)"
    )
    kinds = [kind] if (kind := parser.parse_args(argv).kind) else sorted(MACHINES)
    for name in kinds:
        out = diagram_path(name)
        out.write_text(render(name))
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
