"""Text from citizens, QR codes and remote servers, made safe to print on an operator's
terminal.

A name read from a QR code or an error text from an agency server may carry terminal
escape sequences (``ESC ] 0 ; … BEL`` retitles the window, ``ESC [ 2 J`` clears it, others
rewrite what is on screen or worse), bidi overrides that reorder what the officer reads, or
line breaks that forge extra lines. Printed through ``printable`` they show as escapes,
like ``repr`` shows them.
"""

from __future__ import annotations


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\\":  # so that an escape in the text cannot pass for one of ours
        return "\\\\"
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with every character that is not printable escaped as ``repr`` would.

    By hand rather than ``repr(text)[1:-1]``: ``repr`` also escapes quotes depending on
    which ones the text holds. Printable is Python's own rule (``str.isprintable``): no
    control (C0, DEL, C1), format (bidi overrides, zero-width), separator other than the
    space, surrogate, private or unassigned characters; Vietnamese letters, combining
    marks included, pass unchanged.
    """
    return "".join(c if c.isprintable() and c != "\\" else _escape(c) for c in text)


def printable_json(text: str) -> str:
    """A JSON text (one line, as ``json.dumps`` without ``indent`` writes it) with every
    non-printable character as a JSON ``\\uXXXX`` escape: still valid JSON that decodes
    to the same values. ``json.dumps`` escapes only C0 controls unless ``ensure_ascii``
    escapes everything, Vietnamese letters too; C1 controls (``\\x9b`` is a CSI) and bidi
    overrides would reach the terminal raw."""
    return "".join(c if c.isprintable() else _json_escape(c) for c in text)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000  # beyond the BMP: a UTF-16 surrogate pair, as JSON spells it
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
