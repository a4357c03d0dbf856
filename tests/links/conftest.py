"""Fixtures of the link tests: the album tests' owner and album, over three photos written
directly as an upload and the worker would leave them (an original and a thumbnail, encrypted
to the owner), without running the pipeline, so that these tests stay fast."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from tests.albums.conftest import (  # noqa: F401 - fixtures, re-exported for this package
    album,
    data_dir,
    keyring_for,
    member,
    other_client,
    owner_client,
)
from tests.users import PASSWORD


def _jpeg(seed: int, size) -> bytes:
    out = io.BytesIO()
    Image.effect_noise(size, 40 + seed).convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


def write_photo(owner, ring, name: str, *, size=(640, 480)):
    """A ready photo of the owner's with an original and a 256 px thumbnail, both SPV1."""
    from vault.crypto import container, seal
    from vault.photos import blobs
    from vault.photos.models import Photo
    from vault.photos.sealing import name_aad

    data = _jpeg(len(name), size)
    photo = Photo(
        owner=owner,
        state=Photo.State.READY,
        media_type="image/jpeg",
        size=len(data),
        width=size[0],
        height=size[1],
        content_mac=os.urandom(32),
    )
    photo.name_sealed = seal.seal(ring.metadata_key, name.encode(), name_aad(photo.id))
    photo.save()
    dk = container.new_data_key()
    thumb = _jpeg(len(name) + 1, (256, 192))
    for variant, plain in (("original", data), ("thumb", thumb)):
        blobs.blob_write(
            photo=photo,
            variant=variant,
            data=plain,
            data_key=dk,
            owner_public_key=ring.public_key,
            media_type="image/jpeg",
        )
    return photo


@pytest.fixture
def owner_photos(owner, data_dir):  # noqa: F811 - data_dir is the fixture imported above
    ring = keyring_for(owner, PASSWORD)
    return [write_photo(owner, ring, n) for n in ("beach.jpg", "lake.jpg", "private.jpg")]
