"""Review candidates ("Is this Ana?") and merge suggestions ("These groups look like Ana"),
computed once by the worker after a clustering run, under its grant, and stored sealed under
the owner's metadata key, one row per named person; the person's page only reads its row and
drops what the owner changed since (issue 25: never recomputed per view).

Distances are Euclidean between dlib's 128-D descriptors, with the threshold of
vault/people/embeddings.py (dlib's 0.6). Numpy only: no scikit-learn, so the web may import it.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from vault.crypto import DecryptionError, seal
from vault.people.embeddings import REVIEW_THRESHOLD, min_distances
from vault.people.models import Face, FaceVeto, Person, PersonSuggestions

log = logging.getLogger(__name__)

REVIEW_LIMIT = 24  # faces offered at once ("Is this Ana?")
# Newest unassigned faces compared per run: bounds the cost for owners with a huge backlog;
# older ones come up as these are answered.
REVIEW_SCAN = 3000
# A named person's own faces compared (the owner's placements first, then the best detections).
OWN_FACES = 32
# Faces compared per unnamed group.
GROUP_FACES = 8
MERGE_SUGGESTIONS = 12

# Kept per person beyond what the page shows, so that answering a few still leaves some.
REVIEW_KEPT = 2 * REVIEW_LIMIT
MERGES_KEPT = 2 * MERGE_SUGGESTIONS
# Named people whose exact distance to a group is computed: the nearest by centroid, within
# CENTROID_CUT. A group whose median face is within 0.6 of a person's faces has its centroid
# well within 1.0 of theirs (faces of one person lie ~0.35 apart); the cut only skips pairs
# that cannot qualify, so 5,000 groups × 1,000 named people cost seconds, not minutes.
CENTROID_CUT = 1.0
CENTROID_NEAREST = 8
_FACE_BLOCK = 512  # candidate faces per distance block (512 × 32,000 float64 = 128 MB at most)


def _aad(person_id) -> bytes:
    return seal.row_aad("people_personsuggestions", str(person_id), "suggestions")


@dataclass(frozen=True)
class Candidate:
    face: Face
    distance: float


@dataclass(frozen=True)
class MergeSuggestion:
    group: Person  # an unnamed group
    person: Person  # the named person it looks like
    distance: float


@dataclass(frozen=True)
class _Member:
    face_id: str
    photo_id: str
    person_id: str | None
    placed: bool
    score: float


def _per_person(rows: list[_Member], vectors: Mapping[str, np.ndarray], limit: int):
    """person id -> (k, 128) vectors: the owner's placements first, then the best detections."""
    by_person: dict[str, list[_Member]] = defaultdict(list)
    for row in rows:
        if row.person_id is not None and row.face_id in vectors:
            by_person[row.person_id].append(row)
    out = {}
    for person_id, members in by_person.items():
        members.sort(key=lambda m: (not m.placed, -m.score, m.face_id))
        out[person_id] = np.stack([vectors[m.face_id] for m in members[:limit]]).astype(np.float32)
    return out


def _review(named_vectors, faces, vectors, vetoes, persons_in_photo):
    """person id -> [(face id, distance)] nearest first, within REVIEW_THRESHOLD."""
    if not named_vectors or not faces:
        return {}
    order = list(named_vectors)
    stacked = np.concatenate([named_vectors[p] for p in order])
    starts = np.cumsum([0] + [len(named_vectors[p]) for p in order[:-1]])
    found: dict[str, list] = defaultdict(list)
    for block in range(0, len(faces), _FACE_BLOCK):
        chunk = faces[block : block + _FACE_BLOCK]
        x = np.stack([vectors[f.face_id] for f in chunk])
        c, e = x.astype(np.float64), stacked.astype(np.float64)
        squared = (c * c).sum(1)[:, None] + (e * e).sum(1)[None, :] - 2.0 * (c @ e.T)
        nearest = np.sqrt(np.minimum.reduceat(np.maximum(squared, 0.0), starts, axis=1))
        for i, j in zip(*np.nonzero(nearest <= REVIEW_THRESHOLD), strict=True):
            face, person = chunk[i], order[j]
            if person in vetoes.get(face.face_id, ()) or person in persons_in_photo.get(
                face.photo_id, ()
            ):
                continue
            found[person].append((face.face_id, round(float(nearest[i, j]), 4)))
    return {p: sorted(v, key=lambda fd: (fd[1], fd[0]))[:REVIEW_KEPT] for p, v in found.items()}


