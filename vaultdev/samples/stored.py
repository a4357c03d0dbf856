"""A ready photo written straight into the vault (its sealed name and SPV1 blobs), without the
upload page or the worker: for tests and benches that need many photos fast."""

from __future__ import annotations

import os


def ready_photo_write(
    owner,
    keyring,
    name: str,
    original: bytes,
    size: tuple[int, int],
    *,
    thumb: bytes | None = None,
    thumb_size: tuple[int, int] | None = None,
    shown_at=None,
):
    """A READY JPEG photo of `owner` named `name` (sealed under the keyring's metadata key),
    with `original` and, when given, `thumb` as SPV1 blobs under one new data key wrapped to the
    owner's public key. `size` is the original's (width, height) in pixels. Returns the Photo."""
    from vault.crypto import container, seal
    from vault.photos import blobs
    from vault.photos.models import Photo
    from vault.photos.sealing import name_aad

    photo = Photo(
        owner=owner,
        state=Photo.State.READY,
        media_type="image/jpeg",
        size=len(original),
        width=size[0],
        height=size[1],
        content_mac=os.urandom(32),
    )
    if shown_at is not None:
        photo.shown_at = shown_at
    photo.name_sealed = seal.seal(keyring.metadata_key, name.encode(), name_aad(photo.id))
    photo.save()
    data_key = container.new_data_key()
    variants = [("original", original, size)]
    if thumb is not None:
        variants.append(("thumb", thumb, thumb_size))
    for variant, plain, dimensions in variants:
        width, height = dimensions or (None, None)
        blobs.blob_write(
            photo=photo,
            variant=variant,
            data=plain,
            data_key=data_key,
            owner_public_key=keyring.public_key,
            media_type="image/jpeg",
            width=width,
            height=height,
        )
    return photo
