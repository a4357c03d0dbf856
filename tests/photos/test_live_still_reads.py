"""The still half of a Live Photo is searched for its content identifier by reading its Exif
only (vault/photos/live_identifiers.py still_content_identifier_at): each read decrypts SPV1
chunks in the upload request, and a JPEG or HEIC of megabytes must not be decrypted whole a
second time. Crafted stills (endless segments, an Exif item claiming gigabytes) cost a few
small reads."""

from __future__ import annotations

import struct
import uuid

import pytest

from vault.photos.live_identifiers import (
    HEIC_EXIF_LIMIT,
    STILL_SEGMENTS,
    still_content_identifier_at,
)
from vaultdev.samples.live_photos import live_still

CHUNK = 64 * 1024  # SPV1's plaintext chunk: what one read decrypts at least


class Counted:
    """`read(start, end)` over `data`, counting the reads and the SPV1 chunks they touch."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.reads = 0
        self.chunks: set[int] = set()
        self.bytes = 0

    def __call__(self, start: int, end: int) -> bytes:
        self.reads += 1
        self.bytes += max(0, end - start)
        self.chunks.update(range(start // CHUNK, (max(start, end - 1)) // CHUNK + 1))
        return self.data[start:end]


@pytest.mark.parametrize("heic", [False, True], ids=["jpeg", "heic"])
def test_a_big_still_is_read_only_where_its_exif_is(heic):
    cid = str(uuid.uuid4()).upper()
    size = (1024, 768) if heic else (2400, 1800)  # x265 is slow: a smaller HEIC
    still = live_still(cid, heic=heic, size=size)
    assert len(still) > 4 * CHUNK  # hundreds of KiB to megabytes of picture
    read = Counted(still)
    assert still_content_identifier_at(read, len(still)) == cid
    assert read.bytes < CHUNK and len(read.chunks) <= 2 and read.reads <= 8
    # A still without the MakerNote costs as little, and finds nothing.
    plain = live_still(None, heic=heic, size=size)
    read = Counted(plain)
    assert still_content_identifier_at(read, len(plain)) is None
    assert read.bytes < CHUNK and len(read.chunks) <= 2


def test_a_jpeg_of_endless_segments_costs_a_few_reads():
    cid = str(uuid.uuid4())
    still = live_still(cid)
    comment = b"\xff\xfe\x00\x04ab"  # a COM segment, 6 bytes
    crafted = still[:2] + comment * 50_000 + still[2:]
    read = Counted(crafted)
    assert still_content_identifier_at(read, len(crafted)) is None
    assert read.reads <= STILL_SEGMENTS + 1
    # Not a JPEG nor a HEIC: one small read.
    read = Counted(b"GIF89a" + bytes(CHUNK * 4))
    assert still_content_identifier_at(read, len(read.data)) is None and read.reads == 1


def test_a_heic_whose_exif_item_claims_gigabytes_is_not_read():
    cid = str(uuid.uuid4())
    still = bytearray(live_still(cid, heic=True))
    read = Counted(bytes(still))
    assert still_content_identifier_at(read, len(still)) == cid
    # The Exif item's extent was the last read: make the iloc say it is 2 GiB long.
    exif_start, exif_end = _last_read(bytes(still))
    at = still.find(struct.pack(">I", exif_end - exif_start), still.find(b"iloc"))
    assert at > 0
    still[at : at + 4] = struct.pack(">I", 2**31)
    read = Counted(bytes(still))
    assert still_content_identifier_at(read, len(still)) is None
    assert read.bytes < HEIC_EXIF_LIMIT


def _last_read(data: bytes) -> tuple[int, int]:
    seen = []

    def read(start: int, end: int) -> bytes:
        seen.append((start, end))
        return data[start:end]

    still_content_identifier_at(read, len(data))
    return seen[-1]


@pytest.mark.django_db
def test_an_uploaded_still_is_searched_without_decrypting_its_picture(
    owner, owner_client, settings
):
    """Through the upload path and the real SPV1 blob: each still's last chunk is made
    undecryptable after it is stored, and its identifier is still looked for without an
    error, since only the first chunk (the Exif) is decrypted. Most stills have no Live
    identifier: reading until one is found used to decrypt all of them a second time."""
    from tests.people.faces_support import keyring_of
    from tests.photos.test_live_photos import _send
    from tests.users import PASSWORD
    from vault.photos import live_photos, storage
    from vault.photos.models import Photo

    if settings.VAULT_BLOB_STORE != "local":
        pytest.skip("damages the blob's file in the local store")
    keyring = keyring_of(owner, PASSWORD)
    cid = str(uuid.uuid4()).upper()
    for name, identifier, seed in (("IMG_6001.JPG", None, 1), ("IMG_6002.JPG", cid, 2)):
        [outcome] = _send(
            owner_client, (name, live_still(identifier, size=(2400, 1800), seed=seed))
        )
        photo = Photo.objects.get(pk=outcome["photo"])
        path = storage.blob_path(owner.pk, photo.id, "original")
        blob = bytearray(path.read_bytes())
        assert len(blob) > 4 * CHUNK
        blob[-20] ^= 0xFF  # inside the last chunk's ciphertext
        path.write_bytes(bytes(blob))
        assert live_photos._content_identifier(photo, keyring) == identifier
