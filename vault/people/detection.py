"""Services the face-finding step calls (worker/faces.py computes, these write; DESIGN §8):
replace a photo's faces with what the detector found, and join the new faces to the nearest
people (incremental assignment).

A re-run (the job retried, or newer face models) leaves exactly one set of faces and crops per
photo: a detection that overlaps a face already stored keeps that face's id, person, vetoes and
"not a face" mark, so what the owner said about it holds; a face the owner touched is kept even
if the new detector misses it; untouched faces that are no longer found go, with their crops.
Locks: vault/people/locks.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.db import transaction

from vault.people import sealing
from vault.people.clustering_state import people_mark_changed
from vault.people.embeddings import (
    ExemplarIndex,
    assign_incremental,
    embeddings_open,
    embeddings_seal,
)
from vault.people.locks import faces_locked, photo_lock
from vault.people.models import Face, Person
from vault.photos import storage
from vault.photos.models import Blob, Photo

log = logging.getLogger(__name__)

# Two boxes are one face when their intersection over union reaches this (the PASCAL VOC
# detection criterion, Everingham et al. 2010).
SAME_FACE_IOU = 0.5

Box = tuple[float, float, float, float]  # left, top, width, height: fractions of the image


@dataclass
class FoundFace:
    """One face the detector found, as the worker computed it."""

    box: Box
    score: float  # the detector's confidence, 0..1
    clusterable: bool  # large and sharp enough to be embedded and grouped
    embedding: np.ndarray | None  # (128,) float32, for clusterable faces
    crop: bytes  # JPEG, the face thumbnail


def _box(face: Face) -> Box:
    return (face.left, face.top, face.width, face.height)


def _match(
    existing: list[Face], found: list[FoundFace], overlap: Callable[[Box, Box], float]
) -> dict[int, Face]:
    """{index in found: the stored face it is}: greedy by overlap, each face used once."""
    pairs = sorted(
        (
            (overlap(_box(face), item.box), position, face.index)
            for position, item in enumerate(found)
            for face in existing
        ),
        reverse=True,
    )
    by_index = {face.index: face for face in existing}
    matched: dict[int, Face] = {}
    used: set[int] = set()
    for share, position, index in pairs:
        if share < SAME_FACE_IOU:
            break
        if position in matched or index in used:
            continue
        matched[position] = by_index[index]
        used.add(index)
    return matched


def faces_replace(
    *,
    photo: Photo,
    model_id: str,
    found: list[FoundFace],
    metadata_key: bytes,
    crop_store: Callable[[int, bytes], object],
    overlap: Callable[[Box, Box], float],
) -> list[Face]:
    """Store `found` as the photo's faces, found by `model_id` (see the module docstring), and
    record the model on the photo (Photo.faces_by). Embeddings are sealed under the owner's
    metadata key. crop_store(index, jpeg) writes a face's crop blob (variant "face") before its
    row is written, so that a row never points at a crop that is not there. overlap(box, box):
    the boxes' intersection over union, 0..1 (worker.ai.face_detector.iou). Returns the faces
    now stored (the touched ones the detector missed included); none when the photo was
    deleted meanwhile."""
    existing = list(Face.objects.filter(photo=photo).prefetch_related("vetoes"))
    matched = _match(existing, found, overlap)
    kept_ids = {face.id for face in matched.values()}
    touched_left = [f for f in existing if f.id not in kept_ids and f.touched]
    next_index = max((face.index for face in existing), default=-1) + 1
    rows: list[Face] = []
    for position, item in enumerate(found):
        face = matched.get(position)
        if face is None:
            face = Face(id=uuid.uuid4(), photo=photo, owner_id=photo.owner_id, index=next_index)
            next_index += 1
        face.left, face.top, face.width, face.height = item.box
        face.score = item.score
        face.clusterable = item.clusterable
        face.detected_by = model_id
        face.embedding_sealed = (
            embeddings_seal(metadata_key, item.embedding, sealing.embedding_aad(face.id))
            if item.embedding is not None
            else None
        )
        if not item.clusterable and face.assigned_by != Face.AssignedBy.USER:
            face.person = None  # too small or blurry to be grouped
            face.assigned_by = Face.AssignedBy.NONE
        crop_store(face.index, item.crop)
        rows.append(face)
    gone = [f for f in existing if f.id not in kept_ids and not f.touched]
    with transaction.atomic():
        if not photo_lock(photo.pk):
            return []  # deleted by its owner meanwhile
        list(faces_locked(Face.objects.filter(photo=photo)).values_list("pk", flat=True))
        Face.objects.filter(pk__in=[face.id for face in gone]).delete()
        for face in rows:
            face.save()
        Blob.objects.filter(
            photo=photo, variant=Blob.Variant.FACE, index__in=[f.index for f in gone]
        ).delete()
        Photo.objects.filter(pk=photo.pk).update(faces_by=model_id)
    for face in gone:
        storage.blob_delete(photo.owner_id, photo.id, Blob.Variant.FACE, face.index)
    return rows + touched_left


def _people_exemplars(owner_id, metadata_key: bytes) -> dict[str, np.ndarray]:
    """person id -> (k, 128) exemplars, of the owner's people that have any that open."""
    people = {}
    for person_id, sealed in Person.objects.filter(
        owner_id=owner_id, exemplars_sealed__isnull=False
    ).values_list("id", "exemplars_sealed"):
        rows = embeddings_open(metadata_key, sealed, sealing.exemplars_aad(person_id))
        if rows is None:
            log.warning("person %s: exemplars do not open; skipped", person_id)
            continue
        people[str(person_id)] = rows
    return people


def faces_join_people(*, photo: Photo, metadata_key: bytes) -> int:
    """Put each unassigned clusterable face of the photo into the nearest person within the
    clustering threshold (vault.people.embeddings.assign_incremental) — never a person it is
    vetoed from, nor one that already has a face in this photo, nor a face the owner placed
    meanwhile. What stays unassigned waits for the next clustering run, which is then marked
    due. Returns how many faces joined a person."""
    faces = list(Face.objects.filter(photo=photo, not_a_face=False).prefetch_related("vetoes"))
    waiting = [
        face
        for face in faces
        if face.person_id is None and face.clusterable and face.embedding_sealed is not None
    ]
    if not waiting:
        return 0
    people = ExemplarIndex(_people_exemplars(photo.owner_id, metadata_key))
    in_photo = {str(face.person_id) for face in faces if face.person_id is not None}
    joined = 0
    for face in sorted(waiting, key=lambda f: -f.score):
        vetoed = {str(veto.person_id) for veto in face.vetoes.all()}
        rows = embeddings_open(metadata_key, face.embedding_sealed, sealing.embedding_aad(face.id))
        if rows is None:
            continue
        person_id = (
            assign_incremental(rows[0], people, excluded=vetoed | in_photo) if people else None
        )
        if person_id is None:
            continue
        # One row, conditional: a face the owner placed or that joined someone meanwhile stays.
        updated = (
            Face.objects.filter(pk=face.pk, person=None)
            .exclude(assigned_by=Face.AssignedBy.USER)
            .update(person_id=person_id, assigned_by=Face.AssignedBy.AUTO)
        )
        if updated:
            in_photo.add(person_id)
            joined += 1
    if joined < len(waiting):
        people_mark_changed(user=photo.owner)
    return joined
