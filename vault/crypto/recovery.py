"""The recovery key: 256 random bits a person writes down, and the UMK wrap it unlocks.

Shown as 56 Crockford base32 characters in 14 groups of 4: the 256-bit key followed by a 24-bit
checksum (SHA-256 of the key). Crockford's alphabet has no I, L, O or U, and parsing reads I/L as 1
and O as 0, so the common misreadings are harmless. A typo is caught by the checksum before any
cryptography runs, and a single wrong or swapped character is located so the message can name the
group to fix. KEK_rk = HKDF(RK, "spv/v1/recovery-kek") wraps UMK (DESIGN §4).
"""

import hashlib

from vault.crypto import seal as _seal
from vault.crypto._primitives import KEY_BYTES, Rng, hkdf, require_key, system_rng
from vault.crypto.errors import RecoveryKeyFormatError

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)} | {"O": 0, "I": 1, "L": 1}
_CHECK_BYTES = 3
_CHARS = (KEY_BYTES + _CHECK_BYTES) * 8 // 5  # 280 bits -> 56 characters, no padding
GROUP = 4
GROUPS = _CHARS // GROUP
_MAX_INPUT = 400  # refuse to even normalise a pasted novel
_WRAP_AAD = b"spv/v1/umk-under-recovery-key"


def new_recovery_key() -> bytes:
    return system_rng(KEY_BYTES)


def _checksum(rk: bytes) -> bytes:
    return hashlib.sha256(b"spv/v1/recovery-check" + rk).digest()[:_CHECK_BYTES]


def _to_chars(raw: bytes) -> str:
    n = int.from_bytes(raw, "big")
    return "".join(ALPHABET[(n >> (5 * i)) & 31] for i in reversed(range(_CHARS)))


def _from_chars(chars: str) -> bytes:
    n = 0
    for c in chars:
        n = (n << 5) | _VALUE[c]
    return n.to_bytes(KEY_BYTES + _CHECK_BYTES, "big")


def _valid(chars: str) -> bool:
    raw = _from_chars(chars)
    return _checksum(raw[:KEY_BYTES]) == raw[KEY_BYTES:]


def format_recovery_key(rk: bytes) -> str:
    """E.g. "7QX2-M0KD-...": 14 groups of 4, the checksum in the last five characters."""
    rk = require_key(rk, "recovery key")
    chars = _to_chars(rk + _checksum(rk))
    return "-".join(chars[i : i + GROUP] for i in range(0, _CHARS, GROUP))


def _typo_groups(chars: str) -> set[int]:
    """Groups (1-based) that a single substitution or adjacent swap would repair."""
    fixes: set[int] = set()
    for pos in range(_CHARS):
        for c in ALPHABET:
            if c != chars[pos] and _valid(chars[:pos] + c + chars[pos + 1 :]):
                fixes.add(pos // GROUP + 1)
    for pos in range(_CHARS - 1):
        swapped = chars[:pos] + chars[pos + 1] + chars[pos] + chars[pos + 2 :]
        if swapped != chars and _valid(swapped):
            fixes |= {pos // GROUP + 1, (pos + 1) // GROUP + 1}
    return fixes


def parse_recovery_key(text: str) -> bytes:
    """Return the 32-byte key, or raise RecoveryKeyFormatError with a message for the user."""
    if len(text) > _MAX_INPUT:
        raise RecoveryKeyFormatError("that is much longer than a recovery key")
    chars = "".join(c for c in text.upper() if c not in " \t\r\n-")
    for pos, c in enumerate(chars):
        if c not in _VALUE:
            raise RecoveryKeyFormatError(
                f"the recovery key has a typo in group {pos // GROUP + 1}: "
                f"{c!r} is not one of its characters"
            )
    chars = "".join(ALPHABET[_VALUE[c]] for c in chars)
    if len(chars) != _CHARS:
        raise RecoveryKeyFormatError(
            f"a recovery key has {_CHARS} characters in {GROUPS} groups of {GROUP}; "
            f"this one has {len(chars)}"
        )
    if _valid(chars):
        return _from_chars(chars)[:KEY_BYTES]
    groups = sorted(_typo_groups(chars))
    if 1 <= len(groups) <= 3:
        # Almost always one group; a second appears only when a swap spans two groups or, about
        # once in ten thousand typos, another one-character change also fits the checksum.
        where = " or ".join(f"group {g}" for g in groups)
        raise RecoveryKeyFormatError(f"the recovery key has a typo in {where}")
    raise RecoveryKeyFormatError("the recovery key has a typo; please check every group")


def _kek(rk: bytes) -> bytes:
    return hkdf(require_key(rk, "recovery key"), b"spv/v1/recovery-kek")


def wrap_master_key(umk: bytes, rk: bytes, *, rng: Rng = system_rng) -> bytes:
    return _seal.seal(_kek(rk), require_key(umk, "master key"), _WRAP_AAD, rng=rng)


def unwrap_master_key(blob: bytes, rk: bytes) -> bytes:
    """Raises DecryptionError for a well-formed but wrong recovery key."""
    return _seal.open(_kek(rk), blob, _WRAP_AAD)
