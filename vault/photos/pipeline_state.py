"""The state changes the worker pipeline makes to a photo: processing, progress, ready, failed.
Called by worker/pipeline.py only."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.utils import timezone

from vault.photos.models import Photo, ProcessingGrant


def photo_lock_key(photo_id: uuid.UUID) -> int:
    """The bigint naming the PostgreSQL advisory lock a job holds on the photo while it
    processes it (worker/pipeline.py photo_lock; scheduling checks it is free)."""
    return int.from_bytes(photo_id.bytes[:8], "big", signed=True)


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
