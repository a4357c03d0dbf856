"""HPKE (RFC 9180, base mode) wraps of a secret to an X25519 public key.

Suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM, from `cryptography`'s own HPKE.
Output is enc (32 B) ‖ ciphertext ‖ tag, so wrapping a 32-byte key gives 80 bytes. `info` binds
the wrap to its context (owner stanza of one blob, or one processing grant): the same bytes
under another `info` do not open.
"""

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from vault.crypto._encoding import length_prefixed
from vault.crypto._primitives import require_key
from vault.crypto.errors import DecryptionError
from vault.crypto.keys import load_private

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
ENC_BYTES = 32
TAG_BYTES = 16
MAX_SECRET_BYTES = 1024  # wraps carry keys, never data
GRANT_PURPOSES = frozenset({"data-key", "metadata-key", "clustering-metadata-key"})


def wrapped_size(secret_len: int) -> int:
    return ENC_BYTES + secret_len + TAG_BYTES


def wrap(secret: bytes, public_key: bytes, info: bytes) -> bytes:
    if len(secret) > MAX_SECRET_BYTES:
        raise ValueError("HPKE wraps are for keys, not data")
    pk = X25519PublicKey.from_public_bytes(require_key(public_key, "public key"))
    return SUITE.encrypt(bytes(secret), pk, bytes(info))


def unwrap(blob: bytes, private_key: bytes, info: bytes) -> bytes:
    sk = load_private(private_key)
    if not wrapped_size(0) <= len(blob) <= wrapped_size(MAX_SECRET_BYTES):
        raise DecryptionError()
    try:
        return SUITE.decrypt(bytes(blob), sk, bytes(info))
    except (InvalidTag, ValueError):
        # ValueError: an `enc` that is not a usable X25519 point (e.g. all zeros).
        raise DecryptionError() from None


def grant_info(
    *, grant_id: str, user_id: str, photo_id: str, expires_at: int, purpose: str = "data-key"
) -> bytes:
    """Canonical `info` for a processing grant.

    `purpose` ("data-key" or "metadata-key") keeps a grant's wrapped DK and wrapped MK from being
    swapped for one another. `expires_at` is Unix seconds; the caller still checks the clock —
    binding it here only stops a stored expiry from being edited.
    """
    if purpose not in GRANT_PURPOSES:
        raise ValueError(f"purpose must be one of {sorted(GRANT_PURPOSES)}")
    if isinstance(expires_at, bool) or not isinstance(expires_at, int):
        raise TypeError("expires_at must be an int (Unix seconds)")
    if not 0 <= expires_at < 2**63:
        raise ValueError("expires_at out of range")
    encoded = length_prefixed(b"spv/v1/grant", grant_id, user_id, photo_id, purpose)
    return encoded + struct.pack(">Q", expires_at)
