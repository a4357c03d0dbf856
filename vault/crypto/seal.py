"""Sealing of small fields (names, embeddings, filenames, EXIF) under the metadata key.

Format: version 0x01 ‖ r (24 random bytes) ‖ AES-256-GCM ciphertext ‖ tag.
Each seal uses its own subkey HKDF(key, "spv/v1/seal" ‖ r[:12]) and nonce r[12:], so a
(key, nonce) pair would repeat only if 192 random bits did: one metadata key can seal any number
of fields without the 2^32-message limit of random 96-bit GCM nonces.
The associated data is the row's identity (`row_aad`), so a sealed value copied into another
row or column fails to open.
"""

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.crypto._encoding import length_prefixed
from vault.crypto._primitives import Rng, hkdf, require_key, system_rng
from vault.crypto.errors import DecryptionError

VERSION = 1
_R_BYTES = 24
_TAG_BYTES = 16
OVERHEAD = 1 + _R_BYTES + _TAG_BYTES


def _cipher(key: bytes, r: bytes) -> tuple[AESGCM, bytes]:
    return AESGCM(hkdf(key, b"spv/v1/seal" + r[:12])), r[12:]


def seal(key: bytes, plaintext: bytes, aad: bytes, *, rng: Rng = system_rng) -> bytes:
    key = require_key(key)
    r = rng(_R_BYTES)
    cipher, nonce = _cipher(key, r)
    return bytes([VERSION]) + r + cipher.encrypt(nonce, bytes(plaintext), aad)


# Named `open` because callers read it as seal.open(...); it shadows the builtin only here.
def open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    key = require_key(key)
    if len(sealed) < OVERHEAD or sealed[0] != VERSION:
        raise DecryptionError()
    r = bytes(sealed[1 : 1 + _R_BYTES])
    cipher, nonce = _cipher(key, r)
    try:
        return cipher.decrypt(nonce, bytes(sealed[1 + _R_BYTES :]), aad)
    except InvalidTag:
        raise DecryptionError() from None


def row_aad(table: str, row_id: str, field: str) -> bytes:
    """Associated data naming exactly one field of one row, e.g. ("people_person", "42", "name")."""
    return length_prefixed(b"spv/v1/row", table, row_id, field)
