"""What counts as a digit, and which characters never reach a stored answer.

Why by hand: Python's ``str.isdigit``/``int`` and ``re``'s ``\\d`` accept the digits of every
script (Arabic-Indic ``٣``, Ethiopic ``፩``, superscript ``³`` — the last two even pass
``isdigit`` and then make ``int`` raise), while every number on a Vietnamese card or in a
Telegram button is ASCII; and the standard library has no "drop invisible characters"
helper. Both rules fit in a few lines over ``unicodedata``.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

#: Control (C0/C1), format (bidi overrides, zero-width, BOM, soft hyphen…) and lone
#: surrogates: never shown as such, and able to reorder or hide what an officer reads.
_INVISIBLE = frozenset({"Cc", "Cf", "Cs"})


def ascii_digits(text: str) -> bool:
    """``text`` is a non-empty run of 0–9 and nothing else."""
    return text.isascii() and text.isdigit()


def has_foreign_digit(text: str) -> bool:
    """A digit of another script (or a superscript, fullwidth, circled… form) is in ``text``."""
    return not text.isascii() and any(ch.isdigit() and not ch.isascii() for ch in text)


@lru_cache(maxsize=4096)
def _kept(ch: str) -> str:
    if unicodedata.category(ch) not in _INVISIBLE:
        return ch
    # A line break or tab still separates words: keep it as a space, not as nothing.
    return " " if ch.isspace() else ""


def visible(text: str) -> str:
    """``text`` without control and format characters (``Cc``/``Cf``/``Cs``).

    Line breaks, tabs and other whitespace controls become spaces, so two words never
    run together; ASCII text without controls (the usual answer) is returned at once.
    """
    if text.isascii() and text.isprintable():
        return text
    return "".join(map(_kept, text))
