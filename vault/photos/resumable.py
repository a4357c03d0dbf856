"""Resumable uploads (DESIGN §12): the server side of the tus protocol's core (tus.io, v1.0.0:
creation, HEAD for the offset, PATCH to append), for files too big to go up in one request.

Each PATCH request's bytes are encrypted as they arrive into one SPV1 "part" blob under a
fresh data key wrapped (HPKE) to the owner's public key: an unfinished upload keeps nothing in
clear on disk and no key unwrapped anywhere. A request cut off in the middle keeps what
arrived (the part is closed there), so the client resumes from the offset HEAD reports. When
the last byte is in, the owner's signed-in request decrypts the parts in order and streams
them through the same encrypting upload handler as a one-request upload (sniffing, size
limits, duplicate check, grant), then deletes the parts.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from vault.crypto import container, seal
from vault.photos import live_photos, services, storage
from vault.photos.models import ResumableUpload
from vault.photos.upload_handler import EncryptingUploadHandler, _size_label

log = logging.getLogger(__name__)

READ_PIECE = 256 * 1024  # what one read of the request body takes (the upload handler's chunk)
PART = "part"
# An upload not finished (or its outcome not fetched) this long after it began is abandoned:
# the owner's next new upload removes its parts and row.
ABANDONED_AFTER = dt.timedelta(days=7)


class UploadRefused(Exception):
    """The request cannot be taken; `status` is the HTTP status, str(error) the message."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _name_aad(upload_id) -> bytes:
    return seal.row_aad("photos_resumableupload", str(upload_id), "name")


def _batch_aad(upload_id) -> bytes:
    return seal.row_aad("photos_resumableupload", str(upload_id), "batch")


def resumable_create(
    *, user, keyring, length: int, name: str, batch: str | None = None
) -> ResumableUpload:
    """A new upload of `length` bytes, of the page's upload `batch` (Live Photo pairing);
    UploadRefused (413) over the largest file allowed."""
    largest = max(settings.VAULT_MAX_VIDEO_BYTES, settings.VAULT_MAX_UPLOAD_BYTES)
    if length > largest:
        raise UploadRefused(f"This file is larger than the {_size_label(largest)} limit.", 413)
    if length < 1:
        raise UploadRefused("The file is empty.")
    for stale in ResumableUpload.objects.filter(
        owner=user, created_at__lt=timezone.now() - ABANDONED_AFTER
    ):
        resumable_delete(stale)
    upload_id = uuid.uuid4()
    return ResumableUpload.objects.create(
        id=upload_id,
        owner=user,
        length=length,
        name_sealed=seal.seal(
            keyring.metadata_key, name[: services.NAME_LIMIT].encode(), _name_aad(upload_id)
        ),
        batch_sealed=seal.seal(
            keyring.metadata_key, live_photos.batch_id(batch).encode(), _batch_aad(upload_id)
        ),
    )


def _part_writer(upload: ResumableUpload, index: int, public_key: bytes) -> container.BlobWriter:
    return container.BlobWriter(
        storage.blob_writer(upload.owner_id, upload.id, PART, index),
        owner_public_key=public_key,
        context=storage.blob_context(upload.owner_id, upload.id, PART, index),
        data_key=container.new_data_key(),
    )


def resumable_append(*, upload: ResumableUpload, public_key: bytes, offset: int, stream) -> int:
    """Append the request body `stream` at `offset` (must equal the bytes stored: else 409) as
    one part encrypted to the owner's `public_key`; returns the new offset. Bytes past the
    declared length are not read. A body that breaks off keeps what arrived."""
    locked = resumable_receive(
        owner=upload.owner_id, upload_id=upload.pk, public_key=public_key, offset=offset,
        stream=stream,
    )  # fmt: skip
    assert locked is not None  # the caller holds the row
    upload.offset, upload.parts = locked.offset, locked.parts
    return locked.offset


