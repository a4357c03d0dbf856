"""Writing and opening a photo's blobs: the one place that pairs a Blob row with its SPV1
object in the blob store."""

from __future__ import annotations

from django.db import transaction

from vault.crypto import container
from vault.photos import storage
from vault.photos.models import Blob, Photo


class PhotoGone(Exception):
    """The photo was deleted (by its owner, or joined to a Live item) while a job wrote one of
    its blobs: the object just written has been removed again, and no row was kept."""


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
    return blob_record(
        photo=photo,
        variant=variant,
        index=index,
        media_type=media_type,
        size=len(data),
        width=width,
        height=height,
    )


def blob_record(
    *,
    photo: Photo,
    variant: str,
    media_type: str,
    size: int,
    index: int = 0,
    width: int | None = None,
    height: int | None = None,
) -> Blob:
    """The row of a blob whose object has just been written (size in plaintext bytes). When
    the photo is gone meanwhile, the object is removed by its key and PhotoGone raised: the
    deletion's own clean-up (storage.remove_photo_blobs, after its commit) may have listed
    the photo's objects before this one was there, so the writer removes what it wrote.
    The photo's row is locked (FOR NO KEY UPDATE, which a deletion's FOR UPDATE waits for)
    while the row is written: a deletion either comes after it (and removes the object with
    the photo's others) or before it (and this removes it)."""
    with transaction.atomic():
        alive = Photo.objects.select_for_update(no_key=True).filter(pk=photo.pk).values_list("pk")
        if alive.exists():
            blob, _ = Blob.objects.update_or_create(
                photo=photo,
                variant=variant,
                index=index,
                defaults={"media_type": media_type, "size": size, "width": width, "height": height},
            )
            return blob
    storage.blob_delete(photo.owner_id, photo.id, variant, index)
    raise PhotoGone(f"photo {photo.id} was deleted while its {variant} blob was written")


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
