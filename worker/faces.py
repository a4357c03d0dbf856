"""The `faces` pipeline step (DESIGN §8): find the faces in the decoded image, store each as a
Face row (box in the clear, by design) with its crop as an encrypted blob (variant "face") and
its embedding sealed under the owner's metadata key, put each new face into the nearest person
when it is close enough (incremental assignment), and tag the photo "human".

A re-run (the job retried, or newer face models) leaves exactly one set of faces and crops per
photo: a detection that overlaps a face already stored keeps that face's id, person, vetoes and
"not a face" mark, so what the owner said about it holds; a face the owner touched is kept even
if the new detector misses it; untouched faces that are no longer found go, with their crops.
"""

from __future__ import annotations

import io
import logging
import uuid
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction
from PIL import Image

from vault.crypto import DecryptionError
from vault.people import sealing
from vault.people.clustering_state import people_mark_changed
from vault.people.models import Face, Person
from vault.photos import storage
from vault.photos.models import Blob, Photo
from vault.photos.tagging import TAGGING_FAILED_PREFIX, tags_set_from_faces
from worker.ai import loader

log = logging.getLogger(__name__)

# Two boxes are one face when their intersection over union reaches this (the PASCAL VOC
# detection criterion, Everingham et al. 2010).
SAME_FACE_IOU = 0.5
CROP_SIZE = 160  # px, the face thumbnail's side
CROP_QUALITY = 85


@dataclass
class FaceModels:
    detector: object  # worker.ai.face_detector.FaceDetector
    embedder: object  # worker.ai.face_embedder.FaceEmbedder

    @property
    def model_id(self) -> str:
        """What Photo.faces_by records (see vault.photos.tag_status.active_faces_id)."""
        return f"{self.detector.model_id}+{self.embedder.model_id}"


def face_models_or_reason() -> tuple[FaceModels | None, str]:
    """(the loaded face models, "") or (None, why faces cannot be found). Loaded once per
    process (worker.ai.loader caches them)."""
    from worker.ai.face_detector import load_face_detector
    from worker.ai.face_embedder import load_face_embedder

    try:
        detector = load_face_detector(settings.VAULT_MODELS_DIR, threads=settings.VAULT_ML_THREADS)
        embedder = load_face_embedder(settings.VAULT_MODELS_DIR)
    except loader.ModelUnavailable as error:
        log.warning("finding faces is unavailable: %s", error)
        return None, str(error)
    return FaceModels(detector, embedder), ""


def active_faces_id() -> str | None:
    models, _reason = face_models_or_reason()
    return models.model_id if models is not None else None


def _crop_jpeg(crop: Image.Image) -> bytes:
    out = io.BytesIO()
    crop.convert("RGB").save(out, "JPEG", quality=CROP_QUALITY)
    return out.getvalue()


def find_faces(work) -> None:
    """The pipeline step. A model problem costs the photo its faces, never the photo: it stays
    ready, with faces_by "" (no usable models: looked at again once there are) or
    "failed:<models>" (the models failed on it: not granted again for them)."""
    models, _reason = face_models_or_reason()
    if models is None:
        return
    photo: Photo = work.photo
    try:
        found = _detect(models, work.image)
    except Exception:
        log.exception("photo %s: finding faces failed", photo.id)
        Photo.objects.filter(pk=photo.pk).update(faces_by=TAGGING_FAILED_PREFIX + models.model_id)
        return
    faces = faces_store(work, models.model_id, found)
    assigned = faces_assign_incremental(photo=photo, metadata_key=work.keys.metadata_key)
    best = max((face.score for face in faces if not face.not_a_face), default=None)
    tags_set_from_faces(photo=photo, score=best)
    log.info(
        "photo %s: %d face(s) by %s, %d joined a person",
        photo.id,
        len(faces),
        models.model_id,
        assigned,
    )


@dataclass
class FoundFace:
    box: tuple[float, float, float, float]  # left, top, width, height: fractions of the image
    score: float
    clusterable: bool
    embedding: np.ndarray | None  # (128,) float32, for clusterable faces
    crop: bytes  # JPEG


def _detect(models: FaceModels, image: Image.Image) -> list[FoundFace]:
    from worker.ai.face_detector import face_is_clusterable
    from worker.ai.face_embedder import face_crop

    detections = models.detector.detect(image)
    clusterable = [face_is_clusterable(image, face) for face in detections]
    wanted = [face for face, ok in zip(detections, clusterable, strict=True) if ok]
    vectors = iter(models.embedder.embed(image, wanted) if wanted else [])
    width, height = image.size
    found = []
    for face, ok in zip(detections, clusterable, strict=True):
        left, top, box_w, box_h = face.box
        found.append(
            FoundFace(
                box=(left / width, top / height, box_w / width, box_h / height),
                score=float(face.score),
                clusterable=ok,
                embedding=np.asarray(next(vectors), dtype="<f4") if ok else None,
                crop=_crop_jpeg(face_crop(image, face, size=CROP_SIZE)),
            )
        )
    return found


