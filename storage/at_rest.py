"""Seal the personal fields an older version stored in clear, once, when the bot starts.

A schema migration cannot do it: SQL has no AES-GCM, and the migrations run without the
data key (``vssid-bot outbox`` opens the database without it). So migration 7 adds the
columns, and this pass, run by ``bot.wiring.build`` right after the database is opened with
its key, seals what is still in clear and fills the keyed hashes, in one transaction. It
is idempotent: it looks only at values still in clear (``TEXT``, or a PDF without the
sealed mark), and once done it leaves a mark in ``meta`` so later starts skip the scan.
Then the write-ahead log is cleared (``Database.forget``), so the cleartext versions of the
pages are not left in it; ``secure_delete`` has overwritten them in the database file.
"""

from __future__ import annotations

import logging
from typing import Any

from storage.conversations import sealed_for as conversation_sealed_for
from storage.db import Database
from storage.declarations import document_sealed_for, open_data
from storage.declarations import stored_form as declaration_form
from storage.outbox import stored_form as message_form

log = logging.getLogger(__name__)
_DONE = "sealed_at_rest"


async def seal_rows_stored_in_clear(db: Database) -> int:
    """Seal what is still in clear; returns how many rows were sealed."""
    if await db.fetch("SELECT 1 FROM meta WHERE name = ?", (_DONE,)):
        return 0
    vault = db.vault

    def conversation(row: Any) -> tuple[Any, ...]:
        user_key, data = row
        return vault.seal_text(data, conversation_sealed_for(user_key)), user_key

    def declaration(row: Any) -> tuple[Any, ...]:
        row_id, receipt, stored = row
        return *declaration_form(vault, receipt, open_data(vault, stored, receipt)), row_id

    def document(row: Any) -> tuple[Any, ...]:
        receipt, locale, pdf = row
        return vault.seal(bytes(pdf), document_sealed_for(receipt, locale)), receipt, locale

    def message(row: Any) -> tuple[Any, ...]:
        row_id, *fields = row
        return *message_form(vault, *fields), row_id

    passes = (
        (
            "SELECT user_key, data FROM conversations WHERE typeof(data) = 'text'",
            "UPDATE conversations SET data = ? WHERE user_key = ?",
            conversation,
        ),
        (
            "SELECT id, receipt, data FROM declarations "
            "WHERE typeof(data) = 'text' OR bhxh_key IS NULL",
            "UPDATE declarations SET data = ?, bhxh_key = ? WHERE id = ?",
            declaration,
        ),
        (
            "SELECT receipt, locale, pdf FROM declaration_documents "
            "WHERE substr(pdf, 1, 1) != x'01'",  # storage.vault.SEALED
            "UPDATE declaration_documents SET pdf = ? WHERE receipt = ? AND locale = ?",
            document,
        ),
        (
            "SELECT id, recipient, subject, body FROM dev_outbox WHERE typeof(recipient) = 'text'",
            "UPDATE dev_outbox SET recipient = ?, subject = ?, body = ?, recipient_key = ? "
            "WHERE id = ?",
            message,
        ),
    )
    sealed = 0
    async with db.transaction() as conn:
        for select, update, seal in passes:
            rows = list(await conn.execute_fetchall(select))
            await conn.executemany(update, [seal(row) for row in rows])
            sealed += len(rows)
        await conn.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?, '1')", (_DONE,))
    if sealed:
        await db.forget()
        log.info("sealed %d rows stored in clear by an older version", sealed)
    return sealed
