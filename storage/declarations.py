"""Finished declarations and their receipt numbers.

The receipt ``{seq:05d}.GD/{year}/{agency}`` is allocated in the same transaction that
stores the declaration, so a number is never used twice nor a declaration stored without
one. Submitting the same draft twice (a retry after a crash) returns the first receipt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.db import Database


@dataclass(frozen=True)
class StoredDeclaration:
    receipt: str
    agency_code: str
    status: str
    submitted_at: str
    data: dict[str, Any]


def format_receipt(seq: int, year: int, agency_code: str) -> str:
    return f"{seq:05d}.GD/{year}/{agency_code}"


class DeclarationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def submit(
        self, draft_id: str, user_key: str, agency_code: str, data: dict[str, Any], now: datetime
    ) -> str:
        async with self.db.transaction() as conn:
            existing = list(
                await conn.execute_fetchall(
                    "SELECT receipt FROM declarations WHERE draft_id = ?", (draft_id,)
                )
            )
            if existing:
                return str(existing[0][0])
            year = now.year
            rows = list(
                await conn.execute_fetchall(
                    "INSERT INTO receipt_counters (agency_code, year, last_seq) VALUES (?, ?, 1) "
                    "ON CONFLICT(agency_code, year) DO UPDATE SET last_seq = last_seq + 1 "
                    "RETURNING last_seq",
                    (agency_code, year),
                )
            )
            receipt = format_receipt(int(rows[0][0]), year, agency_code)
            await conn.execute(
                "INSERT INTO declarations (draft_id, user_key, receipt, agency_code, data, "
                "submitted_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    draft_id,
                    user_key,
                    receipt,
                    agency_code,
                    json.dumps(data, ensure_ascii=False),
                    now.isoformat(),
                ),
            )
            return receipt

    async def for_user(self, user_key: str) -> list[StoredDeclaration]:
        rows = await self.db.fetch(
            "SELECT receipt, agency_code, status, submitted_at, data FROM declarations "
            "WHERE user_key = ? ORDER BY id",
            (user_key,),
        )
        return [
            StoredDeclaration(str(r[0]), str(r[1]), str(r[2]), str(r[3]), json.loads(r[4]))
            for r in rows
        ]
