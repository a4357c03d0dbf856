"""The `photo_update` job: bring a photo that is already in the vault up to date with the
pipeline (DESIGN §6): tag it with the active tagger, or look for faces with the active face
models, when an older model or none did. Only the missing steps run, on the stored preview
(already upright and small), so the original is not decrypted and decoded again. The photo
stays ready and visible throughout."""

from __future__ import annotations

import io
import logging
import uuid

from django.conf import settings
from PIL import Image

from vault.accounts.models import UserKeys
from vault.crypto import DecryptionError
from vault.photos import blobs, seen_by
from vault.photos.models import Blob, Photo
from vault.processing.grants.base import GrantUnavailable
from vault.processing.grants.photo import photo_grant_open, photo_grants_revoke
from vault.processing.queue import Job, enqueue
from worker import faces, identity, pictures, tags
from worker.pipeline import PhotoWork, _live_grant_holder, photo_lock

log = logging.getLogger(__name__)


def _needs_tags(photo: Photo, active: dict[str, str | None]) -> bool:
    model = active["tags"]
    return model is not None and not seen_by.has_seen(photo.tagged_by, model)


def _needs_faces(photo: Photo, active: dict[str, str | None]) -> bool:
    models = active["faces"]
    return models is not None and not seen_by.has_seen(photo.faces_by, models)


def _give_up_tags(photo: Photo, model: str) -> None:
    Photo.objects.filter(pk=photo.pk).update(tagged_by=seen_by.failed(model))


def _give_up_faces(photo: Photo, models: str) -> None:
    Photo.objects.filter(pk=photo.pk).update(faces_by=seen_by.failed(models))


# (name, needed?(photo, active model ids), step, give up(photo, model id)): the steps a ready
# photo may be missing, in pipeline order. Giving up remembers that the active model could not
# process the photo, so that the owner's visits do not grant it again and again; a newer model
# tries afresh.
UPDATE_STEPS = [
    ("tags", _needs_tags, tags.tag_photo, _give_up_tags),
    ("faces", _needs_faces, faces.find_faces, _give_up_faces),
]


def _input_image(photo: Photo, data_key: bytes) -> Image.Image:
    """The stored preview (≤ 1600 px, upright, RGB JPEG), else the original decoded as the
    pipeline does (upright, 8-bit RGB, a representative frame)."""
    for variant in (Blob.Variant.PREVIEW, Blob.Variant.ORIGINAL):
        blob = photo.blobs.filter(variant=variant, index=0).first()
        if blob is None or (variant == Blob.Variant.ORIGINAL and photo.is_video):
            continue  # a video's original is no picture (and may be gigabytes): its poster is
        try:
            with blobs.blob_open(blob, data_key=data_key) as reader:
                data = reader.read_all()
            if variant == Blob.Variant.PREVIEW:
                image = Image.open(io.BytesIO(data), formats=["JPEG"])
                image.load()
                return pictures.picture_rgb(image)
            limit = settings.VAULT_MAX_PIXELS
            return pictures.picture_decode(data, photo.media_type, max_pixels=limit).image
        except (
            OSError,  # Pillow's UnidentifiedImageError is one
            Image.DecompressionBombError,
            DecryptionError,
            SyntaxError,
            ValueError,
            EOFError,
        ):
            log.warning("photo %s: its %s does not open", photo.id, variant)
    raise LookupError("no readable picture")


def _loaded_model_ids() -> dict[str, str | None]:
    """{step name: id of the model this worker has loaded for it, or None}. Not the cards'
    ids (vault.photos.seen_by.active_models): a model whose files do not load here is none."""
    tagger, _reason = tags.tagger_or_reason()
    face_models, _reason = faces.face_models_or_reason()
    return {
        "tags": tagger.model_id if tagger is not None else None,
        "faces": face_models.model_id if face_models is not None else None,
    }


def photo_update_run(photo_id: str, *, passed_on: bool = False) -> str:
    """Run a ready photo's missing steps. A worker that holds no grant for it (it started
    after the photo was granted) hands the job to a live worker that does, through that
    worker's own queue, as photo_process_run does; `passed_on`: this is such a job (never
    passed on twice). Returns the outcome ("updated", "up to date", "no grant", ...)."""
    try:
        pid = uuid.UUID(str(photo_id))
    except ValueError:
        return "bad id"
    outcome = _update(pid)
    if outcome == "no grant" and not passed_on:
        holder = _live_grant_holder(pid)
        if holder is not None:
            enqueue(Job.PHOTO_UPDATE, str(pid), to_worker=holder, passed_on=True)
            log.info("photo %s: update passed on to worker %s", pid, holder)
            return "passed on"
    # Otherwise no live worker can open it: a later visit of its owner grants it afresh.
    return outcome


def _update(pid: uuid.UUID) -> str:
    with photo_lock(pid) as acquired:
        if not acquired:
            return "busy"
        photo = Photo.objects.filter(pk=pid, state=Photo.State.READY).first()
        if photo is None:
            return "gone"  # deleted, or not ready (the processing job runs every step)
        active = _loaded_model_ids()
        if not any(active.values()):
            # This worker has no usable model (its files do not load, though the web thinks
            # they are fine): keep the grant, so that the owner's visits do not grant the
            # photo again and again; the grant expires, and the worker log says why.
            return "no models"
        me = identity.current()
        try:
            keys = photo_grant_open(
                photo=photo, worker_key_id=me.key_id, private_key=me.private_key
            )
        except GrantUnavailable as error:
            log.info("photo %s: %s", pid, error)
            return "no grant"
        try:
            missing = [
                (name, step, give_up)
                for name, needed, step, give_up in UPDATE_STEPS
                if needed(photo, active)
            ]
            if not missing:
                return "up to date"
            try:
                image = _input_image(photo, keys.data_key)
            except LookupError:
                for name, _step, give_up in missing:
                    give_up(photo, active[name])
                return "failed"
            work = PhotoWork(
                photo=photo,
                keys=keys,
                owner_public_key=bytes(UserKeys.objects.get(user_id=photo.owner_id).public_key),
                original=b"",
            )
            work.image = image
            for name, step, give_up in missing:
                try:
                    step(work)
                except blobs.PhotoGone:  # deleted meanwhile: what the step wrote is removed
                    log.info("photo %s: deleted while it was brought up to date", pid)
                    return "gone"
                except Exception:
                    log.exception("photo %s: %s failed", pid, name)
                    give_up(photo, active[name])
                    continue
                log.info("photo %s: %s brought up to date", pid, name)
            return "updated"
        finally:
            photo_grants_revoke(photo=photo)
