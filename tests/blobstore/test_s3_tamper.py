"""Attack tests: someone with write access to the bucket (not to the vault's keys) replaces,
truncates or alters a photo's object. The vault must notice (SPV1 header MAC, AES-GCM chunk
tags, the blob's context binding owner, photo, variant and index) and answer 404 with a warning
in the log naming the photo, never a 500 and never another photo's bytes."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.blobstore import get_store
from vault.photos import storage
from vaultdev.samples.pictures import jpeg, picture
from vaultdev.signin import sign_in

pytestmark = pytest.mark.django_db


def _object(key: str) -> bytes:
    with get_store().reader(key) as reader:
        return reader.read_at(0, reader.size)


def _put(key: str, data: bytes) -> None:
    with get_store().writer(key) as writer:
        writer.write(data)
        writer.finish()


def _tamper_swap(mine: bytes, other: bytes) -> bytes:
    return other  # another photo's genuine object, same owner


def _tamper_truncate(mine: bytes, other: bytes) -> bytes:
    return mine[:-100]


def _tamper_flip(mine: bytes, other: bytes) -> bytes:
    middle = len(mine) // 2
    return mine[:middle] + bytes([mine[middle] ^ 1]) + mine[middle + 1 :]


def _tamper_empty(mine: bytes, other: bytes) -> bytes:
    return b""


@pytest.mark.parametrize(
    "tamper",
    [_tamper_swap, _tamper_truncate, _tamper_flip, _tamper_empty],
    ids=lambda tamper: tamper.__name__,
)
def test_an_object_altered_in_the_bucket_is_refused_not_served(
    owner, s3_blob_store, redis_conn, tamper, caplog
):
    client = Client()
    sign_in(client, owner, PASSWORD)
    mine_jpeg, other_jpeg = jpeg(picture(64, 64, seed=1)), jpeg(picture(64, 64, seed=2))
    mine, other = upload(client, ("mine.jpg", mine_jpeg), ("other.jpg", other_jpeg))
    key = storage.blob_key(owner.pk, mine["photo"], "original")
    other_key = storage.blob_key(owner.pk, other["photo"], "original")
    download = reverse("photos:download", args=[mine["photo"]])
    assert b"".join(client.get(download).streaming_content) == mine_jpeg

    _put(key, tamper(_object(key), _object(other_key)))

    for headers in ({}, {"HTTP_RANGE": "bytes=0-0"}, {"HTTP_RANGE": f"bytes=-{1}"}):
        response = client.get(download, **headers)
        assert response.status_code == 404, (headers, response.status_code)
        assert mine_jpeg[:64] not in response.content and other_jpeg[:64] not in response.content
    # The operator's log says which photo and why.
    assert f"photo {mine['photo']}: original blob" in caplog.text
    # The other photo is untouched.
    other_url = reverse("photos:download", args=[other["photo"]])
    assert b"".join(client.get(other_url).streaming_content) == other_jpeg
