"""Worker enrolment (DESIGN §14): a worker's advertised key counts only with a tag that the
operator's enrolment secret makes, so that write access to Valkey alone gets no grant.

The tag is HMAC-SHA-256 (RFC 2104, FIPS 198-1; Python's `hmac` module) keyed with the secret
over

    b"spv/v1/worker-enrolment\\x00" || public key (32 bytes) || expiry (Unix seconds, 8 bytes
    big-endian) || len(host) (2 bytes) || host (UTF-8) || len(worker) (2 bytes) || worker (UTF-8)

The label separates these tags from any other use of the secret; the key binds the tag to one
worker key (a tag copied onto another key does not verify); the expiry bounds how long a copied
advert of the same key counts (and that key's grants open only with its private key, which
never leaves the worker's memory); host and worker name are what /healthz shows. Pure: no
Django, no Valkey.
"""

from __future__ import annotations

import hashlib
import hmac

LABEL = b"spv/v1/worker-enrolment\x00"
# Label of the check value the web publishes so that a worker can tell whether it holds the
# same secret (differs from LABEL at its 24th byte, so no check value is ever a valid tag).
CHECK_LABEL = b"spv/v1/worker-enrolment-check\x00"
TAG_BYTES = 32  # SHA-256 output
# Seconds an advert past its expiry still counts: hosts' clocks differ (NTP keeps them within
# well under a second; this allows a badly kept one). Valkey's TTL removes it anyway.
CLOCK_SKEW = 120


def _field(value: str) -> bytes:
    data = value.encode()
    if len(data) > 0xFFFF:
        raise ValueError("host or worker name longer than 65535 bytes")
    return len(data).to_bytes(2, "big") + data


def enrolment_message(*, public_key: bytes, expires_at: int, host: str, worker: str) -> bytes:
    """The bytes the tag covers (see the module docstring). Raises ValueError on a public key
    that is not 32 bytes (X25519) or an expiry outside 0..2**63."""
    if len(public_key) != 32:
        raise ValueError("a worker key is a 32-byte X25519 public key")
    if not 0 <= expires_at < 2**63:
        raise ValueError("expiry out of range")
    return LABEL + public_key + expires_at.to_bytes(8, "big") + _field(host) + _field(worker)


def enrolment_tag(
    secret: bytes, *, public_key: bytes, expires_at: int, host: str, worker: str
) -> bytes:
    """HMAC-SHA-256(secret, enrolment_message(...)): 32 bytes."""
    message = enrolment_message(
        public_key=public_key, expires_at=expires_at, host=host, worker=worker
    )
    return hmac.new(secret, message, hashlib.sha256).digest()


def enrolment_verify(
    secret: bytes,
    tag: bytes,
    *,
    public_key: bytes,
    expires_at: int,
    host: str,
    worker: str,
    now: float,
) -> bool:
    """True when `tag` is the secret's tag over these fields and the expiry (Unix seconds) has
    not passed more than CLOCK_SKEW seconds before `now`. Compared in constant time."""
    try:
        expected = enrolment_tag(
            secret, public_key=public_key, expires_at=expires_at, host=host, worker=worker
        )
    except ValueError:
        return False
    return hmac.compare_digest(expected, tag) and expires_at + CLOCK_SKEW > now


def enrolment_check_value(secret: bytes) -> bytes:
    """HMAC-SHA-256(secret, CHECK_LABEL): 32 bytes that the web publishes and a worker compares
    (in constant time) with its own, to say in its log when its secret is not the web's. It
    tells an attacker nothing a tag in an advert does not already tell."""
    return hmac.new(secret, CHECK_LABEL, hashlib.sha256).digest()
