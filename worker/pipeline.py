"""The processing pipeline of one photo (DESIGN §6, step 4), run by the `photo_process` job.

The worker opens the grant made to its in-memory key, decrypts the original, and runs STEPS in
order; each step stores what it derives (encrypted blobs, sealed or plaintext-by-design fields)
so that running the whole job again replaces rather than adds.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from PIL import Image, UnidentifiedImageError

from vault.accounts.models import UserKeys
from vault.photos import blobs, pipeline_state, scheduling, storage
from vault.photos.models import Blob, Photo, ProcessingGrant
from vault.processing.grants.base import GrantedKeys, GrantUnavailable, live_grants
from vault.processing.grants.photo import photo_grant_open
from vault.processing.worker_keys import worker_adverts
from worker import faces, identity, metadata, pictures, tags, thumbnails, video
from worker.locks import advisory_lock

log = logging.getLogger(__name__)


class PhotoUnreadable(Exception):
    """The photo cannot be processed; str(error) is shown to its owner."""


@dataclass
class PhotoWork:
    """Everything the steps share while one photo is processed."""

    photo: Photo
    keys: GrantedKeys
    owner_public_key: bytes
    original: bytes = field(repr=False)
    original_size: tuple[int | None, int | None] = (None, None)  # as stored, before turning
    image: Image.Image | None = field(default=None, repr=False)  # decoded: see pictures.Decoded
    exif: Image.Exif | None = field(default=None, repr=False)  # GPS, camera: never in logs
    orientation: int = 1  # EXIF orientation of the original (the image itself is turned upright)
    # A video's original stays encrypted on disk, read chunk by chunk (worker/video.py); its
    # facts and sampled frames (the first is the poster, also in `image`).
    original_reader: object | None = field(default=None, repr=False)
    video: object | None = field(default=None, repr=False)
    frames: list = field(default_factory=list, repr=False)

    def store_blob(self, variant: str, data: bytes, **fields) -> Blob:
        return blobs.blob_write(
            photo=self.photo,
            variant=variant,
            data=data,
            data_key=self.keys.data_key,
            owner_public_key=self.owner_public_key,
            **fields,
        )


TOO_MANY_PIXELS = "This image has too many pixels to process."


def decode(work: PhotoWork) -> None:
    """The picture the later steps use (worker/pictures.py), and whether the photo animates."""
    try:
        decoded = pictures.picture_decode(
            work.original, work.photo.media_type, max_pixels=settings.VAULT_MAX_PIXELS
        )
    except Image.DecompressionBombError:
        raise PhotoUnreadable(TOO_MANY_PIXELS) from None
    except UnidentifiedImageError:
        raise PhotoUnreadable("This file is not an image the vault can read.") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise PhotoUnreadable(
            "The image data is damaged or incomplete, so no picture can be made from it. "
            "Delete it, and upload the original again if you have it."
        ) from None
    work.image, work.exif, work.orientation = decoded.image, decoded.exif, decoded.orientation
    if work.photo.animated != decoded.animated:
        work.photo.animated = decoded.animated
        work.photo.save(update_fields=["animated"])


def _hold_after(step_name: str) -> None:
    """Tests only (VAULT_PIPELINE_HOLD_FILE): while that file exists and names this step, the
    job waits here, so that a test can act on a worker in the middle of a job (kill it, start
    another) and then let it go — a condition, not a duration."""
    hold = settings.VAULT_PIPELINE_HOLD_FILE
    if not hold:
        return
    path = Path(hold)
    try:
        if path.read_text().strip() != step_name:
            return
    except OSError:
        return
    log.info("held after %s", step_name)
    while path.exists():
        time.sleep(0.05)


Step = Callable[[PhotoWork], None]
STEPS: list[tuple[str, Step]] = [
    ("decode", decode),
    ("metadata", metadata.read_metadata),
    ("thumbnails", thumbnails.make_thumbnails),
    ("tags", tags.tag_photo),
    ("faces", faces.find_faces),
    ("motion", video.find_motion),
    ("motion rendition", video.render_motion),
]


# A video (DESIGN §12): frames instead of a picture; the rendition only when a browser needs it.
VIDEO_STEPS: list[tuple[str, Step]] = [
    ("decode", video.decode),
    ("metadata", video.read_metadata),
    ("thumbnails", thumbnails.make_thumbnails),
    ("tags", video.tag_frames),
    ("faces", video.find_faces),
    ("rendition", video.make_rendition),
]


def photo_lock(photo_id: uuid.UUID):
    """One job per photo at a time (see worker.locks)."""
    return advisory_lock(pipeline_state.photo_lock_key(photo_id))


def photo_process_run(photo_id: str, *, passed_on: bool = False) -> str:
    try:
        pid = uuid.UUID(str(photo_id))
    except ValueError:
        log.warning("photo_process: not a photo id")
        return "bad id"
    with photo_lock(pid) as acquired:
        if not acquired:
            log.info("photo %s: another job is processing it", pid)
            return "busy"
        outcome = _process(pid)
    if outcome == "no grant" and not passed_on:
        # This worker started after the photo was granted. Hand the job to a live worker that
        # holds a grant, through that worker's own queue, which it reads before the shared one.
        holder = _live_grant_holder(pid)
        if holder is not None:
            scheduling.photo_enqueue(pid, to_worker=holder)
            log.info("photo %s: passed on to worker %s", pid, holder)
            return "passed on"
    # Otherwise no live worker can open it: the owner's next visit grants it afresh.
    return outcome


def _live_grant_holder(photo_id: uuid.UUID) -> str | None:
    # Any advertised key will do: grants exist only for keys the web found enrolled, and this
    # worker need not hold the web's view of the secret to pass a job on to one of them.
    others = {advert.key_id for advert in worker_adverts()} - {identity.current().key_id}
    holders = list(
        live_grants(ProcessingGrant.objects.filter(photo_id=photo_id), others).values_list(
            "worker_key_id", flat=True
        )
    )
    return random.choice(holders) if holders else None  # noqa: S311 - spreads work, no secret


# Runs started without finishing (the worker died: killed, or out of memory) before the photo
# is marked failed instead of tried again. The owner's retry button starts the count afresh.
MAX_ATTEMPTS = 3
INTERRUPTED = (
    "Processing this photo was interrupted {count} times (the worker stopped in the middle, "
    "perhaps out of memory). Try again; if it fails again, this server cannot process it."
)


def _process(photo_id: uuid.UUID) -> str:
    me = identity.current()
    photo = Photo.objects.filter(pk=photo_id).first()
    if photo is None:
        log.info("photo %s: gone before processing", photo_id)
        return "gone"
    if photo.state == Photo.State.READY:
        return "ready"
    try:
        keys = photo_grant_open(photo=photo, worker_key_id=me.key_id, private_key=me.private_key)
    except GrantUnavailable as error:
        # Not ours to do: the owner's next visit grants it to the workers alive then.
        log.info("photo %s: %s", photo_id, error)
        return "no grant"
    if photo.attempts >= MAX_ATTEMPTS:
        pipeline_state.photo_mark_failed(photo, INTERRUPTED.format(count=photo.attempts))
        log.warning("photo %s: %d runs did not finish; marked failed", photo_id, photo.attempts)
        return "failed"
    pipeline_state.photo_mark_processing(photo)
    storage.remove_stale_temporaries(photo.owner_id, photo.id)
    try:
        owner_public_key = bytes(UserKeys.objects.get(user_id=photo.owner_id).public_key)
        original_blob = photo.blobs.get(variant=Blob.Variant.ORIGINAL)
        with blobs.blob_open(original_blob, data_key=keys.data_key) as original:
            work = PhotoWork(
                photo=photo,
                keys=keys,
                owner_public_key=owner_public_key,
                # A video may be gigabytes: its steps read it through the open reader.
                original=b"" if photo.is_video else original.read_all(),
                original_size=(original_blob.width, original_blob.height),
                original_reader=original,
            )
            steps = VIDEO_STEPS if photo.is_video else STEPS
            for number, (name, step) in enumerate(steps, start=1):
                step(work)
                pipeline_state.photo_set_progress(photo, 100 * number // (len(steps) + 1))
                log.info("photo %s: %s done", photo_id, name)
                _hold_after(name)
    except PhotoUnreadable as error:
        pipeline_state.photo_mark_failed(photo, str(error))
        log.info("photo %s: failed: %s", photo_id, error)
        return "failed"
    except blobs.PhotoGone:
        # Deleted (or joined to a Live item) while we worked: the object that write made is
        # removed already; remove what earlier steps wrote, in case the deletion's own
        # clean-up ran before they were there.
        storage.remove_photo_blobs(photo.owner_id, photo_id)
        log.info("photo %s: deleted while it was processed", photo_id)
        return "gone"
    except Exception:
        if not Photo.objects.filter(pk=photo_id).exists():
            # Deleted by its owner while we worked: leave nothing behind.
            storage.remove_photo_blobs(photo.owner_id, photo_id)
            return "gone"
        pipeline_state.photo_mark_failed(
            photo, "Something went wrong while processing this photo. Try again."
        )
        raise
    pipeline_state.photo_mark_ready(photo)
    return "ready"
