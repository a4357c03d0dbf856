"""The password wrap of the master key: KEK_pw = Argon2id(password, salt, pepper?) (DESIGN §4).

Blob layout (big-endian), self-describing so parameters can be raised later without a migration:
    version 1 | flags (bit 0: peppered) | memory KiB u32 | iterations u32 | lanes u8 | salt 16 B
    | nonce 12 B | AES-256-GCM(KEK_pw, UMK) with everything before the nonce as associated data
Unwrap reads the parameters from the blob but bounds them above (and checks Argon2's own minimum),
so a tampered blob cannot make the server allocate gigabytes or spin for minutes.
"""

import struct
import unicodedata
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import ClassVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from vault.crypto._primitives import KEY_BYTES, Rng, require_key, system_rng
from vault.crypto.errors import DecryptionError

VERSION = 1
_FLAG_PEPPERED = 0x01
_HEADER = struct.Struct(">BBIIB16s")
_NONCE_BYTES = 12
BLOB_BYTES = _HEADER.size + _NONCE_BYTES + KEY_BYTES + 16

# Upper bounds on what a blob may ask for: 1 GiB and 32 passes is already far beyond any sane
# setting on an 8 GB home server, and both fail before Argon2 allocates anything.
MAX_MEMORY_KIB = 1 << 20
MAX_ITERATIONS = 32
MAX_LANES = 16
MIN_PEPPER_BYTES = 16


@dataclass(frozen=True)
class Argon2Params:
    memory_kib: int
    iterations: int
    lanes: int

    DEFAULT: ClassVar["Argon2Params"]
    FOR_TESTS: ClassVar["Argon2Params"]

    def __post_init__(self) -> None:
        if not self.within_bounds():
            raise ValueError(f"Argon2 parameters out of range: {self}")

    def within_bounds(self) -> bool:
        return (
            1 <= self.lanes <= MAX_LANES
            and 8 * self.lanes <= self.memory_kib <= MAX_MEMORY_KIB
            and 1 <= self.iterations <= MAX_ITERATIONS
        )

    def at_least(self, other: "Argon2Params") -> bool:
        return self.memory_kib >= other.memory_kib and self.iterations >= other.iterations


# 128 MiB, 3 passes, 2 lanes: about 0.5 s on the 2-core reference box (bench/crypto.py prints it),
# above the floor of 64 MiB / t=3. Two lanes because the box has two cores.
Argon2Params.DEFAULT = Argon2Params(memory_kib=128 * 1024, iterations=3, lanes=2)
# Deliberately weak so the test suite stays fast; never the default anywhere.
Argon2Params.FOR_TESTS = Argon2Params(memory_kib=256, iterations=1, lanes=1)


def _kek(password: str, salt: bytes, params: Argon2Params, pepper: bytes | None) -> bytes:
    # NFC so the same password typed on macOS (NFD input) and elsewhere derives the same key.
    secret = unicodedata.normalize("NFC", password).encode("utf-8")
    return Argon2id(
        salt=salt,
        length=KEY_BYTES,
        iterations=params.iterations,
        lanes=params.lanes,
        memory_cost=params.memory_kib,
        secret=pepper,
    ).derive(secret)


def wrap_master_key(
    umk: bytes,
    password: str,
    *,
    params: Argon2Params = Argon2Params.DEFAULT,
    pepper: bytes | None = None,
    rng: Rng = system_rng,
) -> bytes:
    umk = require_key(umk, "master key")
    salt = rng(16)
    flags = _FLAG_PEPPERED if pepper else 0
    header = _HEADER.pack(VERSION, flags, params.memory_kib, params.iterations, params.lanes, salt)
    nonce = rng(_NONCE_BYTES)
    kek = _kek(password, salt, params, pepper or None)
    return header + nonce + AESGCM(kek).encrypt(nonce, umk, header)


def decoy_wrap(
    *, params: Argon2Params = Argon2Params.DEFAULT, peppered: bool = False, rng: Rng = system_rng
) -> bytes:
    """A blob shaped like a real wrap under `params` that no password opens.

    Unwrapping it costs the same Argon2id as a real one and then fails, so a sign-in for an
    email without an account does the same work as one with a wrong password. Building it costs
    no Argon2id at all: the ciphertext is random bytes, its tag can never verify.
    """
    flags = _FLAG_PEPPERED if peppered else 0
    header = _HEADER.pack(
        VERSION, flags, params.memory_kib, params.iterations, params.lanes, rng(16)
    )
    return header + rng(_NONCE_BYTES + KEY_BYTES + 16)


def _parse(blob: bytes) -> tuple[bytes, int, Argon2Params, bytes, bytes, bytes]:
    if len(blob) != BLOB_BYTES:
        raise DecryptionError()
    header = bytes(blob[: _HEADER.size])
    version, flags, memory_kib, iterations, lanes, salt = _HEADER.unpack(header)
    if version != VERSION or flags & ~_FLAG_PEPPERED:
        raise DecryptionError()
    try:
        params = Argon2Params(memory_kib, iterations, lanes)
    except ValueError:
        raise DecryptionError() from None
    nonce = bytes(blob[_HEADER.size : _HEADER.size + _NONCE_BYTES])
    return header, flags, params, salt, nonce, bytes(blob[_HEADER.size + _NONCE_BYTES :])


def unwrap_master_key(blob: bytes, password: str, *, pepper: bytes | None = None) -> bytes:
    """Raises DecryptionError for a wrong password, a missing pepper or a tampered blob.

    A blob written before a pepper was configured still opens (its flag says so);
    `needs_rewrap` then tells the caller to re-wrap it with the pepper.
    """
    header, flags, params, salt, nonce, ciphertext = _parse(blob)
    if flags & _FLAG_PEPPERED and not pepper:
        raise DecryptionError()
    kek = _kek(password, salt, params, pepper if flags & _FLAG_PEPPERED else None)
    try:
        return AESGCM(kek).decrypt(nonce, ciphertext, header)
    except InvalidTag:
        raise DecryptionError() from None


def blob_params(blob: bytes) -> Argon2Params:
    return _parse(blob)[2]


def needs_rewrap(
    blob: bytes, *, params: Argon2Params = Argon2Params.DEFAULT, pepper: bytes | None = None
) -> bool:
    """True when the blob is weaker than `params` or its pepper state differs: re-wrap at login."""
    _, flags, stored, *_ = _parse(blob)
    return not stored.at_least(params) or bool(flags & _FLAG_PEPPERED) != bool(pepper)


def load_pepper(path: str | PathLike[str] | None) -> bytes | None:
    """Read the optional pepper (a secret kept outside the database, e.g. a systemd credential).

    No path means no pepper. A configured but missing or short file is an error: silently
    running without it would lock every peppered user out.
    """
    if not path:
        return None
    pepper = Path(path).read_bytes().strip()
    if len(pepper) < MIN_PEPPER_BYTES:
        raise ValueError(f"pepper file {path} holds fewer than {MIN_PEPPER_BYTES} bytes")
    return pepper