def _box(face: Face) -> tuple[float, float, float, float]:
    return (face.left, face.top, face.width, face.height)


def _match(existing: list[Face], found: list[FoundFace]) -> dict[int, Face]:
    """{index in found: the stored face it is}: greedy by overlap, each face used once."""
    from worker.ai.face_detector import iou

    pairs = sorted(
        (
            (iou(_box(face), item.box), position, face.index)
            for position, item in enumerate(found)
            for face in existing
        ),
        reverse=True,
    )
    by_index = {face.index: face for face in existing}
    matched: dict[int, Face] = {}
    used: set[int] = set()
    for overlap, position, index in pairs:
        if overlap < SAME_FACE_IOU:
            break
        if position in matched or index in used:
            continue
        matched[position] = by_index[index]
        used.add(index)
    return matched


def faces_store(work, model_id: str, found: list[FoundFace]) -> list[Face]:
    """Store `found` as the photo's faces (see the module docstring); returns them."""
    photo: Photo = work.photo
    metadata_key = work.keys.metadata_key
    existing = list(Face.objects.filter(photo=photo).prefetch_related("vetoes"))
    matched = _match(existing, found)
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
            sealing.vectors_seal(
                metadata_key, item.embedding.tobytes(), sealing.embedding_aad(face.id)
            )
            if item.embedding is not None
            else None
        )
        if not item.clusterable and face.assigned_by != Face.AssignedBy.USER:
            face.person = None  # too small or blurry to be grouped
            face.assigned_by = Face.AssignedBy.NONE
        # The crop first: a row never points at a crop that is not there.
        work.store_blob(
            Blob.Variant.FACE,
            item.crop,
            media_type="image/jpeg",
            index=face.index,
            width=CROP_SIZE,
            height=CROP_SIZE,
        )
        rows.append(face)
    gone = [f for f in existing if f.id not in kept_ids and not f.touched]
    with transaction.atomic():
        if Photo.objects.select_for_update().filter(pk=photo.pk).first() is None:
            return []  # deleted by its owner meanwhile
        Face.objects.filter(pk__in=[face.id for face in gone]).delete()
        for face in rows:
            face.save()
        Blob.objects.filter(
            photo=photo, variant=Blob.Variant.FACE, index__in=[f.index for f in gone]
        ).delete()
        Photo.objects.filter(pk=photo.pk).update(faces_by=model_id)
    for face in gone:
        storage.blob_path(photo.owner_id, photo.id, Blob.Variant.FACE, face.index).unlink(
            missing_ok=True
        )
    return rows + touched_left


def _exemplars(owner_id, metadata_key: bytes) -> dict[str, np.ndarray]:
    people = {}
    for person_id, sealed in Person.objects.filter(
        owner_id=owner_id, exemplars_sealed__isnull=False
    ).values_list("id", "exemplars_sealed"):
        try:
            raw = sealing.vectors_open(metadata_key, sealed, sealing.exemplars_aad(person_id))
        except DecryptionError:
            log.warning("person %s: exemplars do not open; skipped", person_id)
            continue
        people[str(person_id)] = np.frombuffer(raw, dtype="<f4").reshape(-1, sealing.EMBEDDING_DIM)
    return people


def faces_assign_incremental(*, photo: Photo, metadata_key: bytes) -> int:
    """Put each unassigned clusterable face of the photo into the nearest person within the
    clustering threshold — never a person it is vetoed from, nor one that already has a face
    in this photo. What stays unassigned waits for the next clustering run. Returns how many
    faces joined a person."""
    from vault.people.embeddings import ExemplarIndex, assign_incremental

    faces = list(Face.objects.filter(photo=photo, not_a_face=False).prefetch_related("vetoes"))
    waiting = [
        face
        for face in faces
        if face.person_id is None and face.clusterable and face.embedding_sealed is not None
    ]
    if not waiting:
        return 0
    people = ExemplarIndex(_exemplars(photo.owner_id, metadata_key))
    in_photo = {str(face.person_id) for face in faces if face.person_id is not None}
    joined = 0
    for face in sorted(waiting, key=lambda f: -f.score):
        vetoed = {str(veto.person_id) for veto in face.vetoes.all()}
        try:
            raw = sealing.vectors_open(
                metadata_key, face.embedding_sealed, sealing.embedding_aad(face.id)
            )
        except DecryptionError:
            continue
        person_id = (
            assign_incremental(np.frombuffer(raw, dtype="<f4"), people, excluded=vetoed | in_photo)
            if people
            else None
        )
        if person_id is None:
            continue
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
