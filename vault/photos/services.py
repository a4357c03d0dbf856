"""Services that change photos: storing uploads and deleting. Granting work to the workers is
in `scheduling`, the state changes the pipeline makes in `pipeline_state`, tags in `tagging`."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.dispatch import Signal

from vault.accounts.keyring import Keyring
from vault.crypto import seal
from vault.photos import live_photos, storage
from vault.photos.models import Blob, Photo
from vault.photos.scheduling import photo_grant
from vault.photos.sealing import name_aad
from vault.photos.upload_handler import EncryptingUploadHandler, IncomingFile
from vault.processing.grants.base import live_workers

log = logging.getLogger(__name__)

NAME_LIMIT = 255

# photos_stored.send(sender=Photo, user=..., keyring=..., photo_ids=[...]) after an upload
# committed new photos, in the uploader's signed-in request.
photos_stored = Signal()


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


def _store_one(*, user, keyring: Keyring, incoming: IncomingFile, data_key: bytes, workers):
    name = incoming.name[:NAME_LIMIT]
    existing = (
        Photo.objects.filter(owner=user, content_mac=incoming.content_mac)
        .values_list("id", flat=True)
        .first()
    )
    if existing is None:  # the video of a Live item, uploaded again
        existing = live_photos.live_item_with_motion(user=user, content_mac=incoming.content_mac)
    writer, incoming.writer = incoming.writer, None
    if existing is not None:
        writer.abort()
        storage.remove_photo_blobs(user.pk, incoming.photo_id)
        return UploadOutcome(name, "duplicate", "Already in your vault.", str(existing))
    identified = incoming.identified
    try:
        writer.close()
    except OSError:
        log.exception("could not store an upload of user %s", user.pk)
        storage.remove_photo_blobs(user.pk, incoming.photo_id)
        return UploadOutcome(
            name, "rejected", "The server could not store this file; nothing was kept."
        )
    try:
        with transaction.atomic():
            photo = Photo.objects.create(
                id=incoming.photo_id,
                owner=user,
                kind=Photo.Kind.VIDEO if identified.is_video else Photo.Kind.PHOTO,
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
            photo_grant(photo, data_key=data_key, keyring=keyring, workers=workers)
    except IntegrityError:
        # The same photo arrived twice at once (two tabs, or twice in one batch).
        storage.remove_photo_blobs(user.pk, incoming.photo_id)
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
        storage.remove_photo_blobs(user.pk, incoming.photo_id)
        raise
    log.info("user %s stored photo %s (%d bytes)", user.pk, photo.id, photo.size)
    return UploadOutcome(name, "stored", "Stored, encrypted.", str(photo.id))


def photos_store_uploads(
    *, user, keyring: Keyring, handler: EncryptingUploadHandler, batch: str | None = None
) -> list[UploadOutcome]:
    """Commit the files the encrypting handler accepted; report every file of the request.
    `batch` is the upload batch the files belong to (live_photos.batch_id: a still and its MOV
    in one batch become one Live item)."""
    batch = live_photos.batch_id(batch)
    outcomes = []
    halves: list[UploadOutcome] = []
    workers = live_workers()
    for incoming in handler.files:
        name = incoming.name[:NAME_LIMIT]
        if incoming.rejection is not None:
            outcomes.append(UploadOutcome(name, "rejected", incoming.rejection))
        elif not incoming.accepted:
            outcomes.append(UploadOutcome(name, "rejected", "The upload was interrupted."))
        else:
            data_key = handler.data_keys.pop(incoming.photo_id)
            outcome = _store_one(
                user=user, keyring=keyring, incoming=incoming, data_key=data_key, workers=workers
            )
            outcomes.append(outcome)
            if outcome.status == "stored" and live_photos.live_candidate_record(
                keyring=keyring,
                photo=Photo.objects.get(pk=outcome.photo_id),
                name=incoming.name,
                batch=batch,
            ):
                halves.append(outcome)
    handler.discard()  # whatever was not committed above
    paired = set()
    for outcome in halves:  # after all are recorded: both halves may be in this request
        try:
            live = live_photos.live_pair(user=user, keyring=keyring, photo_id=outcome.photo_id)
        except Exception:  # both halves are stored: they stay two items
            log.exception("user %s: a Live Photo pair could not be joined", user.pk)
            continue
        if live is not None:
            paired.add(str(live.id))
    moved = live_photos.live_merged_into(user=user, photo_ids=[o.photo_id for o in halves])
    # The new items of this request: a Live Photo's video is part of its still's item now.
    stored = [o.photo_id for o in outcomes if o.status == "stored" and o.photo_id not in moved]
    for outcome in halves:
        if outcome.photo_id in moved:  # the video: the page follows its Live item instead
            outcome.photo_id, outcome.message = moved[outcome.photo_id], LIVE_VIDEO
        elif outcome.photo_id in paired:
            outcome.message = LIVE_STILL
    if stored:  # other apps (partner sharing) seal the new photos while the keys are at hand
        photos_stored.send(sender=Photo, user=user, keyring=keyring, photo_ids=stored)
    return outcomes


LIVE_STILL = "Stored, encrypted: a Live Photo, with its video."
LIVE_VIDEO = "Stored, encrypted: the video of a Live Photo, kept with its photo."


def photos_delete(*, user, photo_ids: list[uuid.UUID]) -> int:
    """Delete the owner's photos with every blob and row. The caller has checked ownership."""
    with transaction.atomic():
        photos = list(
            Photo.objects.select_for_update().filter(owner=user, id__in=photo_ids).only("id")
        )
        Photo.objects.filter(owner=user, id__in=[p.id for p in photos]).delete()
        for photo in photos:
            transaction.on_commit(lambda pid=photo.id: storage.remove_photo_blobs(user.pk, pid))
    log.info("user %s deleted %d photo(s)", user.pk, len(photos))
    return len(photos)
