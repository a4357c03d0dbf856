"""The encryption core of Secure Photo Vault: keys, HPKE wraps, the SPV1 container and sealing.

Pure Python on `cryptography`; nothing here imports Django. DESIGN.md §4–5 explain the scheme.
"""

from vault.crypto import album_keys, container, hpke_wrap, keys, passkey, password, recovery, seal
from vault.crypto.context import BlobContext
from vault.crypto.errors import DecryptionError, RecoveryKeyFormatError
from vault.crypto.password import Argon2Params

__all__ = [
    "Argon2Params",
    "BlobContext",
    "DecryptionError",
    "RecoveryKeyFormatError",
    "album_keys",
    "container",
    "hpke_wrap",
    "keys",
    "passkey",
    "password",
    "recovery",
    "seal",
]
