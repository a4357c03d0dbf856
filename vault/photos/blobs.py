"""Writing and opening a photo's blobs: the one place that pairs a Blob row with its SPV1
object in the blob store."""

from __future__ import annotations

from vault.crypto import container
from vault.photos import storage
from vault.photos.models import Blob, Photo


def blob_write(
    *,
    photo: Photo,
    variant: str,
    data: bytes,
    data_key: bytes,
    owner_public_key: bytes,
    media_type: str,
    index: int = 0,
    width: int | None = None,
    height: int | None = None,
) -> Blob:
    """Encrypt `data` as the photo's (variant, index) blob, replacing any earlier one, so that a
    job run twice leaves exactly one object and one row."""
    with container.BlobWriter(
        storage.blob_writer(photo.owner_id, photo.id, variant, index),
        owner_public_key=owner_public_key,
        context=storage.blob_context(photo.owner_id, photo.id, variant, index),
        data_key=data_key,
    ) as writer:
        writer.write(data)
    blob, _ = Blob.objects.update_or_create(
        photo=photo,
        variant=variant,
        index=index,
        defaults={"media_type": media_type, "size": len(data), "width": width, "height": height},
    )
    return blob


def blob_open(
    blob: Blob, *, private_key: bytes | None = None, data_key: bytes | None = None
) -> container.BlobReader:
    """Open and authenticate the blob (DecryptionError, or OSError (BlobMissing) if it is
    missing); reads then fetch and decrypt only the chunks a range needs."""
    photo = blob.photo
    return container.BlobReader(
        storage.blob_reader(photo.owner_id, photo.id, blob.variant, blob.index),
        context=storage.blob_context(photo.owner_id, photo.id, blob.variant, blob.index),
        private_key=private_key,
        data_key=data_key,
    )


def original_data_key(photo: Photo, *, private_key: bytes) -> bytes:
    """The photo's data key, unwrapped from its original's owner stanza."""
    with container.BlobReader(
        storage.blob_reader(photo.owner_id, photo.id, "original"),
        context=storage.blob_context(photo.owner_id, photo.id, "original"),
        private_key=private_key,
    ) as reader:
        return reader.data_key
