"""Album keys (docs/sharing.md): one random key AK per album version, HPKE-wrapped to each
member's public key; the album's photo data keys and shared fields sealed under AK.

Pure Python, no Django. Every wrap and seal is bound to (album, member or photo, version), so a
wrap copied to another member, album, photo or key version fails to open, and a key of version
n opens nothing sealed under version n+1.
"""

from __future__ import annotations

from vault.crypto import hpke_wrap, seal
from vault.crypto._encoding import length_prefixed
from vault.crypto._primitives import KEY_BYTES, require_key, system_rng


def new_album_key() -> bytes:
    """32 random bytes (os.urandom)."""
    return system_rng(KEY_BYTES)


def _version(version: int) -> str:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError("an album key version is an int >= 1")
    return str(version)


def member_info(*, album_id, member_id, version: int) -> bytes:
    """HPKE `info` of a member's wrap of AK: binds it to (album, member, version)."""
    return length_prefixed(b"spv/v1/album-key", str(album_id), str(member_id), _version(version))


def album_key_wrap(ak: bytes, public_key: bytes, *, album_id, member_id, version: int) -> bytes:
    """AK wrapped to one member's X25519 public key (80 bytes)."""
    info = member_info(album_id=album_id, member_id=member_id, version=version)
    return hpke_wrap.wrap(require_key(ak, "album key"), public_key, info)


def album_key_unwrap(
    wrapped: bytes, private_key: bytes, *, album_id, member_id, version: int
) -> bytes:
    """AK from a member's wrap. Raises DecryptionError on a wrong key, member, album or version."""
    info = member_info(album_id=album_id, member_id=member_id, version=version)
    key = hpke_wrap.unwrap(bytes(wrapped), private_key, info)
    return require_key(key, "album key")


def data_key_aad(*, album_id, photo_id, version: int) -> bytes:
    return length_prefixed(b"spv/v1/album-dk", str(album_id), str(photo_id), _version(version))


def data_key_wrap(ak: bytes, dk: bytes, *, album_id, photo_id, version: int) -> bytes:
    """A photo's DK sealed under AK (AES-256-GCM, vault.crypto.seal); AD (album, photo, version)."""
    aad = data_key_aad(album_id=album_id, photo_id=photo_id, version=version)
    return seal.seal(ak, require_key(dk, "data key"), aad)


def data_key_unwrap(ak: bytes, wrapped: bytes, *, album_id, photo_id, version: int) -> bytes:
    """Raises DecryptionError when AK, album, photo or version do not match."""
    aad = data_key_aad(album_id=album_id, photo_id=photo_id, version=version)
    return require_key(seal.open(ak, bytes(wrapped), aad), "data key")


def field_aad(*, album_id, row_id, field: str, version: int) -> bytes:
    """AD of a field sealed under AK: the album's name ("album", album id, "name") or a photo's
    shared copy of its file name or place ("photo", photo id, "name"/"place")."""
    return length_prefixed(
        b"spv/v1/album-field", str(album_id), str(row_id), field, _version(version)
    )


def field_seal(ak: bytes, plaintext: bytes, *, album_id, row_id, field: str, version: int) -> bytes:
    aad = field_aad(album_id=album_id, row_id=row_id, field=field, version=version)
    return seal.seal(ak, plaintext, aad)


def field_open(ak: bytes, sealed: bytes, *, album_id, row_id, field: str, version: int) -> bytes:
    aad = field_aad(album_id=album_id, row_id=row_id, field=field, version=version)
    return seal.open(ak, bytes(sealed), aad)