def resumable_receive(
    *, owner, upload_id, public_key: bytes, offset: int, stream
) -> ResumableUpload | None:
    """One PATCH: lock `owner`'s upload `upload_id` (None if there is none), check that it is
    not finished (409) and that `offset` equals the bytes stored (409), append the body
    `stream` as one part encrypted to `public_key`, and return the row as updated (offset,
    parts). Bytes past the declared length are not read; a body that breaks off keeps what
    arrived. Two queries (the locking SELECT, then one UPDATE if any byte came) inside
    BEGIN/COMMIT: the row lock keeps two requests at one offset from writing the same
    part. The part is durable (its file and its directory entry fsynced by the store's
    writer) before the UPDATE commits, so an offset once reported never points past what a
    crash leaves on disk."""
    with transaction.atomic():
        upload = (
            ResumableUpload.objects.select_for_update().filter(owner=owner, pk=upload_id).first()
        )
        if upload is None:
            return None
        if upload.outcome is not None:
            raise UploadRefused("This upload is finished.", 409)
        if offset != upload.offset:
            raise UploadRefused("The upload offset does not match the bytes stored.", 409)
        index = upload.parts
        writer = _part_writer(upload, index, public_key)
        received = 0
        try:
            while received < upload.length - offset:
                piece = stream.read(min(READ_PIECE, upload.length - offset - received))
                if not piece:
                    break
                writer.write(piece)
                received += len(piece)
        except OSError:  # the connection broke: keep what arrived
            log.info("resumable upload %s: body cut off after %d bytes", upload.id, received)
        if received == 0:
            writer.abort()
            return upload
        writer.close()
        upload.offset += received
        upload.parts += 1
        upload.save(update_fields=["offset", "parts"])
    return upload


class _Request:
    """What the encrypting handler needs of a request (it is driven here, not by Django)."""

    def __init__(self, request) -> None:
        self.META = request.META


def resumable_finish(*, request, upload: ResumableUpload) -> dict:
    """Assemble a complete upload into a photo or video (as a one-request upload would be
    stored) and delete its parts; returns the outcome (UploadOutcome.as_dict())."""
    user, keyring = request.user, request.keyring
    name = seal.open(keyring.metadata_key, bytes(upload.name_sealed), _name_aad(upload.id))
    handler = EncryptingUploadHandler(
        _Request(request),
        user_id=user.pk,
        public_key=keyring.public_key,
        metadata_key=keyring.metadata_key,
    )
    handler.new_file("photos", name.decode(), "application/octet-stream", upload.length)
    position = 0
    try:
        for index in range(upload.parts):
            with container.BlobReader(
                storage.blob_reader(user.pk, upload.id, PART, index),
                context=storage.blob_context(user.pk, upload.id, PART, index),
                private_key=keyring.private_key,
            ) as reader:
                for piece in reader.iter_plaintext():
                    handler.receive_data_chunk(piece, position)
                    position += len(piece)
        handler.file_complete(position)
        batch = None
        if upload.batch_sealed is not None:
            batch = seal.open(
                keyring.metadata_key, bytes(upload.batch_sealed), _batch_aad(upload.id)
            ).decode()
        [outcome] = services.photos_store_uploads(
            user=user, keyring=keyring, handler=handler, batch=batch
        )
    finally:
        handler.discard()
    # The row keeps what the page needs, not the file's name (which is private: sealed).
    result = {key: value for key, value in outcome.as_dict().items() if key != "name"}
    upload.outcome = result
    upload.save(update_fields=["outcome"])
    storage.remove_photo_blobs(user.pk, upload.id)
    return result


def resumable_delete(upload: ResumableUpload) -> None:
    """Abandon an upload: its parts and its row go."""
    storage.remove_photo_blobs(upload.owner_id, upload.id)
    upload.delete()


def resumable_parts_delete(upload: ResumableUpload) -> None:
    """Drop an upload's parts, keeping its row (and the outcome the page fetches)."""
    storage.remove_photo_blobs(upload.owner_id, upload.id)