def _merges(named_vectors, group_vectors):
    """person id -> [(group id, distance)] nearest first: each group for its nearest person,
    by the median over the group's faces of the distance to the person's nearest face (one
    stray face must not make a whole group look like someone)."""
    if not named_vectors or not group_vectors:
        return {}
    named = list(named_vectors)
    groups = list(group_vectors)
    named_centres = np.stack([named_vectors[p].mean(0) for p in named]).astype(np.float64)
    group_centres = np.stack([group_vectors[g].mean(0) for g in groups]).astype(np.float64)
    squared = (
        (group_centres**2).sum(1)[:, None]
        + (named_centres**2).sum(1)[None, :]
        - 2.0 * group_centres @ named_centres.T
    )
    centres = np.sqrt(np.maximum(squared, 0.0))
    found: dict[str, list] = defaultdict(list)
    for gi, group in enumerate(groups):
        near = np.argsort(centres[gi], kind="stable")[:CENTROID_NEAREST]
        best = None
        for pj in near:
            if centres[gi, pj] > CENTROID_CUT:
                break
            distance = float(
                np.median(min_distances(group_vectors[group], named_vectors[named[pj]]))
            )
            if distance <= REVIEW_THRESHOLD and (best is None or distance < best[1]):
                best = (named[pj], distance)
        if best is not None:
            found[best[0]].append((group, round(best[1], 4)))
    return {p: sorted(v, key=lambda gd: (gd[1], gd[0]))[:MERGES_KEPT] for p, v in found.items()}


def people_suggestions_refresh(
    *, owner_id: int, metadata_key: bytes, vectors: Mapping[str, np.ndarray]
) -> int:
    """Compute and store (sealed) each visible named person's review candidates and merge
    suggestions, from the embeddings the clustering run opened (`vectors`: face id ->
    (128,) float32). Called by the worker at the end of a run. Returns the people stored."""
    rows = [
        _Member(str(fid), str(photo), str(person) if person else None, by == "user", score)
        for fid, photo, person, by, score in Face.objects.filter(
            owner_id=owner_id, not_a_face=False
        ).values_list("id", "photo_id", "person_id", "assigned_by", "score")
    ]
    people = list(
        Person.objects.filter(owner_id=owner_id, hidden=False).values_list("id", "name_sealed")
    )
    named = {str(pid) for pid, name in people if name is not None}
    unnamed = {str(pid) for pid, name in people if name is None}
    own = _per_person([r for r in rows if r.person_id in named], vectors, OWN_FACES)
    group_vectors = _per_person([r for r in rows if r.person_id in unnamed], vectors, GROUP_FACES)
    newest = (
        Face.objects.filter(owner_id=owner_id, person=None, not_a_face=False, clusterable=True)
        .filter(photo__trashed_at__isnull=True)  # the trash is not offered for review
        .order_by("-created_at", "id")
        .values_list("id", flat=True)[:REVIEW_SCAN]
    )
    newest = {str(fid) for fid in newest}
    loose = [r for r in rows if r.face_id in newest and r.face_id in vectors]
    vetoes: dict[str, set[str]] = defaultdict(set)
    for face_id, person_id in FaceVeto.objects.filter(face__owner_id=owner_id).values_list(
        "face_id", "person_id"
    ):
        vetoes[str(face_id)].add(str(person_id))
    in_photo: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r.person_id is not None:
            in_photo[r.photo_id].add(r.person_id)
    review = _review(own, loose, vectors, vetoes, in_photo)
    merges = _merges(own, group_vectors)
    now = timezone.now()
    stored = [
        PersonSuggestions(
            person_id=pid,
            computed_at=now,
            sealed=seal.seal(
                metadata_key,
                json.dumps(
                    {"review": review.get(pid, []), "merge": merges.get(pid, [])},
                    separators=(",", ":"),
                ).encode(),
                _aad(pid),
            ),
        )
        for pid in sorted(named)
    ]
    with transaction.atomic():
        # Only people that still exist: the owner may have merged some away meanwhile.
        alive = {
            str(pid)
            for pid in Person.objects.filter(pk__in=list(named)).values_list("pk", flat=True)
        }
        PersonSuggestions.objects.filter(person__owner_id=owner_id).exclude(
            person_id__in=list(alive)
        ).delete()
        PersonSuggestions.objects.bulk_create(
            [s for s in stored if s.person_id in alive],
            update_conflicts=True,
            unique_fields=["person"],
            update_fields=["sealed", "computed_at"],
        )
    log.info("user %s: suggestions stored for %d named people", owner_id, len(alive))
    return len(alive)


