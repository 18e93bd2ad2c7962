"""Reading a stored declaration that may be a child's: who declares, where copies go.

A child's declaration (``data["kind"] == "child"``) holds its guardian's data under
``guardian`` and the relationship; the PDF, the e-mail copy and the staff listing read
them here rather than each knowing the layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def is_child(data: Mapping[str, Any]) -> bool:
    return data.get("kind") == "child"


def guardian(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The guardian's data of a child's declaration (empty for an adult's)."""
    found = data.get("guardian")
    return found if isinstance(found, Mapping) else {}


def copy_email(data: Mapping[str, Any]) -> str:
    """Where the declaration's copy goes: the citizen's e-mail, or the guardian's for a
    child (seeds: the child's account password is sent to the guardian's e-mail too)."""
    return str(data.get("email") or guardian(data).get("email") or "")


def declarer_name(data: Mapping[str, Any]) -> str:
    """Who declares and signs: the citizen, or the guardian for a child."""
    return str(guardian(data).get("full_name") or data.get("full_name") or "")
