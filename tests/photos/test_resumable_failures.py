"""A resumable upload whose pieces all arrived but cannot be put together (its staged original
damaged on disk) ends with a message for the page, not a server error and an upload that
stays "complete" with no outcome for the page to show (issue 21 review)."""

from __future__ import annotations

import base64

import pytest
from django.urls import reverse

from tests.photos import videos
from vault.photos import resumable, storage
from vault.photos.models import Photo, ResumableUpload
from vault.photos.views.resumable import NOT_ASSEMBLED

pytestmark = pytest.mark.django_db

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def _patch(client, url: str, offset: int, data: bytes):
    return client.generic(
        "PATCH",
        url,
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
        **TUS,
    )


def test_pieces_that_cannot_be_put_together_end_the_upload_with_a_message(
    owner, owner_client, data_dir
):
    data = videos.clip(seconds=3.0, size=(1280, 720))
    created = owner_client.post(
        reverse("photos:resumable_create"),
        HTTP_UPLOAD_LENGTH=str(len(data)),
        HTTP_UPLOAD_METADATA="filename " + base64.b64encode(b"walk.mp4").decode(),
        **TUS,
    )
    url, half = created["Location"], resumable.CHUNK
    assert _patch(owner_client, url, 0, data[:half]).status_code == 204
    upload = ResumableUpload.objects.get()
    staged = resumable.staging_path(upload)
    with staged.open("r+b") as damaged:  # one byte of the first chunk flipped on disk
        damaged.seek(64 + 96 + 32 + 10)
        byte = damaged.read(1)
        damaged.seek(64 + 96 + 32 + 10)
        damaged.write(bytes([byte[0] ^ 1]))
    owner_client.raise_request_exception = False
    last = _patch(owner_client, url, half, data[half:])
    assert last.status_code == 204 and last["Upload-Offset"] == str(len(data))
    state = owner_client.get(url, **TUS).json()
    assert state["outcome"] == {"status": "rejected", "message": NOT_ASSEMBLED, "photo": None}
    assert not Photo.objects.exists()
    assert not storage.photo_dir(owner.pk, upload.id).exists()  # nothing left behind
    assert not staged.exists()
    # The same file chosen again goes up as a new upload and is stored.
    again = owner_client.post(
        reverse("photos:resumable_create"),
        HTTP_UPLOAD_LENGTH=str(len(data)),
        HTTP_UPLOAD_METADATA="filename " + base64.b64encode(b"walk.mp4").decode(),
        **TUS,
    )
    assert _patch(owner_client, again["Location"], 0, data).status_code == 204
    assert owner_client.get(again["Location"], **TUS).json()["outcome"]["status"] == "stored"


@pytest.mark.parametrize("value", ["²", "1²", "¹0"])
def test_a_number_header_that_is_not_ascii_digits_is_refused_not_a_server_error(
    owner_client, value
):
    # Headers arrive as Latin-1: "²" (0xB2) is a digit to str.isdigit() but not to int().
    owner_client.raise_request_exception = False
    created = owner_client.post(reverse("photos:resumable_create"), HTTP_UPLOAD_LENGTH=value, **TUS)
    assert created.status_code == 400
    assert created.json() == {"error": "Upload-Length is missing or not a number."}
    created = owner_client.post(reverse("photos:resumable_create"), HTTP_UPLOAD_LENGTH="9", **TUS)
    patched = _patch(owner_client, created["Location"], 0, b"x")
    assert patched.status_code == 204
    patched = owner_client.generic(
        "PATCH",
        created["Location"],
        b"y",
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=value,
        **TUS,
    )
    assert patched.status_code == 400
    assert patched.json() == {"error": "Upload-Offset is missing or not a number."}


def test_a_file_over_a_limit_below_a_gigabyte_is_refused_in_megabytes(owner_client, settings):
    settings.VAULT_MAX_VIDEO_BYTES = 500 * 1024 * 1024
    settings.VAULT_MAX_UPLOAD_BYTES = 200 * 1024 * 1024
    response = owner_client.post(
        reverse("photos:resumable_create"), HTTP_UPLOAD_LENGTH=str(600 * 1024 * 1024), **TUS
    )
    assert response.status_code == 413
    assert response.json() == {"error": "This file is larger than the 500 MB limit."}
