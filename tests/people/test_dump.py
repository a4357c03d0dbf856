"""A stolen database dump after faces were found and a person named holds no embedding, no name
and no face pixel in the clear (DESIGN §4): pg_dump of the real test database, searched for
each secret in every encoding a dump could carry it in."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.dump import database_dump
from tests.people import faces_support as faces
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.people import sealing
from vault.people.models import Face, Person
from vault.photos.blobs import blob_open
from vault.photos.models import Blob

NAME = "Eileen Marie Collins"


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_holds_no_embedding_name_or_face_pixel(owner_client, owner, worker_key):
    [outcome] = upload(owner_client, ("eileen.jpg", faces.jpeg_bytes(faces.astronaut())))
    assert run_jobs() == ["ready"]
    [face] = Face.objects.filter(photo_id=outcome["photo"])
    keyring = faces.keyring_of(owner, PASSWORD)
    person = Person.objects.create(owner=owner, protected=True)
    person.name_sealed = sealing.name_seal(keyring.metadata_key, person.id, NAME)
    vector = sealing.vectors_open(
        keyring.metadata_key, face.embedding_sealed, sealing.embedding_aad(face.id)
    )
    person.exemplars_sealed = sealing.vectors_seal(
        keyring.metadata_key, vector, sealing.exemplars_aad(person.id)
    )
    person.save()
    Face.objects.filter(pk=face.pk).update(person=person)
    blob = Blob.objects.get(photo_id=outcome["photo"], variant="face", index=face.index)
    with blob_open(blob, private_key=keyring.private_key) as reader:
        crop = reader.read_all()
    pixels = np.asarray(Image.open(io.BytesIO(crop)).convert("RGB")).tobytes()

    dump = database_dump()
    assert "people_face" in dump and str(face.id) in dump  # the dump is the real one
    # The name: as text, and as the hex a bytea column would show.
    assert NAME not in dump and NAME.encode().hex() not in dump
    # The embedding: any 8 consecutive floats, raw (hex of bytea) or printed as numbers.
    for start in range(0, len(vector) - 32, 32):
        assert vector[start : start + 32].hex() not in dump
    floats = np.frombuffer(vector, dtype="<f4")
    assert f"{floats[0]:.6f}" not in dump or f"{floats[1]:.6f}" not in dump
    # The face crop: neither its JPEG bytes nor its pixels.
    assert crop[200:232].hex() not in dump
    assert pixels[3000:3032].hex() not in dump
