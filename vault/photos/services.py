"""Services that change photos: storing uploads, granting work to the workers, retrying,
deleting, and the state changes the worker pipeline makes."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

import django_rq
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from redis.exceptions import RedisError
from rq import Queue

from vault.accounts.keyring import Keyring
from vault.crypto import DecryptionError, seal
from vault.photos import blobs, storage, worker_keys
from vault.photos.grants import grants_issue
from vault.photos.models import Blob, Photo, ProcessingGrant
from vault.photos.upload_handler import EncryptingUploadHandler, IncomingFile
from vault.photos.worker_keys import live_worker_keys

log = logging.getLogger(__name__)

JOB = "worker.jobs.photo_process"
JOB_TIMEOUT = 600  # seconds
REGRANT_BATCH = 100
# Longer than a job may run (JOB_TIMEOUT), so a photo still in a live job is not nudged.
REQUEUE_AFTER = dt.timedelta(minutes=15)
NAME_LIMIT = 255


def name_aad(photo_id) -> bytes:
    return seal.row_aad("photos_photo", str(photo_id), "name")


def exif_aad(photo_id) -> bytes:
    return seal.row_aad("photos_photo", str(photo_id), "exif")


@dataclass
class UploadOutcome:
    """What happened to one file of an upload, as the page reports it."""

    name: str
    status: str  # "stored", "duplicate" or "rejected"
    message: str
    photo_id: str | None = None

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "message": self.message,
            "photo": self.photo_id,
        }


def photo_enqueue(photo_id, *, to_worker: str | None = None) -> None:
    """Queue the photo's job on the shared queue, or on the own queue of the worker with key id
    `to_worker` (passed on to the worker that holds the grant). Ids only in job arguments: the
    keys travel in the grant, never through Redis."""
    if to_worker is None:
        django_rq.get_queue("default").enqueue(JOB, str(photo_id), job_timeout=JOB_TIMEOUT)
        return
    connection = django_rq.get_connection("default")
    Queue(worker_keys.queue_name(to_worker), connection=connection).enqueue(
        JOB,
        str(photo_id),
        passed_on=True,
        job_timeout=JOB_TIMEOUT,
        # Dropped unstarted when the grant has expired anyway (its worker died meanwhile).
        ttl=settings.VAULT_GRANT_LIFETIME,
    )


def _enqueue_on_commit(photo_id) -> None:
    # robust: if Valkey is down, the photo is stored and waits (the owner's next visit, or
    # _requeue_forgotten, enqueues it again); the upload itself must not fail.
    transaction.on_commit(lambda: photo_enqueue(photo_id), robust=True)


def _grant(photo: Photo, *, data_key: bytes, keyring: Keyring, workers=None) -> int:
    granted = grants_issue(
        photo=photo, data_key=data_key, metadata_key=keyring.metadata_key, workers=workers
    )
    if granted:
        _enqueue_on_commit(photo.id)
    return granted


def _store_one(*, user, keyring: Keyring, incoming: IncomingFile, data_key: bytes, workers):
    name = incoming.name[:NAME_LIMIT]
    existing = (
        Photo.objects.filter(owner=user, content_mac=incoming.content_mac)
        .values_list("id", flat=True)
        .first()
    )
    writer, incoming.writer = incoming.writer, None
    if existing is not None:
        writer.abort()
        storage.remove_photo_dir(user.pk, incoming.photo_id)
        return UploadOutcome(name, "duplicate", "Already in your vault.", str(existing))
    identified = incoming.identified
    try:
        writer.close()
    except OSError:
        log.exception("could not store an upload of user %s", user.pk)
        storage.remove_photo_dir(user.pk, incoming.photo_id)
        return UploadOutcome(
            name, "rejected", "The server could not store this file; nothing was kept."
        )
    try:
        with transaction.atomic():
            photo = Photo.objects.create(
                id=incoming.photo_id,
                owner=user,
                media_type=identified.media_type,
                size=incoming.size,
                width=identified.width,
                height=identified.height,
                content_mac=incoming.content_mac,
                name_sealed=seal.seal(
                    keyring.metadata_key, name.encode(), name_aad(incoming.photo_id)
                ),
            )
            Blob.objects.create(
                photo=photo,
                variant=Blob.Variant.ORIGINAL,
                media_type=identified.media_type,
                size=incoming.size,
                width=identified.width,
                height=identified.height,
            )
            _grant(photo, data_key=data_key, keyring=keyring, workers=workers)
    except IntegrityError:
        # The same photo arrived twice at once (two tabs, or twice in one batch).
        storage.remove_photo_dir(user.pk, incoming.photo_id)
        existing = (
            Photo.objects.filter(owner=user, content_mac=incoming.content_mac)
            .values_list("id", flat=True)
            .first()
        )
        return UploadOutcome(
            name, "duplicate", "Already in your vault.", str(existing) if existing else None
        )
    except Exception:
        # No row points at the blob just written: do not leave it behind as an orphan.
        storage.remove_photo_dir(user.pk, incoming.photo_id)
        raise
    log.info("user %s stored photo %s (%d bytes)", user.pk, photo.id, photo.size)
    return UploadOutcome(name, "stored", "Stored, encrypted.", str(photo.id))


def photos_store_uploads(
    *, user, keyring: Keyring, handler: EncryptingUploadHandler
) -> list[UploadOutcome]:
    """Commit the files the encrypting handler accepted; report every file of the request."""
    outcomes = []
    workers = _workers()
    for incoming in handler.files:
        name = incoming.name[:NAME_LIMIT]
        if incoming.rejection is not None:
            outcomes.append(UploadOutcome(name, "rejected", incoming.rejection))
        elif not incoming.accepted:
            outcomes.append(UploadOutcome(name, "rejected", "The upload was interrupted."))
        else:
            data_key = handler.data_keys.pop(incoming.photo_id)
            outcomes.append(
                _store_one(
                    user=user,
                    keyring=keyring,
                    incoming=incoming,
                    data_key=data_key,
                    workers=workers,
                )
            )
    handler.discard()  # whatever was not committed above
    return outcomes


def _regrant(photo: Photo, *, keyring: Keyring, workers, states) -> bool:
    """Grant the photo afresh to the live workers and enqueue it, if it is still in one of
    `states` and no live worker holds a grant for it (checked again under a row lock: a worker
    may have finished it, or another request re-granted it, since the caller looked)."""
    try:
        data_key = blobs.original_data_key(photo, private_key=keyring.private_key)
    except (FileNotFoundError, NotADirectoryError, DecryptionError):
        log.warning("photo %s: its original is missing or does not open", photo.id)
        _fail_unqueued(photo, states, ORIGINAL_LOST)
        return False
    except OSError:
        # Permissions or a failing disk: failed (so it leaves the re-grant batch) with a
        # reason; the retry button tries again once the operator has fixed it.
        log.warning("photo %s: its original cannot be read", photo.id, exc_info=True)
        _fail_unqueued(photo, states, ORIGINAL_UNREADABLE)
        return False
    with transaction.atomic():
        locked = Photo.objects.select_for_update().filter(pk=photo.pk, state__in=states).first()
        if locked is None or _has_live_grant(locked, workers):
            return False
        locked.state = Photo.State.PENDING
        locked.progress = 0
        locked.failure_reason = ""
        locked.save(update_fields=["state", "progress", "failure_reason"])
        return _grant(locked, data_key=data_key, keyring=keyring, workers=workers) > 0


def _workers() -> dict[str, bytes]:
    """The live worker keys; none when Valkey cannot be reached (photos then wait, pending,
    and the owner's pages keep working)."""
    try:
        return live_worker_keys()
    except RedisError:
        log.warning("the worker key registry cannot be read", exc_info=True)
        return {}


ORIGINAL_LOST = "The stored original is missing or damaged. Delete this photo and upload it again."
ORIGINAL_UNREADABLE = (
    "The server could not read the stored original (a disk or permission problem on the "
    "server). Try again later; if it keeps failing, tell whoever runs this vault."
)


def _fail_unqueued(photo: Photo, states, reason: str) -> None:
    Photo.objects.filter(pk=photo.pk, state__in=states).update(
        state=Photo.State.FAILED, progress=0, failure_reason=reason
    )


def _live_grants(workers: dict[str, bytes]):
    return ProcessingGrant.objects.filter(
        worker_key_id__in=list(workers), expires_at__gt=timezone.now()
    )


def _has_live_grant(photo: Photo, workers: dict[str, bytes]) -> bool:
    return _live_grants(workers).filter(photo=photo).exists()


def photos_regrant(*, user, keyring: Keyring) -> int:
    """Give the workers another go at the owner's photos whose grants died with a worker (or
    that arrived while no worker ran). Called when the owner, keys unlocked, looks at the
    gallery or the upload page. Returns how many photos were re-granted."""
    workers = _workers()
    if not workers:
        return 0
    waiting = [Photo.State.PENDING, Photo.State.PROCESSING]
    stale = (
        Photo.objects.filter(owner=user, state__in=waiting)
        .annotate(has_live_grant=Exists(_live_grants(workers).filter(photo=OuterRef("pk"))))
        .filter(has_live_grant=False)
        .order_by("uploaded_at")[:REGRANT_BATCH]
    )
    count = sum(
        _regrant(photo, keyring=keyring, workers=workers, states=waiting) for photo in stale
    )
    if count:
        log.info("user %s: re-granted %d photo(s) to %d worker(s)", user.pk, count, len(workers))
    _requeue_forgotten(user=user, workers=workers)
    return count


def _requeue_forgotten(*, user, workers: dict[str, bytes]) -> int:
    """A photo still pending or processing long after it was granted to a live worker may
    have lost its job (the queue restarted without persistence, or RQ killed a hung job): enqueue
    it again. A duplicate job is harmless: it finds the photo ready, or locked by the job
    already on it, and returns."""
    now = timezone.now()
    waiting = ProcessingGrant.objects.filter(
        photo__owner=user,
        photo__state__in=[Photo.State.PENDING, Photo.State.PROCESSING],
        worker_key_id__in=list(workers),
        expires_at__gt=now,
        created_at__lt=now - REQUEUE_AFTER,
    )
    photo_ids = set(waiting.values_list("photo_id", flat=True)[:REGRANT_BATCH])
    if not photo_ids:
        return 0
    # Restart the clock, so that a long queue is nudged every REQUEUE_AFTER at most.
    ProcessingGrant.objects.filter(photo_id__in=photo_ids).update(created_at=now)
    for photo_id in photo_ids:
        _enqueue_on_commit(photo_id)
    log.info("user %s: enqueued %d long-waiting photo(s) again", user.pk, len(photo_ids))
    return len(photo_ids)


def photo_retry(*, photo: Photo, keyring: Keyring) -> str:
    """The retry button of a failed photo: "queued", "no worker" (it waits, pending, for the
    owner's next visit with a worker running) or "failed" (it cannot be queued; the photo
    carries the reason)."""
    # The owner asks for another go: the count of interrupted runs starts afresh.
    Photo.objects.filter(pk=photo.pk, state=Photo.State.FAILED).update(attempts=0)
    workers = _workers()
    if not workers:
        Photo.objects.filter(pk=photo.pk, state=Photo.State.FAILED).update(
            state=Photo.State.PENDING, progress=0, failure_reason=""
        )
        return "no worker"
    if _regrant(photo, keyring=keyring, workers=workers, states=[Photo.State.FAILED]):
        return "queued"
    return "failed"


def photos_delete(*, user, photo_ids: list[uuid.UUID]) -> int:
    """Delete the owner's photos with every blob and row. The caller has checked ownership."""
    with transaction.atomic():
        photos = list(
            Photo.objects.select_for_update().filter(owner=user, id__in=photo_ids).only("id")
        )
        Photo.objects.filter(owner=user, id__in=[p.id for p in photos]).delete()
        for photo in photos:
            transaction.on_commit(lambda pid=photo.id: storage.remove_photo_dir(user.pk, pid))
    log.info("user %s deleted %d photo(s)", user.pk, len(photos))
    return len(photos)


# --- state changes made by the worker pipeline -----------------------------------------------


def photo_mark_processing(photo: Photo) -> None:
    photo.state = Photo.State.PROCESSING
    photo.progress = 0
    photo.failure_reason = ""
    photo.attempts += 1
    photo.save(update_fields=["state", "progress", "failure_reason", "attempts"])


def photo_set_progress(photo: Photo, percent: int) -> None:
    photo.progress = max(0, min(100, percent))
    Photo.objects.filter(pk=photo.pk).update(progress=photo.progress)


def photo_mark_ready(photo: Photo) -> None:
    with transaction.atomic():
        photo.state = Photo.State.READY
        photo.progress = 100
        photo.failure_reason = ""
        photo.processed_at = timezone.now()
        photo.save(update_fields=["state", "progress", "failure_reason", "processed_at"])
        ProcessingGrant.objects.filter(photo=photo).delete()


def photo_mark_failed(photo: Photo, reason: str) -> None:
    with transaction.atomic():
        updated = Photo.objects.filter(pk=photo.pk).update(
            state=Photo.State.FAILED, progress=0, failure_reason=reason
        )
        ProcessingGrant.objects.filter(photo_id=photo.pk).delete()
    if updated:
        photo.state, photo.failure_reason = Photo.State.FAILED, reason
