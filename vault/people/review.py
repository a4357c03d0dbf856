"""Review (DESIGN §8): the unassigned faces nearest to a named person ("Is this Ana?") and the
unnamed groups that look like a named person. Runs in the web process on the owner's visit,
with the keyring's metadata key: numpy only (no scikit-learn, no dlib — DESIGN §2).

Vectors are the sealed 128-D dlib descriptors; the distances and the threshold are
vault/people/embeddings.py's, the same maths the worker uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vault.people.embeddings import REVIEW_THRESHOLD, embeddings_open, min_distances
from vault.people.models import Face, Person
from vault.people.sealing import EMBEDDING_DIM, embedding_aad, exemplars_aad

REVIEW_LIMIT = 24  # faces offered at once ("Is this Ana?")
# Newest unassigned faces compared per visit: bounds the page's cost (one AES-GCM open each,
# about 20 µs) for owners with a huge backlog; older ones come up as these are answered.
REVIEW_SCAN = 3000
# A person's own faces added to their exemplars (the owner's placements first): a person
# named and filled by hand has no exemplars until the next clustering run.
OWN_FACES = 32
# Faces opened per unnamed group that has no exemplars yet.
GROUP_FACES = 8
MERGE_SUGGESTIONS = 12


def _open(metadata_key: bytes, sealed, aad: bytes) -> np.ndarray | None:
    """The sealed float32 rows, or None when absent, not opening, empty or not finite
    (skipped, never fatal)."""
    rows = embeddings_open(metadata_key, sealed, aad)
    return rows if rows is not None and len(rows) and np.isfinite(rows).all() else None


def person_vectors(*, person: Person, metadata_key: bytes, own_faces: int = OWN_FACES):
    """(k, 128) vectors standing for the person: its exemplars and some of its own faces; an
    empty array when nothing opens."""
    parts = []
    exemplars = _open(metadata_key, person.exemplars_sealed, exemplars_aad(person.id))
    if exemplars is not None:
        parts.append(exemplars)
    faces = (
        Face.objects.filter(person=person, not_a_face=False, embedding_sealed__isnull=False)
        .order_by("-assigned_by", "-score", "id")
        .values_list("id", "embedding_sealed")[:own_faces]
    )
    for face_id, sealed in faces:
        rows = _open(metadata_key, sealed, embedding_aad(face_id))
        if rows is not None:
            parts.append(rows[:1])
    if not parts:
        return np.empty((0, EMBEDDING_DIM), dtype=np.float32)
    return np.concatenate(parts).astype(np.float32, copy=False)


@dataclass(frozen=True)
class Candidate:
    face: Face
    distance: float


def review_candidates(
    *,
    person: Person,
    metadata_key: bytes,
    threshold: float = REVIEW_THRESHOLD,
    limit: int = REVIEW_LIMIT,
) -> list[Candidate]:
    """Unassigned, clusterable faces of the owner within `threshold` of the person, nearest
    first. Never a face the owner already said is not this person (a veto), nor a face of a
    photo where the person already is (one person is in a photo once, unless the owner says
    otherwise)."""
    exemplars = person_vectors(person=person, metadata_key=metadata_key)
    if not len(exemplars):
        return []
    photos_with_person = Face.objects.filter(person=person).values("photo_id")
    rows = list(
        Face.objects.filter(
            owner_id=person.owner_id,
            person=None,
            not_a_face=False,
            clusterable=True,
            embedding_sealed__isnull=False,
        )
        .exclude(vetoes__person=person)
        .exclude(photo_id__in=photos_with_person)
        .order_by("-created_at", "id")
        .values_list("id", "embedding_sealed")[:REVIEW_SCAN]
    )
    ids, vectors = [], []
    for face_id, sealed in rows:
        opened = _open(metadata_key, sealed, embedding_aad(face_id))
        if opened is not None:
            ids.append(face_id)
            vectors.append(opened[0])
    if not ids:
        return []
    distances = min_distances(np.stack(vectors), exemplars)
    order = np.argsort(distances, kind="stable")
    close = [(ids[i], float(distances[i])) for i in order if distances[i] <= threshold][:limit]
    faces = Face.objects.select_related("photo").in_bulk([face_id for face_id, _ in close])
    return [Candidate(faces[face_id], d) for face_id, d in close if face_id in faces]


def _groups_vectors(*, user, metadata_key: bytes):
    """(group, (k, 128) vectors) for each visible unnamed group: its exemplars, or for a group
    that has none yet its best GROUP_FACES faces, read in one query for all such groups."""
    groups = list(Person.objects.filter(owner=user, name_sealed__isnull=True, hidden=False))
    lacking = []
    for group in groups:
        exemplars = _open(metadata_key, group.exemplars_sealed, exemplars_aad(group.id))
        if exemplars is not None:
            yield group, exemplars
        else:
            lacking.append(group)
    if not lacking:
        return
    by_group: dict = {group.pk: [] for group in lacking}
    faces = (
        Face.objects.filter(person__in=lacking, not_a_face=False, embedding_sealed__isnull=False)
        .order_by("person_id", "-score", "id")
        .values_list("person_id", "id", "embedding_sealed")
    )
    for person_id, face_id, sealed in faces:
        if len(by_group[person_id]) < GROUP_FACES:
            rows = _open(metadata_key, sealed, embedding_aad(face_id))
            if rows is not None:
                by_group[person_id].append(rows[0])
    for group in lacking:
        if by_group[group.pk]:
            yield group, np.stack(by_group[group.pk])


@dataclass(frozen=True)
class MergeSuggestion:
    group: Person  # an unnamed group
    person: Person  # the named person it looks like
    distance: float


def merge_suggestions(
    *,
    user,
    metadata_key: bytes,
    person: Person | None = None,
    threshold: float = REVIEW_THRESHOLD,
    limit: int = MERGE_SUGGESTIONS,
) -> list[MergeSuggestion]:
    """Unnamed, visible groups that are within `threshold` of a named person (only of `person`
    when given), nearest first; each group is suggested for its nearest person."""
    named = Person.objects.filter(owner=user, name_sealed__isnull=False, hidden=False)
    if person is not None:
        if person.name_sealed is None:
            return []
        named = named.filter(pk=person.pk)
    named_vectors = {}
    for candidate in named:
        vectors = person_vectors(person=candidate, metadata_key=metadata_key)
        if len(vectors):
            named_vectors[candidate.pk] = (candidate, vectors)
    if not named_vectors:
        return []
    suggestions = []
    for group, vectors in _groups_vectors(user=user, metadata_key=metadata_key):
        best = None
        for candidate, exemplars in named_vectors.values():
            # The median over the group's vectors, not the closest pair: one stray face in a
            # group must not make the whole group look like someone.
            distance = float(np.median(min_distances(vectors, exemplars)))
            if distance <= threshold and (best is None or distance < best[1]):
                best = (candidate, distance)
        if best is not None:
            suggestions.append(MergeSuggestion(group, best[0], best[1]))
    suggestions.sort(key=lambda s: (s.distance, str(s.group.pk)))
    return suggestions[:limit]
