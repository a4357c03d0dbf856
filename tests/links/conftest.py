"""Fixtures of the link tests: the album tests' owner and album, over three photos written
directly as an upload and the worker would leave them (an original and a thumbnail, encrypted
to the owner), without running the pipeline, so that these tests stay fast."""

from __future__ import annotations

import io

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
    from vaultdev.samples.stored import ready_photo_write

    thumb = _jpeg(len(name) + 1, (256, 192))
    return ready_photo_write(owner, ring, name, _jpeg(len(name), size), size, thumb=thumb)


@pytest.fixture
def owner_photos(owner, data_dir):  # noqa: F811 - data_dir is the fixture imported above
    ring = keyring_for(owner, PASSWORD)
    return [write_photo(owner, ring, n) for n in ("beach.jpg", "lake.jpg", "private.jpg")]
