"""Resumable uploads (DESIGN §12): the server side of the tus protocol's core (tus.io, v1.0.0:
creation, HEAD for the offset, PATCH to append), for files too big to go up in one request.

The pieces are encrypted as they arrive straight into the future original's SPV1 blob, a
staging file on local disk (vault/crypto/staged.py: ciphertext and the data key wrapped to
the owner's public key only; nothing in clear, no key kept unwrapped), in whole 64 KiB chunks:
a request cut off in the middle keeps its whole chunks, so the client resumes from the offset
HEAD reports (a multiple of 64 KiB). When the last byte is in, the owner's signed-in request
decrypts the staged original once for the checks of a one-request upload (sniffing, size
limits, content MAC for the duplicate check, grant) and moves it into the blob store. How
AES-GCM nonces are kept from repeating (committed chunks are never encrypted again; a failed
request's tail is only ever rewritten with identical bytes, else the upload starts again under
a fresh key) is in vault/crypto/staged.py.
"""

from __future__ import annotations

import datetime as dt
import errno
import logging
import os
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from vault.blobstore import get_store
from vault.blobstore.local import LocalStore, _fsync_dir
from vault.crypto import container, seal
from vault.crypto import staged as container_staged
from vault.crypto.errors import DecryptionError
from vault.photos import live_photos, services, storage
from vault.photos.models import ResumableUpload
from vault.photos.upload_handler import EncryptingUploadHandler, _size_label

log = logging.getLogger(__name__)

READ_PIECE = 256 * 1024  # what one read of the request body takes (the upload handler's chunk)
CHUNK = container.CHUNK  # pieces are kept on the SPV1 chunk grid (64 KiB)
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
        photo_id=uuid.uuid4(),
        owner=user,
        length=length,
        name_sealed=seal.seal(
            keyring.metadata_key, name[: services.NAME_LIMIT].encode(), _name_aad(upload_id)
        ),
        batch_sealed=seal.seal(
            keyring.metadata_key, live_photos.batch_id(batch).encode(), _batch_aad(upload_id)
        ),
    )


def staging_path(upload: ResumableUpload) -> Path:
    """Where the upload's original is built (ciphertext only, local disk, beside the store's
    directory so that a local store takes it by a rename)."""
    return Path(settings.VAULT_DATA_DIR) / "uploads" / str(upload.owner_id) / f"{upload.id}.spv"


def _original_context(upload: ResumableUpload):
    return storage.blob_context(upload.owner_id, upload.photo_id, "original")


def resumable_append(*, upload: ResumableUpload, keyring, offset: int, stream) -> int:
    """Append the request body `stream` at `offset` to `upload` (see resumable_receive);
    returns the new offset and updates `upload` in place."""
    locked = resumable_receive(
        owner=upload.owner_id, upload_id=upload.pk, keyring=keyring, offset=offset, stream=stream
    )
    assert locked is not None  # the caller holds the row
    upload.offset, upload.photo_id = locked.offset, locked.photo_id
    return locked.offset


def _restart(upload: ResumableUpload) -> bool:
    """Throw away what an upload holds; it starts again from 0 under a fresh data key (the
    next piece at offset 0 makes a new staged original: new data key, salt and blob id)."""
    staging_path(upload).unlink(missing_ok=True)
    storage.remove_photo_blobs(upload.owner_id, upload.id)  # parts of the earlier format
    upload.offset, upload.parts = 0, 0
    upload.photo_id = upload.photo_id or uuid.uuid4()
    upload.save(update_fields=["offset", "parts", "photo_id"])
    return True


def _read_chunks(stream, want: int, appender: container_staged.StagedAppender) -> int:
    """Feed at most `want` bytes of `stream` to `appender` in whole chunks; returns the bytes
    appended. A body that breaks off (or ends) mid-chunk keeps only its whole chunks."""
    buffer = bytearray()
    appended = 0
    rest = appender.plaintext_length - appender.done  # to the end of the file
    while appended + len(buffer) < want:
        try:
            piece = stream.read(min(READ_PIECE, want - appended - len(buffer)))
        except OSError:  # the connection broke: keep the whole chunks that arrived
            log.info("resumable upload: body cut off after %d bytes", appended + len(buffer))
            break
        if not piece:
            break
        buffer += piece
        whole = len(buffer) - len(buffer) % CHUNK
        if len(buffer) == rest - appended:
            whole = len(buffer)  # the exact end of the file, the last chunk included
        if whole:
            with memoryview(buffer) as view:  # released before the buffer shrinks
                appender.append(view[:whole])
            del buffer[:whole]
            appended += whole
    return appended


