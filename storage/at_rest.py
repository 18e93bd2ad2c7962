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

import aiosqlite

from storage.conversations import sealed_for as conversation_sealed_for
from storage.db import Database
from storage.declarations import document_sealed_for, open_data
from storage.declarations import stored_form as declaration_form
from storage.outbox import stored_form as message_form
from storage.vault import SEALED, Vault

log = logging.getLogger(__name__)
_DONE = "sealed_at_rest"


async def seal_rows_stored_in_clear(db: Database) -> int:
    """Seal what is still in clear; returns how many rows were sealed."""
    if await db.fetch("SELECT 1 FROM meta WHERE name = ?", (_DONE,)):
        return 0
    vault = db.vault
    async with db.transaction() as conn:
        sealed = (
            await _conversations(conn, vault)
            + await _declarations(conn, vault)
            + await _documents(conn, vault)
            + await _dev_outbox(conn, vault)
        )
        await conn.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?, '1')", (_DONE,))
    if sealed:
        await db.forget()
        log.info("sealed %d rows stored in clear by an older version", sealed)
    return sealed


async def _rows(conn: aiosqlite.Connection, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    return list(await conn.execute_fetchall(sql, params))


async def _conversations(conn: aiosqlite.Connection, vault: Vault) -> int:
    rows = await _rows(conn, "SELECT user_key, data FROM conversations WHERE typeof(data) = 'text'")
    await conn.executemany(
        "UPDATE conversations SET data = ? WHERE user_key = ?",
        [(vault.seal_text(data, conversation_sealed_for(key)), key) for key, data in rows],
    )
    return len(rows)


async def _declarations(conn: aiosqlite.Connection, vault: Vault) -> int:
    rows = await _rows(
        conn,
        "SELECT id, receipt, data FROM declarations "
        "WHERE typeof(data) = 'text' OR bhxh_key IS NULL",
    )
    await conn.executemany(
        "UPDATE declarations SET data = ?, bhxh_key = ? WHERE id = ?",
        [
            (*declaration_form(vault, receipt, open_data(vault, stored, receipt)), row_id)
            for row_id, receipt, stored in rows
        ],
    )
    return len(rows)


async def _documents(conn: aiosqlite.Connection, vault: Vault) -> int:
    rows = await _rows(
        conn,
        "SELECT receipt, locale, pdf FROM declaration_documents WHERE substr(pdf, 1, 1) != ?",
        (SEALED,),
    )
    await conn.executemany(
        "UPDATE declaration_documents SET pdf = ? WHERE receipt = ? AND locale = ?",
        [
            (vault.seal(bytes(pdf), document_sealed_for(receipt, locale)), receipt, locale)
            for receipt, locale, pdf in rows
        ],
    )
    return len(rows)


async def _dev_outbox(conn: aiosqlite.Connection, vault: Vault) -> int:
    rows = await _rows(
        conn,
        "SELECT id, recipient, subject, body FROM dev_outbox WHERE typeof(recipient) = 'text'",
    )
    await conn.executemany(
        "UPDATE dev_outbox SET recipient = ?, subject = ?, body = ?, recipient_key = ? "
        "WHERE id = ?",
        [(*message_form(vault, *message), row_id) for row_id, *message in rows],
    )
    return len(rows)
