"""Share-link keys (docs/links.md): the link key LK lives only in the URL fragment; the access
token T and the wrapping key KL are two independent HKDF outputs of it. The server stores
SHA-256(T) and the photos' data keys sealed under KL, so it can check a visitor's token but
never derive KL. Pure Python, no Django; the browser side is vault/static/js/links.js.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from vault.crypto import seal
from vault.crypto._encoding import length_prefixed
from vault.crypto._primitives import KEY_BYTES, hkdf, require_key, system_rng


def new_link_key() -> bytes:
    """32 random bytes (os.urandom)."""
    return system_rng(KEY_BYTES)


def encode_key(lk: bytes) -> str:
    """LK as it appears in the fragment: base64url without padding (43 characters)."""
    return base64.urlsafe_b64encode(require_key(lk, "link key")).rstrip(b"=").decode()


def access_token(lk: bytes) -> bytes:
    """T = HKDF-SHA-256(LK, "spv/v1/link-token"), 32 bytes; sent by the visitor's page."""
    return hkdf(require_key(lk, "link key"), b"spv/v1/link-token")


def wrapping_key(lk: bytes) -> bytes:
    """KL = HKDF-SHA-256(LK, "spv/v1/link-key"), 32 bytes; never leaves the browser."""
    return hkdf(require_key(lk, "link key"), b"spv/v1/link-key")


def token_hash(token: bytes) -> bytes:
    """SHA-256(T): what the server stores."""
    return hashlib.sha256(bytes(token)).digest()


def token_from_header(value: str) -> bytes | None:
    """T from the X-Link-Token header (base64url, no padding); None when malformed."""
    if not value or len(value) > 64:
        return None
    try:
        token = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    return token if len(token) == KEY_BYTES else None


def token_matches(token: bytes, stored_hash: bytes) -> bool:
    return hmac.compare_digest(token_hash(token), bytes(stored_hash))


def data_key_aad(*, link_id, photo_id) -> bytes:
    return length_prefixed(b"spv/v1/link-dk", str(link_id), str(photo_id))


def field_aad(*, link_id, photo_id, field: str) -> bytes:
    return length_prefixed(b"spv/v1/link-field", str(link_id), str(photo_id), field)


def data_key_wrap(kl: bytes, dk: bytes, *, link_id, photo_id) -> bytes:
    """DK sealed under KL (vault.crypto.seal), bound to (link, photo)."""
    aad = data_key_aad(link_id=link_id, photo_id=photo_id)
    return seal.seal(kl, require_key(dk, "data key"), aad)


def data_key_unwrap(kl: bytes, wrapped: bytes, *, link_id, photo_id) -> bytes:
    """Raises DecryptionError when KL, link or photo do not match."""
    aad = data_key_aad(link_id=link_id, photo_id=photo_id)
    return require_key(seal.open(kl, bytes(wrapped), aad), "data key")


def field_seal(kl: bytes, plaintext: bytes, *, link_id, photo_id, field: str) -> bytes:
    return seal.seal(kl, plaintext, field_aad(link_id=link_id, photo_id=photo_id, field=field))


def field_open(kl: bytes, sealed: bytes, *, link_id, photo_id, field: str) -> bytes:
    return seal.open(kl, bytes(sealed), field_aad(link_id=link_id, photo_id=photo_id, field=field))