@dataclass(frozen=True)
class Stored:
    review: list  # [(face id, distance)] nearest first
    merge: list  # [(group id, distance)] nearest first
    computed_at: object | None


def suggestions_of(*, person: Person, metadata_key: bytes) -> Stored:
    """What the last run stored for the person (empty when nothing, or when it does not open)."""
    row = PersonSuggestions.objects.filter(person=person).first()
    if row is None:
        return Stored([], [], None)
    try:
        data = json.loads(seal.open(metadata_key, bytes(row.sealed), _aad(person.pk)))
    except (DecryptionError, ValueError):
        return Stored([], [], None)
    return Stored(
        [(fid, float(d)) for fid, d in data.get("review", [])],
        [(gid, float(d)) for gid, d in data.get("merge", [])],
        row.computed_at,
    )


def person_review_candidates(
    *, person: Person, metadata_key: bytes, limit: int = REVIEW_LIMIT
) -> list[Candidate]:
    """The stored "Is this NAME?" faces that still qualify: in no person, not "not a face",
    not vetoed for the person, not in a photo where the person now is nor in the trash."""
    stored = suggestions_of(person=person, metadata_key=metadata_key).review
    if not stored:
        return []
    distance = dict(stored)
    faces = (
        Face.objects.filter(
            owner_id=person.owner_id,
            pk__in=list(distance),
            person=None,
            not_a_face=False,
            photo__trashed_at__isnull=True,
        )
        .exclude(vetoes__person=person)
        .exclude(photo_id__in=Face.objects.filter(person=person).values("photo_id"))
        .select_related("photo")
        .defer("embedding_sealed", "photo__name_sealed")
    )
    found = sorted(faces, key=lambda f: (distance[str(f.pk)], str(f.pk)))
    return [Candidate(face, distance[str(face.pk)]) for face in found[:limit]]


def person_merge_suggestions(
    *, person: Person, metadata_key: bytes, limit: int = MERGE_SUGGESTIONS
) -> list[MergeSuggestion]:
    """The stored unnamed groups that look like the person and are still unnamed, visible
    groups of the owner (a group merged or named since drops out)."""
    stored = suggestions_of(person=person, metadata_key=metadata_key).merge
    if not stored:
        return []
    distance = dict(stored)
    groups = Person.objects.filter(
        owner_id=person.owner_id, pk__in=list(distance), name_sealed=None, hidden=False
    ).defer("exemplars_sealed")
    found = sorted(groups, key=lambda g: (distance[str(g.pk)], str(g.pk)))
    return [MergeSuggestion(g, person, distance[str(g.pk)]) for g in found[:limit]]
