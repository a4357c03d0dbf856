"""A from-the-RFC implementation of HPKE base-mode Seal, for tests only.

RFC 9180 with DHKEM(X25519, HKDF-SHA256), HKDF-SHA256 and AES-256-GCM, taking the ephemeral
private key as a parameter so known-answer vectors are deterministic. The library's HPKE
(vault.crypto.hpke_wrap.unwrap) must open what this produces: that checks both against the RFC.
"""

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

KEM_ID, KDF_ID, AEAD_ID = 0x0020, 0x0001, 0x0002
KEM_SUITE = b"KEM" + KEM_ID.to_bytes(2, "big")
HPKE_SUITE = b"HPKE" + b"".join(i.to_bytes(2, "big") for i in (KEM_ID, KDF_ID, AEAD_ID))


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite + label + ikm)


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info
    return HKDFExpand(hashes.SHA256(), length, labeled).derive(prk)


def seal(secret: bytes, public_key: bytes, info: bytes, ephemeral_private: bytes) -> bytes:
    """Single-shot base-mode Seal with empty aad; returns enc ‖ ciphertext."""
    sk_e = X25519PrivateKey.from_private_bytes(ephemeral_private)
    enc = sk_e.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    dh = sk_e.exchange(X25519PublicKey.from_public_bytes(public_key))
    eae_prk = _labeled_extract(KEM_SUITE, b"", b"eae_prk", dh)
    shared = _labeled_expand(KEM_SUITE, eae_prk, b"shared_secret", enc + public_key, 32)

    psk_id_hash = _labeled_extract(HPKE_SUITE, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(HPKE_SUITE, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash  # mode_base
    schedule_secret = _labeled_extract(HPKE_SUITE, shared, b"secret", b"")
    key = _labeled_expand(HPKE_SUITE, schedule_secret, b"key", context, 32)
    base_nonce = _labeled_expand(HPKE_SUITE, schedule_secret, b"base_nonce", context, 12)
    return enc + AESGCM(key).encrypt(base_nonce, secret, b"")
