"""The passkey wrap of the master key (DESIGN §13).

KEK_pk = HKDF-SHA256(PRF output, salt = salt_pk, info = "spv/v1/passkey" ‖ credential id), and
UMK is sealed under it (vault.crypto.seal) with the credential id in the associated data: one
wrap per credential, beside the password and recovery-key wraps.

The PRF output is what the WebAuthn PRF extension (CTAP2 hmac-secret) returns for the fixed
input PRF_INPUT: 32 bytes that only the authenticator holding the credential can compute. The
input is the same for every credential so that a discoverable sign-in (no credential list sent
to the browser) can ask for it; the per-credential random `salt_pk` and the credential id in the
HKDF info keep every KEK distinct. Salt and wrap are stored; alone they open nothing.
"""

import hashlib

from vault.crypto import seal as _seal
from vault.crypto._primitives import KEY_BYTES, Rng, hkdf, require_key, system_rng
from vault.crypto.errors import DecryptionError

PRF_INPUT = b"spv/v1/passkey-prf"
PRF_OUTPUT_BYTES = 32  # hmac-secret's output (HMAC-SHA-256), as the browser returns it
SALT_BYTES = 32


def new_salt(*, rng: Rng = system_rng) -> bytes:
    return rng(SALT_BYTES)


def _kek(prf_output: bytes, salt: bytes, credential_id: bytes) -> bytes:
    if (
        not isinstance(prf_output, bytes | bytearray)
        or len(prf_output) != PRF_OUTPUT_BYTES
        or len(salt) != SALT_BYTES
        or not credential_id
    ):
        # A PRF output of the wrong shape is a failed unwrap like any other, never a hint.
        raise DecryptionError()
    return hkdf(bytes(prf_output), b"spv/v1/passkey" + bytes(credential_id), salt=bytes(salt))


def _aad(credential_id: bytes) -> bytes:
    # Credential ids run to 1023 bytes; their hash names one as well.
    return b"spv/v1/umk-under-passkey" + hashlib.sha256(bytes(credential_id)).digest()


def wrap_master_key(
    umk: bytes, *, prf_output: bytes, salt: bytes, credential_id: bytes, rng: Rng = system_rng
) -> bytes:
    """UMK (32 bytes) sealed under KEK_pk; returns the blob to store beside the credential."""
    umk = require_key(umk, "master key")
    return _seal.seal(_kek(prf_output, salt, credential_id), umk, _aad(credential_id), rng=rng)


def unwrap_master_key(
    blob: bytes, *, prf_output: bytes, salt: bytes, credential_id: bytes
) -> bytes:
    """The 32-byte UMK. Raises DecryptionError (only) for a wrong PRF output, salt, credential
    id or a tampered blob."""
    umk = _seal.open(_kek(prf_output, salt, credential_id), bytes(blob), _aad(credential_id))
    if len(umk) != KEY_BYTES:
        raise DecryptionError()
    return umk
