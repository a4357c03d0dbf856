"""Upload handlers. The encrypting one streams each uploaded file straight into an SPV1 blob,
so no plaintext temporary file is ever written (Django's default handler spills uploads over
2.5 MB to /tmp). The discarding one is the site-wide default: no other page takes files.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass, field

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler

from vault.crypto import container, keys
from vault.photos import storage
from vault.photos.sniff import Identified, ImageSniffer, Rejected

log = logging.getLogger(__name__)


class DiscardUploadHandler(FileUploadHandler):
    """Drops file data everywhere except the upload view (which installs its own handler)."""

    def receive_data_chunk(self, raw_data, start):
        return None

    def file_complete(self, file_size):
        return None


@dataclass
class IncomingFile:
    """One file of an upload request, as it streamed through the encryptor."""

    name: str = field(repr=False)  # the original filename is private: sealed once stored
    photo_id: uuid.UUID = field(default_factory=uuid.uuid4)
    size: int = 0
    rejection: str | None = None
    identified: Identified | None = None
    content_mac: bytes | None = field(default=None, repr=False)
    writer: container.BlobWriter | None = field(default=None, repr=False)

    @property
    def accepted(self) -> bool:
        return self.rejection is None and self.writer is not None and self.identified is not None


def _size_limit(sniffer: ImageSniffer) -> int:
    """Bytes allowed for the file being received: a video's limit (VAULT_MAX_VIDEO_BYTES) once
    its first bytes say it is one, else a photo's."""
    if sniffer.is_video:
        return settings.VAULT_MAX_VIDEO_BYTES
    return settings.VAULT_MAX_UPLOAD_BYTES


def _size_label(limit: int) -> str:
    if limit >= 1024**3:
        return f"{limit / 1024**3:g} GB"
    return f"{limit / (1024 * 1024):g} MB"


class EncryptingUploadHandler(FileUploadHandler):
    """Encrypts every file of the request to the owner's public key as it arrives.

    Each file gets a fresh photo id and data key, and is written by a BlobWriter straight into
    the blob store (ciphertext only): a temporary file beside its final place in the local
    store, a multipart upload of 8 MiB parts in an S3 store; it appears only when complete.
    Nothing is committed here: the view, once it has checked the request, either commits the
    accepted files (`vault.photos.services.photos_store_uploads`) or calls `discard()`.
    Files that are not photos are turned away with a message and their bytes dropped.
    """

    chunk_size = 256 * 1024

    def __init__(self, request, *, user_id: int, public_key: bytes, metadata_key: bytes):
        super().__init__(request)
        self.user_id = user_id
        self.public_key = public_key
        self.metadata_key = metadata_key
        self.files: list[IncomingFile] = []
        self._current: IncomingFile | None = None
        self._sniffer: ImageSniffer | None = None
        self._mac = None
        self.data_keys: dict[uuid.UUID, bytes] = {}

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        incoming = IncomingFile(name=file_name, photo_id=self._new_photo_id())
        self.files.append(incoming)
        self._current = incoming
        self._sniffer = ImageSniffer(max_pixels=settings.VAULT_MAX_PIXELS)
        self._mac = self._content_mac()
        data_key = self._new_data_key()
        self.data_keys[incoming.photo_id] = data_key
        incoming.writer = self._open_writer(incoming.photo_id, data_key)

    # Resumable uploads (vault/photos/resumable.py) override these three: their original is
    # already encrypted, under its own photo id and data key, when the checks run.
    def _new_photo_id(self) -> uuid.UUID:
        return uuid.uuid4()

    def _new_data_key(self) -> bytes:
        return container.new_data_key()

    def _content_mac(self):
        return hmac.new(keys.content_mac_key(self.metadata_key), digestmod=hashlib.sha256)

    def _open_writer(self, photo_id: uuid.UUID, data_key: bytes) -> container.BlobWriter:
        # bench/ingest.py overrides these two to measure the same path without encryption.
        return container.BlobWriter(
            storage.blob_writer(self.user_id, photo_id, "original"),
            owner_public_key=self.public_key,
            context=storage.blob_context(self.user_id, photo_id, "original"),
            data_key=data_key,
        )

    def _reject(self, incoming: IncomingFile, message: str) -> None:
        incoming.rejection = message
        self._drop_writer(incoming)

    def _drop_writer(self, incoming: IncomingFile) -> None:
        if incoming.writer is not None:
            incoming.writer.abort()
            incoming.writer = None
        self.data_keys.pop(incoming.photo_id, None)
        storage.remove_photo_blobs(self.user_id, incoming.photo_id)

    def receive_data_chunk(self, raw_data, start):
        incoming = self._current
        if incoming is None or incoming.rejection is not None:
            return None  # swallow the rest of a rejected file
        incoming.size += len(raw_data)
        try:
            self._sniffer.feed(raw_data)
        except Rejected as error:
            self._reject(incoming, str(error))
            return None
        limit = _size_limit(self._sniffer)
        if incoming.size > limit:
            self._reject(incoming, f"This file is larger than the {_size_label(limit)} limit.")
            return None
        self._mac.update(raw_data)
        try:
            incoming.writer.write(raw_data)
        except OSError:  # the disk or the object store failed: this file is lost, not the page
            log.exception("could not store an upload of user %s", self.user_id)
            self._reject(incoming, "The server could not store this file; nothing was kept.")
        return None

    def file_complete(self, file_size):
        incoming = self._current
        self._current = None
        if incoming is None or incoming.rejection is not None:
            return None
        try:
            incoming.identified = self._sniffer.finish()
        except Rejected as error:
            self._reject(incoming, str(error))
            return None
        incoming.content_mac = self._mac.digest()
        return None

    def upload_interrupted(self):
        self.discard()

    def discard(self) -> None:
        """Throw away every file not yet committed (a refused or broken request)."""
        for incoming in self.files:
            if incoming.writer is not None:
                self._drop_writer(incoming)
