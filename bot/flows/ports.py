"""The small interfaces the flow needs from the world: reference data and storage.

The flow depends on these shapes, not on SQLite or a particular data file, so tests and the
console can hand it the real implementations while it stays free of I/O details.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class ProvinceLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def short_name(self) -> str: ...
    @property
    def kind(self) -> str: ...  # "tỉnh" | "thành phố" (a commune: "xã" | "phường" | …)


class CommuneLike(ProvinceLike, Protocol):
    """A unit of the lower level: named like a province, and inside one."""

    @property
    def province_code(self) -> str: ...


class AgencyLike(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def phone(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def province_code(self) -> str: ...
    @property
    def active(self) -> bool: ...  # inactive: never offered, still named by old receipts
    @property
    def confirmed(self) -> bool: ...  # checked by the operator: address and phone are facts


class Places(Protocol):
    """The 2025 two-level administrative units (``bot.flows.places.Catalogue``)."""

    def provinces(self) -> Sequence[ProvinceLike]: ...
    def province(self, code: str) -> ProvinceLike | None: ...
    def communes(self, province_code: str) -> Sequence[CommuneLike]: ...
    def commune(self, code: str) -> CommuneLike | None: ...
    def find_provinces(self, text: str, limit: int = 8) -> Sequence[ProvinceLike]: ...
    def find_communes(
        self, province_code: str | None, text: str, limit: int = 8
    ) -> Sequence[CommuneLike]: ...
    def closest_provinces(self, text: str, limit: int = 5) -> Sequence[ProvinceLike]: ...
    def closest_communes(
        self, province_code: str | None, text: str, limit: int = 5
    ) -> Sequence[CommuneLike]: ...
    def convert_legacy(self, text: str) -> LegacyMatchLike | None: ...


class LegacyMatchLike(Protocol):
    @property
    def old_ward(self) -> str: ...
    @property
    def old_district(self) -> str: ...
    @property
    def candidates(self) -> Sequence[CommuneLike]: ...
    @property
    def split(self) -> bool: ...
    @property
    def street(self) -> str: ...


class Agencies(Protocol):
    """The receiving BHXH agencies (``bot.flows.agencies.AgencyDirectory``)."""

    def by_code(self, code: str) -> AgencyLike | None: ...
    def for_province(self, province_code: str) -> Sequence[AgencyLike]: ...
    def suggest(
        self,
        province_code: str | None,
        commune_code: str | None = None,
        issuer_text: str | None = None,
        limit: int = 3,
    ) -> Sequence[AgencyLike]: ...
    def search(self, text: str, limit: int = 8) -> Sequence[AgencyLike]: ...
