"""“Did you mean gmail.com?”: a mistyped domain of a common provider, caught offline.

An address such as ``an@gmial.com`` is well-formed, so ``email_validator`` takes it (and a
deliverability look-up is off on purpose: it would tell a DNS server whom the citizen
writes to). The declaration would then go to nobody. Most citizens use a handful of
providers, so a domain one or two keystrokes away from one of them is almost surely a slip.

Why the suggestion is written here: the packages that do this were looked at and none fits.
``pymailcheck`` (the mailcheck.js port) has had no release since 2021, its built-in lists
have missing commas that glue entries together ("gmx" "hotmail"), and it knows no
Vietnamese provider; ``email-typo-fixer`` corrects silently instead of asking, is tuned for
Brazilian domains and brings the public-suffix list along. What is needed is a distance
between a domain and about ten others, the optimal-string-alignment distance (Levenshtein
plus the swap of two neighbouring letters, the commonest slip: ``gmial``), and that comes
from ``rapidfuzz`` (C++, ~1 µs for a whole ``suggest``).
"""

from __future__ import annotations

from typing import Final

from rapidfuzz.distance import OSA

#: Providers most Vietnamese citizens use, the suggestions' only source.
COMMON_DOMAINS: Final = (
    "gmail.com",
    "yahoo.com",
    "yahoo.com.vn",
    "outlook.com",
    "outlook.com.vn",
    "hotmail.com",
    "icloud.com",
    "live.com",
    "ymail.com",
)

#: Real domains a keystroke or two from a common one: never "corrected".
ALSO_REAL: Final = frozenset(
    {
        "mail.com",
        "email.com",
        "gmx.com",
        "me.com",
        "mac.com",
        "msn.com",
        "aol.com",
        "yahoo.co.jp",
        "yahoo.co.uk",
        "yahoo.fr",
        "hotmail.fr",
        "live.fr",
        "fpt.vn",
        "vnn.vn",
        "vnpt.vn",
    }
)

#: Domains that do not exist but are often typed for one that does.
KNOWN_SLIPS: Final = {
    "gmail.com.vn": "gmail.com",
    "gmail.vn": "gmail.com",
    "hotmail.com.vn": "hotmail.com",
    "icloud.com.vn": "icloud.com",
}

#: A domain shorter than this is only corrected for a single slip: two edits of a short
#: name reach too many real domains.
_SHORT: Final = 9


def suggest(address: str) -> str | None:
    """The address with the domain the citizen probably meant, or ``None`` if it looks fine.

    Only the domain is looked at, and only against :data:`COMMON_DOMAINS`: an unknown
    domain far from all of them (a company's, a school's) is nobody's typo.
    """
    local, at, domain = address.rpartition("@")
    domain = domain.lower()
    if not (local and at and domain) or domain in COMMON_DOMAINS or domain in ALSO_REAL:
        return None
    meant = KNOWN_SLIPS.get(domain)
    if meant is None:
        allowed = 1 if len(domain) < _SHORT else 2
        # Lengths further apart than ``allowed`` are at least that many edits apart: only
        # the others are measured, each once (every e-mail answer pays this).
        close = [
            (OSA.distance(domain, common, score_cutoff=allowed), rank, common)
            for rank, common in enumerate(COMMON_DOMAINS)
            if abs(len(common) - len(domain)) <= allowed
        ]
        if not close:
            return None
        edits, _, meant = min(close)
        if edits > allowed:
            return None
    return f"{local}@{meant}"
