"""When photos are given to the workers (DESIGN §4, §6): a photo's grant at upload, the retry
button, and the owner's visits — fresh grants for photos whose workers died, jobs queued again
when they were lost, and photos already in the vault brought up to date with the pipeline (a step
added, a model replaced). The grants themselves are vault.processing.grants."""

from __future__ import annotations

import datetime as dt
import logging
from enum import StrEnum

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from vault.accounts.keyring import Keyring
from vault.crypto import DecryptionError
from vault.photos import blobs, live_photos, pipeline_state, seen_by
from vault.photos.model_status import model_status
from vault.photos.models import Photo, ProcessingGrant
from vault.processing import visits
from vault.processing.grants.base import live_grants, live_workers
from vault.processing.grants.photo import photo_grants_issue
from vault.processing.queue import Job, enqueue, enqueue_on_commit

log = logging.getLogger(__name__)

REGRANT_BATCH = 100
# Longer than a job may run (queue.JOB_TIMEOUT), so a photo still in a live job is not nudged.
REQUEUE_AFTER = dt.timedelta(minutes=15)


class RetryOutcome(StrEnum):
    QUEUED = "queued"
    NO_WORKER = "no worker"  # it waits, pending, for the owner's next visit with a worker
    FAILED = "failed"  # it cannot be queued; the photo carries the reason


def photo_enqueue(photo_id, *, to_worker: str | None = None) -> None:
    """Queue the photo's processing job (see vault.processing.queue.enqueue)."""
    if to_worker is None:
        enqueue(Job.PHOTO_PROCESS, str(photo_id))
    else:
        enqueue(Job.PHOTO_PROCESS, str(photo_id), to_worker=to_worker, passed_on=True)


def photo_grant(photo: Photo, *, data_key: bytes, keyring: Keyring, workers=None) -> int:
    """Grant the photo to the live workers and enqueue its job after the commit; returns how
    many workers were granted it (0: none runs, the photo waits)."""
    granted = photo_grants_issue(
        photo=photo, data_key=data_key, metadata_key=keyring.metadata_key, workers=workers
    )
    if granted:
        enqueue_on_commit(Job.PHOTO_PROCESS, str(photo.id))
    return granted


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
        return photo_grant(locked, data_key=data_key, keyring=keyring, workers=workers) > 0


def photo_process_again(*, photo: Photo, keyring: Keyring) -> bool:
    """Process a ready photo once more (it gained a blob a step reads: a Live Photo's motion);
    False when no live worker could be granted it (the owner's next visit does)."""
    return _regrant(photo, keyring=keyring, workers=live_workers(), states=[Photo.State.READY])


ORIGINAL_LOST = "The stored original is missing or damaged. Delete this photo and upload it again."
ORIGINAL_UNREADABLE = (
    "The server could not read the stored original (a disk or permission problem on the "
    "server). Try again later; if it keeps failing, tell whoever runs this vault."
)


def _fail_unqueued(photo: Photo, states, reason: str) -> None:
    Photo.objects.filter(pk=photo.pk, state__in=states).update(
        state=Photo.State.FAILED, progress=0, failure_reason=reason
    )


def _has_live_grant(photo: Photo, workers: dict[str, bytes]) -> bool:
    return live_grants(ProcessingGrant.objects.filter(photo=photo), workers).exists()


def owner_visit_work(*, user, keyring: Keyring) -> int:
    """The owner, keys unlocked, looks at the gallery, the upload page or the status the pages
    poll: give the workers another go at their photos whose grants died with a worker (or that
    arrived while no worker ran), queue again the jobs that were lost (`_requeue_forgotten`),
    bring ready photos up to date (`photos_refresh`), and run the other apps' visit hooks
    (vault.processing.visits). Returns how many photos were re-granted."""
    workers = live_workers()
    if not workers:
        return 0
    waiting = [Photo.State.PENDING, Photo.State.PROCESSING]
    stale = (
        Photo.objects.filter(owner=user, state__in=waiting)
        .annotate(
            has_live_grant=Exists(
                live_grants(ProcessingGrant.objects.filter(photo=OuterRef("pk")), workers)
            )
        )
        .filter(has_live_grant=False)
        .order_by("uploaded_at")[:REGRANT_BATCH]
    )
    count = sum(
        _regrant(photo, keyring=keyring, workers=workers, states=waiting) for photo in stale
    )
    if count:
        log.info("user %s: re-granted %d photo(s) to %d worker(s)", user.pk, count, len(workers))
    _requeue_forgotten(user=user, workers=workers)
    _requeue_interrupted(user=user, workers=workers)
    photos_refresh(user=user, keyring=keyring, workers=workers)
    for photo in live_photos.live_motions_unchecked(user=user, limit=REGRANT_BATCH):
        _regrant(photo, keyring=keyring, workers=workers, states=[Photo.State.READY])
    visits.owner_visited(user=user, keyring=keyring, workers=workers)
    return count


def _out_of_date() -> Q | None:
    """Ready photos that a usable active model has not seen yet (tagger, face models); None
    when no model is usable, so nothing can be brought up to date."""
    conditions = []
    for field, (model_id, _problem) in seen_by.active_models().items():
        if model_id is not None:
            conditions.append(seen_by.not_seen(field, model_id))
    if not conditions:
        return None
    combined = conditions[0]
    for condition in conditions[1:]:
        combined |= condition
    return combined


