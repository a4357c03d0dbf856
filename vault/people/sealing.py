"""Associated data for the people fields sealed under the owner's metadata key (DESIGN §4): the
row id and the field name, so that a sealed value moved to another row or field fails to open.
Numpy-free and ML-free: the web tier and the worker both use it."""

from __future__ import annotations

import struct

from vault.crypto import DecryptionError, seal

EMBEDDING_DIM = 128  # dlib's ResNet face descriptor (DESIGN §8)
_FLOAT32 = struct.Struct("<f")


def name_aad(person_id) -> bytes:
    return seal.row_aad("people_person", str(person_id), "name")


def exemplars_aad(person_id) -> bytes:
    return seal.row_aad("people_person", str(person_id), "exemplars")


def embedding_aad(face_id) -> bytes:
    return seal.row_aad("people_face", str(face_id), "embedding")


def name_seal(metadata_key: bytes, person_id, name: str) -> bytes:
    return seal.seal(metadata_key, name.encode(), name_aad(person_id))


def name_open(metadata_key: bytes, person) -> str | None:
    """The person's name, None when unnamed; "(name unreadable)" when the seal fails (a row
    edited by hand, or restored from another vault)."""
    if person.name_sealed is None:
        return None
    try:
        return seal.open(metadata_key, bytes(person.name_sealed), name_aad(person.id)).decode()
    except (DecryptionError, UnicodeDecodeError):
        return "(name unreadable)"


def vectors_seal(metadata_key: bytes, vectors: bytes, aad: bytes) -> bytes:
    """Seal float32 little-endian vectors (rows of EMBEDDING_DIM) given as raw bytes."""
    if len(vectors) % (EMBEDDING_DIM * _FLOAT32.size):
        raise ValueError("not whole 128-float32 rows")
    return seal.seal(metadata_key, vectors, aad)


def vectors_open(metadata_key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """Raw float32 bytes of whole rows; DecryptionError when the seal or the shape is wrong."""
    plain = seal.open(metadata_key, bytes(sealed), aad)
    if len(plain) % (EMBEDDING_DIM * _FLOAT32.size):
        raise DecryptionError()
    return plain
