"""People rows made directly, for tests of the people services and pages that need no worker:
photos, faces with sealed synthetic embeddings, people, and face crop blobs.

The synthetic embeddings spread like dlib's descriptors do: identities about 1.4 apart, two
faces of one identity about 0.3 apart (dlib calls < 0.6 the same person)."""

from __future__ import annotations

import io
import os
import uuid

import numpy as np
from PIL import Image

from vault.crypto import keys as crypto_keys
from vault.crypto import seal
from vault.people.models import Face, Person
from vault.people.sealing import (
    embedding_aad,
    exemplars_aad,
    name_seal,
    vectors_open,
    vectors_seal,
)
from vault.photos import blobs
from vault.photos.models import Blob, Photo, Tag
from vault.photos.sealing import name_aad as photo_name_aad

DIM = 128


def identity(seed: int) -> np.ndarray:
    """The centre of one made-up person's faces (unit length)."""
    centre = np.random.default_rng(seed).normal(size=DIM)
    return (centre / np.linalg.norm(centre)).astype(np.float32)


def look(seed: int, number: int, spread: float = 0.02) -> np.ndarray:
    """One face of identity `seed`: its centre plus noise (about 0.23 from the centre)."""
    noise = np.random.default_rng(seed * 1000 + number + 1).normal(scale=spread, size=DIM)
    return (identity(seed) + noise).astype(np.float32)


def photo_row(user, metadata_key: bytes, **fields) -> Photo:
    photo_id = uuid.uuid4()
    return Photo.objects.create(
        id=photo_id,
        owner=user,
        state=Photo.State.READY,
        media_type="image/jpeg",
        size=1000,
        width=640,
        height=480,
        content_mac=os.urandom(32),
        name_sealed=seal.seal(metadata_key, b"IMG_0001.jpg", photo_name_aad(photo_id)),
        **fields,
    )


def face_row(
    user,
    photo: Photo,
    metadata_key: bytes,
    vector: np.ndarray | None,
    *,
    index: int | None = None,
    person: Person | None = None,
    assigned_by: str | None = None,
    score: float = 0.9,
    clusterable: bool = True,
    human_tag: bool = True,
) -> Face:
    face_id = uuid.uuid4()
    if index is None:
        index = photo.faces.count()
    face = Face.objects.create(
        id=face_id,
        photo=photo,
        owner=user,
        index=index,
        left=0.1 * index,
        top=0.1,
        width=0.1,
        height=0.1,
        score=score,
        clusterable=clusterable,
        embedding_sealed=(
            None
            if vector is None
            else vectors_seal(
                metadata_key, np.asarray(vector, "<f4").tobytes(), embedding_aad(face_id)
            )
        ),
        person=person,
        assigned_by=assigned_by
        if assigned_by is not None
        else (Face.AssignedBy.AUTO if person else Face.AssignedBy.NONE),
        detected_by="test-detector@0000",
    )
    if human_tag:
        Tag.objects.update_or_create(
            photo=photo, label="human", defaults={"score": score, "source": "faces"}
        )
    return face


def person_row(
    user,
    metadata_key: bytes,
    *,
    name: str | None = None,
    exemplars: np.ndarray | None = None,
    protected: bool | None = None,
    hidden: bool = False,
) -> Person:
    person = Person.objects.create(
        owner=user, hidden=hidden, protected=bool(name) if protected is None else protected
    )
    if name is not None:
        person.name_sealed = name_seal(metadata_key, person.id, name)
    if exemplars is not None:
        person.exemplars_sealed = vectors_seal(
            metadata_key, np.asarray(exemplars, "<f4").tobytes(), exemplars_aad(person.id)
        )
    person.save()
    return person


def person_with_faces(user, metadata_key, seed: int, count: int, **person_fields):
    """A person of identity `seed` with `count` faces, one per photo, and its exemplars."""
    vectors = [look(seed, n) for n in range(count)]
    person = person_row(user, metadata_key, exemplars=np.stack(vectors), **person_fields)
    faces = [
        face_row(user, photo_row(user, metadata_key), metadata_key, v, person=person)
        for v in vectors
    ]
    return person, faces


def exemplar_rows(person: Person, metadata_key: bytes) -> np.ndarray:
    person.refresh_from_db()
    plain = vectors_open(metadata_key, bytes(person.exemplars_sealed), exemplars_aad(person.id))
    return np.frombuffer(plain, dtype="<f4").reshape(-1, DIM)


def crop_jpeg(colour=(200, 150, 120)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (160, 160), colour).save(out, "JPEG")
    return out.getvalue()


def crop_blob(face: Face, data: bytes) -> Blob:
    """The face's crop, encrypted to its owner like the worker writes it."""
    return blobs.blob_write(
        photo=face.photo,
        variant=Blob.Variant.FACE,
        index=face.index,
        data=data,
        data_key=crypto_keys.new_master_key(),
        owner_public_key=bytes(face.owner.keys.public_key),
        media_type="image/jpeg",
        width=160,
        height=160,
    )


def thumb_blob(photo: Photo, data: bytes) -> Blob:
    """A gallery thumbnail for a made-up photo, so pages that show it load every picture."""
    return blobs.blob_write(
        photo=photo,
        variant=Blob.Variant.THUMB,
        data=data,
        data_key=crypto_keys.new_master_key(),
        owner_public_key=bytes(photo.owner.keys.public_key),
        media_type="image/jpeg",
        width=160,
        height=160,
    )


def pictures_for(faces: list[Face]) -> None:
    """Crops for the faces and thumbnails for their photos (distinct colours)."""
    for n, face in enumerate(faces):
        colour = (40 + 50 * n % 200, 120, 200 - 15 * n % 180)
        crop_blob(face, crop_jpeg(colour))
        if not Blob.objects.filter(photo=face.photo, variant=Blob.Variant.THUMB).exists():
            thumb_blob(face.photo, crop_jpeg(colour))


def suggestions_computed(user, metadata_key: bytes) -> int:
    """What the worker does at the end of a clustering run: review candidates and merge
    suggestions computed from every face's embedding that opens and stored sealed."""
    from vault.people.embeddings import embeddings_open
    from vault.people.suggestions import people_suggestions_refresh

    vectors = {}
    for face_id, sealed in Face.objects.filter(
        owner=user, embedding_sealed__isnull=False
    ).values_list("id", "embedding_sealed"):
        rows = embeddings_open(metadata_key, sealed, embedding_aad(face_id))
        if rows is not None:
            vectors[str(face_id)] = rows[0]
    return people_suggestions_refresh(owner_id=user.pk, metadata_key=metadata_key, vectors=vectors)
