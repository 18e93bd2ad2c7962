"""A typed answer to a question asked with buttons: "có", "không", "ok", "2", or the
button's own words, as people answer on a phone whose keyboard is already open.

The flow remembers the buttons it last offered (``Conversation.offered``); this module
only decides which of them a typed text means. Texts are compared folded
(``bot.flows.places.fold``: case, diacritics, punctuation and emoji dropped), so
``CO, NHAN QUA EMAIL`` is the button «Có, nhận qua email».
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bot.flows.events import Button
from bot.flows.places import fold

#: Words that answer a yes/no question, folded: có, ừ, vâng, dạ, đúng, đồng ý, không, sai…
_YES_VI = ("co", "u", "uh", "vang", "da", "dung", "dong y", "chinh xac", "phai")
_YES_EN = ("yes", "y", "yeah", "correct", "right", "i agree", "agree")
_NO_VI = ("khong", "ko", "k", "kg", "khong dong y", "sai", "khong phai")
_NO_EN = ("no", "n", "nope", "i do not agree", "i don t agree", "disagree")
YES_WORDS = frozenset((*_YES_VI, *_YES_EN, "ok", "okay", "oke"))
NO_WORDS = frozenset((*_NO_VI, *_NO_EN))
_LANGUAGE_OF = {w: "vi" for w in (*_YES_VI, *_NO_VI)} | {w: "en" for w in (*_YES_EN, *_NO_EN)}

Label = Callable[[Button], str]


def to_stored(buttons: Sequence[Button]) -> list[dict[str, Any]]:
    """The offered buttons as JSON for the conversation row (``Msg`` parameters dropped:
    they only decorate labels nobody types)."""
    stored = []
    for b in buttons:
        params = {k: v for k, v in b.params.items() if isinstance(v, str | int)}
        fields = {"key": b.label_key, "label": b.label, "params": params, "answer": b.answer}
        stored.append({"data": b.data} | {k: v for k, v in fields.items() if v})
    return stored


def from_stored(stored: Sequence[dict[str, Any]]) -> list[Button]:
    return [
        Button(
            s["data"],
            label_key=s.get("key", ""),
            label=s.get("label", ""),
            params=dict(s.get("params") or {}),
            answer=s.get("answer", ""),
        )
        for s in stored
    ]


def language_of(text: str) -> str | None:
    """The language a yes/no word is in ("yes" → en, "có" → vi; "ok" → None)."""
    return _LANGUAGE_OF.get(fold(text))


def choose(text: str, buttons: Sequence[Button], label: Label, *, numbers: bool) -> str | None:
    """The data of the button ``text`` means, or ``None``.

    In order: a number (``numbers`` only: where a typed number cannot be an answer itself),
    the button's label as shown in the user's language, then a yes/no word when exactly
    one offered button means that answer.
    """
    key = fold(text)
    if not key or not buttons:
        return None
    if numbers and key.isdigit():
        index = int(key)
        return buttons[index - 1].data if 1 <= index <= len(buttons) else None
    for button in buttons:
        if fold(label(button)) == key:
            return button.data
    meaning = "yes" if key in YES_WORDS else "no" if key in NO_WORDS else None
    meant = [b for b in buttons if meaning and b.answer == meaning]
    return meant[0].data if len(meant) == 1 else None