def resumable_receive(*, owner, upload_id, keyring, offset: int, stream) -> ResumableUpload | None:
    """One PATCH: lock `owner`'s upload `upload_id` (None if there is none), check that it is
    not finished (409) and that `offset` equals the bytes stored (409), encrypt the body
    `stream` into the upload's original as whole 64 KiB chunks (vault/crypto/staged.py: the
    data key is kept only wrapped to the owner's public key, in the file, and unwrapped with
    the `keyring` for this request), and return the row as updated. Bytes past the declared
    length are not read; a body that breaks off keeps its whole chunks, so an offset reported
    mid-file is a multiple of 64 KiB (tus lets the server keep less than was sent).

    Two queries (the locking SELECT, then one UPDATE if any chunk came) inside BEGIN/COMMIT;
    the row lock keeps two requests at one offset apart. One fsync: the chunks are durable
    before the UPDATE commits, so an offset once reported never points past what a crash
    leaves on disk (the file's directory entry was fsynced when it was created); the commit
    itself does not wait for the WAL flush (see below).
    """
    restarted = False
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The offset's commit need not wait for PostgreSQL's WAL flush (a second fsync
            # per piece): the chunks are fsynced first, and an offset a crash takes back is
            # the case the staged file already handles (a tail past the committed chunks:
            # the client resends from the older offset, the same bytes match what is there).
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
        upload = (
            ResumableUpload.objects.select_for_update().filter(owner=owner, pk=upload_id).first()
        )
        if upload is None:
            return None
        if upload.outcome is not None:
            raise UploadRefused("This upload is finished.", 409)
        if upload.photo_id is None or upload.parts:  # begun before the original was staged
            restarted = _restart(upload)
        elif offset != upload.offset:
            raise UploadRefused("The upload offset does not match the bytes stored.", 409)
        else:
            restarted = _append(upload, keyring, stream)
    if restarted:  # committed above: the client starts again from 0
        raise UploadRefused(RESTARTED, 409)
    return upload


def _append(upload: ResumableUpload, keyring, stream) -> bool:
    """The body into the staged original, the offset advanced (row locked by the caller);
    True if the upload had to start again instead."""
    path = staging_path(upload)
    context = _original_context(upload)
    if upload.offset == 0:  # a fresh key for every start: no index of an earlier key is reused
        container_staged.staged_create(
            path,
            length=upload.length,
            owner_public_key=keyring.public_key,
            context=context,
            data_key=container.new_data_key(),
        )
    try:
        appender = container_staged.StagedAppender(
            path, context=context, private_key=keyring.private_key, committed=upload.offset // CHUNK
        )
    except (OSError, DecryptionError):
        log.warning("resumable upload %s: its staged original is unreadable", upload.id)
        return _restart(upload)
    if appender.plaintext_length != upload.length:  # not this upload's file
        appender.close()
        return _restart(upload)
    with appender:
        try:
            received = _read_chunks(stream, upload.length - upload.offset, appender)
        except container_staged.TailMismatch:
            log.warning("resumable upload %s: other bytes than a failed request left", upload.id)
            return _restart(upload)
        if received == 0:
            return False
        appender.sync()
    upload.offset += received
    upload.save(update_fields=["offset"])
    return False


RESTARTED = (
    "The server lost the end of this upload and starts it again from the beginning: "
    "send from offset 0."
)


class _Request:
    """What the encrypting handler needs of a request (it is driven here, not by Django)."""

    def __init__(self, request) -> None:
        self.META = request.META


class _StagedOriginal:
    """The handler's "writer" for an original already encrypted in the staging file: the
    plaintext it is given is dropped (it was read back from the ciphertext), close() moves the
    staged blob into the blob store."""

    def __init__(self, upload: ResumableUpload) -> None:
        self._upload = upload

    def write(self, data) -> int:
        return len(data)

    def close(self) -> None:
        upload = self._upload
        key = storage.blob_key(upload.owner_id, upload.photo_id, "original")
        store = get_store()
        source = staging_path(upload)
        if isinstance(store, LocalStore):  # a rename within VAULT_DATA_DIR: no second write
            target = store.path(key)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                os.replace(source, target)
                _fsync_dir(target.parent)
                return
            except OSError as error:
                if error.errno != errno.EXDEV:
                    raise
        with store.writer(key) as writer, open(source, "rb") as staged:
            while piece := staged.read(8 * 1024 * 1024):
                writer.write(piece)
            writer.finish()
        source.unlink(missing_ok=True)

    def abort(self) -> None:
        return None  # the staging file goes with the upload's parts (resumable_parts_delete)


class _StagedHandler(EncryptingUploadHandler):
    """The upload handler's checks (sniffing, size limits, content MAC) over the plaintext
    read back from the staged original, without encrypting it again."""

    def __init__(self, request, *, user_id, keyring, upload: ResumableUpload, data_key: bytes):
        super().__init__(
            request,
            user_id=user_id,
            public_key=keyring.public_key,
            metadata_key=keyring.metadata_key,
        )
        self._upload = upload
        self._staged_key = data_key

    def _new_photo_id(self) -> uuid.UUID:
        return self._upload.photo_id

    def _new_data_key(self) -> bytes:
        return self._staged_key

    def _open_writer(self, photo_id, data_key):
        return _StagedOriginal(self._upload)


def resumable_finish(*, request, upload: ResumableUpload) -> dict:
    """Turn a complete upload into a photo or video (as a one-request upload would be
    stored): one decrypting pass over the staged original for the sniffing, the size limits
    and the content MAC (duplicate check), then the original moves into the blob store.
    Returns the outcome (UploadOutcome.as_dict())."""
    user, keyring = request.user, request.keyring
    name = seal.open(keyring.metadata_key, bytes(upload.name_sealed), _name_aad(upload.id))
    path = staging_path(upload)
    with container.BlobReader(
        path, context=_original_context(upload), private_key=keyring.private_key
    ) as reader:
        handler = _StagedHandler(
            _Request(request), user_id=user.pk, keyring=keyring, upload=upload,
            data_key=reader.data_key,
        )  # fmt: skip
        handler.new_file("photos", name.decode(), "application/octet-stream", upload.length)
        try:
            position = 0
            for piece in reader.iter_plaintext():
                handler.receive_data_chunk(piece, position)
                position += len(piece)
            handler.file_complete(position)
        except BaseException:
            handler.discard()
            raise
    try:
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
    resumable_parts_delete(upload)
    return result


def resumable_delete(upload: ResumableUpload) -> None:
    """Abandon an upload: its staged original and its row go."""
    resumable_parts_delete(upload)
    upload.delete()


def resumable_parts_delete(upload: ResumableUpload) -> None:
    """Drop an upload's staged original (and parts of the earlier format), keeping its row
    (and the outcome the page fetches)."""
    staging_path(upload).unlink(missing_ok=True)
    storage.remove_photo_blobs(upload.owner_id, upload.id)
