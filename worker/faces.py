"""The `faces` pipeline step (DESIGN §8): find the faces in the decoded image, embed and crop
them, and hand them to People's services (vault/people/detection.py), which store each as a
Face row (box in the clear, by design) with its crop as an encrypted blob (variant "face") and
its embedding sealed under the owner's metadata key, and put each new face into the nearest
person when it is close enough (incremental assignment); then tag the photo "human". A re-run
keeps what the owner said about the faces it finds again (see vault/people/detection.py).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from PIL import Image

from vault.people.detection import FoundFace, faces_join_people, faces_replace
from vault.photos import seen_by
from vault.photos.models import Blob, Photo
from vault.photos.tagging import tags_set_from_faces
from worker.ai import loader

log = logging.getLogger(__name__)

CROP_SIZE = 160  # px, the face thumbnail's side
CROP_QUALITY = 85


@dataclass
class FaceModels:
    detector: object  # worker.ai.face_detector.FaceDetector
    embedder: object  # worker.ai.face_embedder.FaceEmbedder

    @property
    def model_id(self) -> str:
        """What Photo.faces_by records (see vault.photos.seen_by.active_faces_id)."""
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


def _crop_jpeg(crop: Image.Image) -> bytes:
    out = io.BytesIO()
    crop.convert("RGB").save(out, "JPEG", quality=CROP_QUALITY)
    return out.getvalue()


def find_faces(work) -> None:
    """The pipeline step. A model problem costs the photo its faces, never the photo: it stays
    ready, with faces_by "" (no usable models: looked at again once there are) or
    seen_by.failed(models) (the models failed on it: not granted again for them)."""
    from worker.ai.face_detector import iou

    models, _reason = face_models_or_reason()
    if models is None:
        return
    photo: Photo = work.photo
    try:
        found = _detect(models, work.image)
    except Exception:
        log.exception("photo %s: finding faces failed", photo.id)
        Photo.objects.filter(pk=photo.pk).update(faces_by=seen_by.failed(models.model_id))
        return
    faces = faces_replace(
        photo=photo,
        model_id=models.model_id,
        found=found,
        metadata_key=work.keys.metadata_key,
        crop_store=lambda index, jpeg: _crop_store(work, index, jpeg),
        overlap=iou,
    )
    assigned = faces_join_people(photo=photo, metadata_key=work.keys.metadata_key)
    best = max((face.score for face in faces if not face.not_a_face), default=None)
    tags_set_from_faces(photo=photo, score=best)
    log.info(
        "photo %s: %d face(s) by %s, %d joined a person",
        photo.id,
        len(faces),
        models.model_id,
        assigned,
    )


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


def _crop_store(work, index: int, jpeg: bytes) -> None:
    """A face's crop as a blob of the photo (variant "face"), encrypted under its data key."""
    work.store_blob(
        Blob.Variant.FACE,
        jpeg,
        media_type="image/jpeg",
        index=index,
        width=CROP_SIZE,
        height=CROP_SIZE,
    )
