"""The clustering job, run in this process under a real clustering grant, on faces with
synthetic embeddings spread like dlib's (same person ~0.35 apart, different people ~1.0): people
appear, and the owner's names, merges, vetoes and placements hold across runs."""

from __future__ import annotations

import os
import uuid

import numpy as np
import pytest

from tests.people import faces_support
from tests.users import PASSWORD
from vault.people import sealing
from vault.people.clustering_state import people_mark_changed, people_refresh
from vault.people.models import ClusteringGrant, Face, FaceVeto, PeopleState, Person
from vault.photos.models import Photo
from vault.processing.worker_keys import live_worker_keys
from worker.people import people_cluster_run

pytestmark = pytest.mark.django_db


class Faces:
    """Makes photos with one face each (or several), embeddings sealed as the worker seals them."""

    def __init__(self, owner, keyring, seed: int = 7):
        self.owner, self.keyring = owner, keyring
        self.rng = np.random.default_rng(seed)
        self.centres: dict[str, np.ndarray] = {}

    def centre(self, who: str) -> np.ndarray:
        if who not in self.centres:
            self.centres[who] = self.rng.normal(0, 1 / 16, 128)
        return self.centres[who]

    def photo(self) -> Photo:
        return Photo.objects.create(
            owner=self.owner,
            state=Photo.State.READY,
            media_type="image/jpeg",
            size=1,
            content_mac=os.urandom(32),
            name_sealed=b"x",
        )

    def face(self, who: str, photo: Photo | None = None, index: int = 0, **fields) -> Face:
        photo = photo or self.photo()
        vector = (self.centre(who) + self.rng.normal(0, 0.022, 128)).astype("<f4")
        face = Face(
            id=uuid.uuid4(),
            photo=photo,
            owner=self.owner,
            index=index,
            left=0.1 + 0.4 * index,
            top=0.1,
            width=0.3,
            height=0.3,
            score=0.9,
            detected_by="test",
            **fields,
        )
        face.embedding_sealed = sealing.vectors_seal(
            self.keyring.metadata_key, vector.tobytes(), sealing.embedding_aad(face.id)
        )
        face.save()
        return face


@pytest.fixture
def keyring(owner):
    return faces_support.keyring_of(owner, PASSWORD)


@pytest.fixture
def made(owner, keyring):
    return Faces(owner, keyring)


def cluster(owner, keyring) -> str:
    """What an owner's visit and a worker do: grant the run, then run it."""
    people_mark_changed(user=owner)
    assert people_refresh(user=owner, keyring=keyring, workers=live_worker_keys())
    return people_cluster_run(owner.pk)


def groups(owner) -> list[set[str]]:
    by_person: dict = {}
    for face in Face.objects.filter(owner=owner, person__isnull=False):
        by_person.setdefault(face.person_id, set()).add(face.id)
    return sorted(by_person.values(), key=len, reverse=True)


def test_faces_of_three_people_become_three_people(owner, keyring, made, worker_key):
    ids = {who: {made.face(who).id for _ in range(5)} for who in ("ana", "ben", "cy")}
    assert cluster(owner, keyring) == "clustered"
    assert sorted(map(frozenset, groups(owner)), key=sorted) == sorted(
        map(frozenset, ids.values()), key=sorted
    )
    assert Person.objects.filter(owner=owner).count() == 3
    # Each person has sealed exemplars for the incremental join, and the run is done.
    for person in Person.objects.filter(owner=owner):
        raw = sealing.vectors_open(
            keyring.metadata_key, person.exemplars_sealed, sealing.exemplars_aad(person.id)
        )
        assert len(raw) % (128 * 4) == 0 and raw
    assert not PeopleState.objects.get(owner=owner).needs_clustering
    assert not ClusteringGrant.objects.filter(owner=owner).exists()  # used up


