"""Vietnamese alphabetical order, for lists a citizen reads (provinces, communes).

Vietnamese orders letters a < ă < â, d < đ, e < ê, o < ô < ơ, u < ư, and tones after the
letters: Cà Mau, Cao Bằng, Cần Thơ. Unicode's default order (DUCET, as in ``pyuca``) takes
ă, â, ô… for accented a, o… and puts Cần Thơ before Cao Bằng; sorting the folded names
(what this module replaced) did the same. ICU's Vietnamese collation (the CLDR tailoring),
through PyICU, gives the order a Vietnamese reader expects, and compares numbers as numbers
("Phường 2" before "Phường 10").
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import icu


@lru_cache(maxsize=1)
def _collator() -> Any:
    collator = icu.Collator.createInstance(icu.Locale("vi_VN"))
    collator.setAttribute(icu.UCollAttribute.NUMERIC_COLLATION, icu.UCollAttributeValue.ON)
    return collator


def sort_key(text: str) -> bytes:
    """A key that sorts ``text`` in Vietnamese alphabetical order."""
    key: bytes = _collator().getSortKey(text)
    return key
