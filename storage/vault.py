"""Personal fields sealed with the data key, and keyed hashes to find rows by them.

What a citizen gave (the conversation's answers, the stored declaration, its PDF, the
dev-outbox copies of their codes) is sealed with AES-GCM under a sub-key of the data key,
as the photos are (``storage/photos.py``), so a copy of the database file alone reveals
none of it. What must be searched stays in clear (receipt, agency, state, dates) or is kept
as an HMAC under another sub-key (the BHXH code, a dev-outbox recipient).

Why in the application rather than an encrypted SQLite build (SQLCipher): the standard
``sqlite3`` module and its wheels stay as they are, and only the columns that hold personal
data pay for it (AES-GCM of a ~2 KB row is a few µs; the conversation cache keeps the
plaintext, so only writes pay, ``storage/conversations.py``).

A sealed value is ``0x01 | nonce (12 bytes) | ciphertext and tag``. The row it belongs to
is bound in as associated data (``context``), so a value copied into another row does not
open. Reading accepts a value stored in clear by an older version (``TEXT``, or bytes
without the mark): those rows are sealed at the next start (``storage/at_rest.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.keyring import derive

SEALED = b"\x01"  # version mark; a PDF starts with "%", JSON is TEXT, so neither can match
_NONCE = 12


class Vault:
    """Seals and opens personal fields; computes the keyed hashes that stand in for them."""

    def __init__(self, data_key: bytes) -> None:
        self._aead = AESGCM(derive(data_key, "fields"))
        self._lookup = derive(data_key, "lookup")
        #: Stored at the first start (table ``meta``): another key is refused, not used.
        self.check_value = hmac.new(
            derive(data_key, "key-check"), b"vssid data key", hashlib.sha256
        ).hexdigest()

    def seal(self, plain: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return SEALED + nonce + self._aead.encrypt(nonce, plain, context.encode())

    def unseal(self, stored: bytes | str, context: str) -> bytes:
        """The plaintext of a sealed value (``InvalidTag`` if it was not sealed for
        ``context`` with this key); a value stored in clear comes back as it is."""
        if isinstance(stored, str):
            return stored.encode()
        if not stored.startswith(SEALED):
            return bytes(stored)
        body = memoryview(stored)[1:]
        return self._aead.decrypt(body[:_NONCE], body[_NONCE:], context.encode())

    def seal_text(self, text: str, context: str) -> bytes:
        return self.seal(text.encode(), context)

    def unseal_text(self, stored: bytes | str, context: str) -> str:
        if isinstance(stored, str):  # stored in clear before sealing
            return stored
        return self.unseal(stored, context).decode()

    def lookup_key(self, purpose: str, value: str) -> str:
        """A keyed hash of ``value`` to find rows by: equal values give equal keys, and
        without the data key a list of all possible values does not match them."""
        message = f"{purpose}\0{value}".encode()
        return hmac.new(self._lookup, message, hashlib.sha256).hexdigest()


def is_sealed(stored: object) -> bool:
    return isinstance(stored, bytes) and stored.startswith(SEALED)
