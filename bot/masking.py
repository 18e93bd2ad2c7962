"""One masking helper for every place an identifier is shown or logged (ANCHORS lesson 12)."""

from __future__ import annotations


def mask_number(value: str, keep_start: int = 3, keep_end: int = 3) -> str:
    """``001099012345`` → ``001******345``: enough for the owner to recognise, not to reuse."""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    hidden = len(value) - keep_start - keep_end
    return value[:keep_start] + "*" * hidden + value[len(value) - keep_end :]


def mask_email(value: str) -> str:
    """``an.nguyen@example.com`` → ``a***@example.com``."""
    local, at, domain = value.partition("@")
    if not at:
        return mask_number(value, 1, 0)
    return f"{local[:1]}***@{domain}"


def mask_phone(value: str) -> str:
    """``+84983847986`` → ``+8498****986``."""
    return mask_number(value, 5, 3)


def mask_name(value: str) -> str:
    """``Nguyễn Văn An`` → ``N. V. A.``: initials, enough to tell two people in a list apart
    without writing down anybody's name."""
    return " ".join(f"{word[0]}." for word in value.split())


def mask_user(user_key: str) -> str:
    """Log-safe form of a chat identifier (a Telegram id is personal data too)."""
    return mask_number(user_key, 2, 2)