def test_names_merges_vetoes_and_placements_hold_across_runs(owner, keyring, made, worker_key):
    for who in ("ana", "ben", "cy"):
        for _ in range(5):
            made.face(who)
    cluster(owner, keyring)
    ana_face = Face.objects.filter(owner=owner).order_by("created_at").first()
    ana = ana_face.person
    # The owner names Ana, says one of "her" faces is not her, and puts a Cy face with her
    # by hand (a mirror); the two other groups are merged into one person.
    Person.objects.filter(pk=ana.pk).update(
        protected=True,
        name_sealed=sealing.name_seal(keyring.metadata_key, ana.id, "Ana"),
    )
    removed = Face.objects.filter(person=ana).exclude(pk=ana_face.pk).first()
    FaceVeto.objects.create(face=removed, person=ana)
    Face.objects.filter(pk=removed.pk).update(person=None, assigned_by="")
    others = list(Person.objects.filter(owner=owner).exclude(pk=ana.pk))
    merged, gone = others
    Face.objects.filter(person=gone).update(person=merged)
    gone.delete()
    Person.objects.filter(pk=merged.pk).update(protected=True)
    mirrored = Face.objects.filter(person=merged).first()
    Face.objects.filter(pk=mirrored.pk).update(person=ana, assigned_by=Face.AssignedBy.USER)
    # New photos arrive: two more of Ana, one of a stranger.
    new_ana = {made.face("ana").id for _ in range(2)}
    assert cluster(owner, keyring) == "clustered"
    ana.refresh_from_db()
    assert sealing.name_open(keyring.metadata_key, ana) == "Ana"
    in_ana = set(Face.objects.filter(person=ana).values_list("id", flat=True))
    assert new_ana <= in_ana  # new faces join the named person
    assert removed.id not in in_ana  # "not this person" holds
    assert mirrored.id in in_ana  # the owner's placement holds
    merged_faces = Face.objects.filter(person=merged)
    assert merged_faces.count() == 9  # the merge holds: never split again
    assert Person.objects.filter(owner=owner).count() == 2


def test_two_faces_of_one_photo_never_join_one_person_automatically(
    owner, keyring, made, worker_key
):
    for _ in range(5):
        made.face("ana")
    # A photo with two faces that look alike (twins, or a mirror): only one may join Ana.
    photo = made.photo()
    made.face("ana", photo=photo, index=0)
    made.face("ana", photo=photo, index=1)
    cluster(owner, keyring)
    persons = list(Face.objects.filter(photo=photo).values_list("person_id", flat=True))
    assert len([p for p in persons if p is not None]) == len({p for p in persons if p})


def test_a_run_without_a_grant_reads_nothing_and_changes_nothing(owner, keyring, made, worker_key):
    for _ in range(4):
        made.face("ana")
    people_mark_changed(user=owner)
    assert people_cluster_run(owner.pk) == "no grant"
    assert not Person.objects.filter(owner=owner).exists()
    assert PeopleState.objects.get(owner=owner).needs_clustering


def test_no_run_is_granted_while_photos_of_the_batch_are_processing(
    owner, keyring, made, worker_key
):
    made.face("ana")
    Photo.objects.filter(owner=owner).update(state=Photo.State.PROCESSING)
    people_mark_changed(user=owner)
    assert not people_refresh(user=owner, keyring=keyring, workers=live_worker_keys())
    Photo.objects.filter(owner=owner).update(state=Photo.State.READY)
    assert people_refresh(user=owner, keyring=keyring, workers=live_worker_keys())
    # ...and not twice while that run is queued.
    assert not people_refresh(user=owner, keyring=keyring, workers=live_worker_keys())


def test_a_run_stores_each_named_persons_suggestions_sealed(owner, keyring, made, worker_key):
    from vault.people.models import PersonSuggestions
    from vault.people.suggestions import suggestions_of

    for _ in range(5):
        made.face("ana")
    cluster(owner, keyring)
    ana = Person.objects.get(owner=owner)
    Person.objects.filter(pk=ana.pk).update(
        protected=True, name_sealed=sealing.name_seal(keyring.metadata_key, ana.id, "Ana")
    )
    assert not PersonSuggestions.objects.filter(person=ana).exists()
    cluster(owner, keyring)
    row = PersonSuggestions.objects.get(person=ana)
    assert suggestions_of(person=ana, metadata_key=keyring.metadata_key).computed_at == (
        row.computed_at
    )
