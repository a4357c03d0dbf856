"""Small shared helpers: HKDF-SHA256, key-length checks and the injectable randomness source.

Randomness is a parameter (`rng`, default `os.urandom`) only so that the known-answer vectors in
tests/crypto/vectors can be rebuilt byte for byte; production code never passes it.
"""

import os
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32

Rng = Callable[[int], bytes]
system_rng: Rng = os.urandom


def hkdf(key: bytes, info: bytes, *, salt: bytes | None = None, length: int = KEY_BYTES) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(key)


def require_key(key: bytes, name: str = "key") -> bytes:
    """Reject keys of the wrong type or length: a programming error, not a decryption failure."""
    if not isinstance(key, bytes | bytearray | memoryview):
        raise TypeError(f"{name} must be bytes")
    key = bytes(key)
    if len(key) != KEY_BYTES:
        raise ValueError(f"{name} must be {KEY_BYTES} bytes")
    return key