def photos_refresh(*, user, keyring: Keyring, workers: dict[str, bytes]) -> int:
    """Bring the owner's ready photos up to date with the pipeline: those not tagged by the
    active tagger, or not looked at by the active face models (processed before the step
    existed, by an older model, or while no model was usable), are granted to the live workers
    for a `photo_update` job, a batch per visit. A grant older than REQUEUE_AFTER counts as
    lost (its job too) and is replaced. Returns how many photos were granted."""
    out_of_date = _out_of_date()
    if out_of_date is None or not workers:
        return 0
    # The model status's counts are cached per library change: at rest this skips the scan of
    # every ready photo below.
    status = model_status(user=user)
    if not (status.to_update or status.faces_to_update):
        return 0
    recent = live_grants(ProcessingGrant.objects.all(), workers).filter(
        created_at__gte=timezone.now() - REQUEUE_AFTER
    )
    stale = (
        Photo.objects.filter(out_of_date, owner=user, state=Photo.State.READY)
        .annotate(has_live_grant=Exists(recent.filter(photo=OuterRef("pk"))))
        .filter(has_live_grant=False)
        .order_by("-shown_at")[:REGRANT_BATCH]
    )
    count = 0
    for photo in stale:
        try:
            data_key = blobs.original_data_key(photo, private_key=keyring.private_key)
        except (OSError, DecryptionError):
            log.warning("photo %s: its original does not open; not brought up to date", photo.id)
            _give_up_unreadable(photo)
            continue
        with transaction.atomic():
            # Checked again under a row lock: deleted in another tab, updated, or granted by
            # another request since the query above.
            locked = (
                Photo.objects.select_for_update()
                .filter(out_of_date, pk=photo.pk, state=Photo.State.READY)
                .first()
            )
            if locked is None or recent.filter(photo=locked).exists():
                continue
            if photo_grants_issue(
                photo=locked, data_key=data_key, metadata_key=keyring.metadata_key, workers=workers
            ):
                enqueue_on_commit(Job.PHOTO_UPDATE, str(locked.id))
                count += 1
    if count:
        log.info("user %s: %d photo(s) granted to be brought up to date", user.pk, count)
    return count


def _give_up_unreadable(photo: Photo) -> None:
    """Its original does not open: remember it failed for the active models, so that it is not
    granted again and again."""
    changes = {}
    for field, (model_id, _problem) in seen_by.active_models().items():
        if model_id is not None and getattr(photo, field) != model_id:
            changes[field] = seen_by.failed(model_id)
    Photo.objects.filter(pk=photo.pk).update(**changes)


def _requeue_forgotten(*, user, workers: dict[str, bytes]) -> int:
    """A photo still pending or processing long after it was granted to a live worker may
    have lost its job (the queue restarted without persistence, or RQ killed a hung job): enqueue
    it again. A duplicate job is harmless: it finds the photo ready, or locked by the job
    already on it, and returns."""
    now = timezone.now()
    waiting = live_grants(
        ProcessingGrant.objects.filter(
            photo__owner=user,
            photo__state__in=[Photo.State.PENDING, Photo.State.PROCESSING],
            created_at__lt=now - REQUEUE_AFTER,
        ),
        workers,
    )
    photo_ids = set(waiting.values_list("photo_id", flat=True)[:REGRANT_BATCH])
    if not photo_ids:
        return 0
    # Restart the clock, so that a long queue is nudged every REQUEUE_AFTER at most.
    ProcessingGrant.objects.filter(photo_id__in=photo_ids).update(created_at=now)
    for photo_id in photo_ids:
        enqueue_on_commit(Job.PHOTO_PROCESS, str(photo_id))
    log.info("user %s: enqueued %d long-waiting photo(s) again", user.pk, len(photo_ids))
    return len(photo_ids)


def _requeue_interrupted(*, user, workers: dict[str, bytes]) -> int:
    """A photo left *processing* by a worker that died (killed, its host gone) lost its job
    with it, while the grants the live workers hold keep it out of the re-grant batch: without
    this it would wait REQUEUE_AFTER. A job holds the photo's advisory lock for as long as the
    photo is processing, and a dead worker's database session (and lock) ends with it, so a
    processing photo whose lock is free has no job: set it pending and enqueue it again now.
    Returns how many were enqueued."""
    interrupted = (
        Photo.objects.filter(owner=user, state=Photo.State.PROCESSING)
        .annotate(
            has_live_grant=Exists(
                live_grants(ProcessingGrant.objects.filter(photo=OuterRef("pk")), workers)
            )
        )
        .filter(has_live_grant=True)
        .values_list("pk", flat=True)[:REGRANT_BATCH]
    )
    count = 0
    for photo_id in interrupted:
        key = pipeline_state.photo_lock_key(photo_id)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            if not cursor.fetchone()[0]:
                continue  # a job is on it
            try:
                # Checked again under the lock: its job may have finished it meanwhile.
                moved = Photo.objects.filter(pk=photo_id, state=Photo.State.PROCESSING).update(
                    state=Photo.State.PENDING, progress=0
                )
            finally:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        if moved:
            enqueue_on_commit(Job.PHOTO_PROCESS, str(photo_id))
            count += 1
    if count:
        log.info("user %s: enqueued %d interrupted photo(s) again", user.pk, count)
    return count


def photo_retry(*, photo: Photo, keyring: Keyring) -> RetryOutcome:
    """The retry button of a failed photo."""
    # The owner asks for another go: the count of interrupted runs starts afresh.
    Photo.objects.filter(pk=photo.pk, state=Photo.State.FAILED).update(attempts=0)
    workers = live_workers()
    if not workers:
        Photo.objects.filter(pk=photo.pk, state=Photo.State.FAILED).update(
            state=Photo.State.PENDING, progress=0, failure_reason=""
        )
        return RetryOutcome.NO_WORKER
    if _regrant(photo, keyring=keyring, workers=workers, states=[Photo.State.FAILED]):
        return RetryOutcome.QUEUED
    return RetryOutcome.FAILED
