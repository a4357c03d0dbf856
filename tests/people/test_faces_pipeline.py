"""The faces step of the pipeline, run in this process with the real models: faces found and
stored encrypted, the human tag, re-runs that keep what the owner said, the incremental join."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.people import faces_support as faces
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.people import sealing
from vault.people.models import Face, FaceVeto, Person
from vault.photos import storage
from vault.photos.blobs import blob_open, original_data_key
from vault.photos.models import Blob, Photo, Tag
from vault.photos.seen_by import active_faces_id
from vault.processing.grants.photo import photo_grants_issue
from worker.pipeline import photo_process_run

pytestmark = pytest.mark.django_db


def _upload(client, name: str, image: Image.Image) -> Photo:
    [outcome] = upload(client, (name, faces.jpeg_bytes(image)))
    assert outcome["status"] == "stored", outcome
    return Photo.objects.get(pk=outcome["photo"])


def _embedding(face: Face, metadata_key: bytes) -> np.ndarray:
    raw = sealing.vectors_open(metadata_key, face.embedding_sealed, sealing.embedding_aad(face.id))
    return np.frombuffer(raw, dtype="<f4")


def _person_like(owner, face: Face, keyring, **fields) -> Person:
    """A person whose exemplar is this face's embedding (as a clustering run would seal it)."""
    person = Person.objects.create(owner=owner, **fields)
    person.exemplars_sealed = sealing.vectors_seal(
        keyring.metadata_key,
        _embedding(face, keyring.metadata_key).tobytes(),
        sealing.exemplars_aad(person.id),
    )
    person.save()
    return person


def _run_again(photo: Photo, keyring) -> str:
    """The photo's job once more (a retry, or newer face models), under a fresh grant."""
    Photo.objects.filter(pk=photo.pk).update(state=Photo.State.PENDING)
    photo_grants_issue(
        photo=photo,
        data_key=original_data_key(photo, private_key=keyring.private_key),
        metadata_key=keyring.metadata_key,
    )
    return photo_process_run(str(photo.id))


def test_a_portrait_gets_one_face_with_an_encrypted_crop_a_sealed_embedding_and_the_human_tag(
    owner_client, owner, worker_key
):
    photo = _upload(owner_client, "eileen.jpg", faces.astronaut())
    assert run_jobs() == ["ready"]
    photo.refresh_from_db()
    [face] = Face.objects.filter(photo=photo)
    # Eileen Collins' face is in the upper middle of skimage's astronaut photo.
    centre_x, centre_y = face.left + face.width / 2, face.top + face.height / 2
    assert 0.3 < centre_x < 0.7 and 0.05 < centre_y < 0.45, (face.left, face.top)
    assert face.clusterable and face.score > 0.5
    assert photo.faces_by == active_faces_id()[0]
    keyring = faces.keyring_of(owner, PASSWORD)
    vector = _embedding(face, keyring.metadata_key)
    assert vector.shape == (128,) and np.isfinite(vector).all()
    # The crop is an SPV1 blob of the photo that decrypts to a JPEG face thumbnail.
    blob = photo.blobs.get(variant=Blob.Variant.FACE, index=face.index)
    with blob_open(blob, private_key=keyring.private_key) as reader:
        crop = Image.open(io.BytesIO(reader.read_all()))
    assert crop.format == "JPEG" and crop.size == (160, 160)
    on_disk = storage.blob_path(owner.pk, photo.id, "face", face.index).read_bytes()
    assert on_disk.startswith(b"\x89SPV") and reader.plaintext_length > 0
    human = photo.tags.get(label=Tag.Label.HUMAN)
    assert human.source == "faces" and not human.rejected


def test_a_cat_has_no_face_and_no_human_tag_from_faces(owner_client, worker_key):
    photo = _upload(owner_client, "chelsea.jpg", faces.cat())
    assert run_jobs() == ["ready"]
    assert not Face.objects.filter(photo=photo).exists()
    assert not photo.tags.filter(source="faces").exists()
    assert not photo.blobs.filter(variant=Blob.Variant.FACE).exists()


def test_running_the_job_again_keeps_the_face_the_owner_touched(owner_client, owner, worker_key):
    photo = _upload(owner_client, "eileen.jpg", faces.astronaut())
    run_jobs()
    [face] = Face.objects.filter(photo=photo)
    ana = Person.objects.create(owner=owner, protected=True)
    other = Person.objects.create(owner=owner)
    Face.objects.filter(pk=face.pk).update(person=ana, assigned_by=Face.AssignedBy.USER)
    FaceVeto.objects.create(face=face, person=other)
    # The job runs again (a retry, or newer face models): same face, same person, same veto.
    assert _run_again(photo, faces.keyring_of(owner, PASSWORD)) == "ready"
    [again] = Face.objects.filter(photo=photo)
    assert again.id == face.id and again.person_id == ana.id
    assert again.assigned_by == Face.AssignedBy.USER
    assert FaceVeto.objects.filter(face=again, person=other).exists()
    # Exactly one crop per face, on disk and in the database.
    crops = sorted(p.name for p in storage.photo_dir(owner.pk, photo.id).glob("face-*"))
    assert crops == [f"face-{again.index}.spv"]
    assert photo.blobs.filter(variant=Blob.Variant.FACE).count() == 1


def test_a_new_photo_of_a_named_person_joins_them_by_itself(owner_client, owner, worker_key):
    first = _upload(owner_client, "eileen-1.jpg", faces.astronaut())
    run_jobs()
    [face] = Face.objects.filter(photo=first)
    eileen = _person_like(owner, face, faces.keyring_of(owner, PASSWORD), protected=True)
    Face.objects.filter(pk=face.pk).update(person=eileen, assigned_by=Face.AssignedBy.USER)

    second = _upload(owner_client, "eileen-2.jpg", faces.variant(faces.astronaut(), 1))
    hopper = _upload(owner_client, "grace.jpg", faces.grace_hopper())
    run_jobs()
    [joined] = Face.objects.filter(photo=second)
    assert joined.person_id == eileen.id and joined.assigned_by == Face.AssignedBy.AUTO
    [stranger] = Face.objects.filter(photo=hopper)
    assert stranger.person_id is None  # someone else: waits for the clustering run
    assert owner.people_state.needs_clustering


def test_a_vetoed_person_is_never_joined_automatically(owner_client, owner, worker_key):
    first = _upload(owner_client, "eileen-1.jpg", faces.astronaut())
    run_jobs()
    [face] = Face.objects.filter(photo=first)
    keyring = faces.keyring_of(owner, PASSWORD)
    wrong = _person_like(owner, face, keyring, protected=True)
    FaceVeto.objects.create(face=face, person=wrong)
    assert _run_again(first, keyring) == "ready"
    face.refresh_from_db()
    assert face.person_id is None
