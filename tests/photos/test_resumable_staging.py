"""Resumable uploads encrypt straight into the original's SPV1 blob (vault/crypto/staged.py):
attacks on the chunk grid. A chunk index must never be encrypted twice under one key with
different plaintext (AES-GCM nonce reuse): not by a client resending other bytes at a
committed offset, not after a crash between writing chunks and committing the offset."""

from __future__ import annotations

import base64

import pytest
from django.urls import reverse

from tests.photos import videos
from tests.users import PASSWORD
from vault.accounts.keyring import Keyring
from vault.accounts.services import keys_unlock_with_password
from vault.crypto import _layout as L
from vault.crypto.staged import StagedAppender
from vault.photos import resumable, storage
from vault.photos.models import Photo, ResumableUpload
from vault.photos.resumable import CHUNK, RESTARTED

pytestmark = pytest.mark.django_db

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


@pytest.fixture
def clip():
    data = videos.clip(seconds=3.0, size=(1280, 720))
    assert len(data) > 5 * CHUNK
    return data


def _create(client, length: int) -> str:
    response = client.post(
        reverse("photos:resumable_create"),
        HTTP_UPLOAD_LENGTH=str(length),
        HTTP_UPLOAD_METADATA="filename " + base64.b64encode(b"walk.mp4").decode(),
        **TUS,
    )
    assert response.status_code == 201, response.content
    return response["Location"]


def _patch(client, url: str, offset: int, data: bytes):
    return client.generic(
        "PATCH",
        url,
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=str(offset),
        **TUS,
    )


def _keyring(owner) -> Keyring:
    unlocked = keys_unlock_with_password(owner, PASSWORD)
    return Keyring(user_id=owner.pk, umk=unlocked.umk, private_key=unlocked.private_key)


def _stored_original(owner_client, url: str) -> bytes:
    outcome = owner_client.get(url, **TUS).json()["outcome"]
    assert outcome["status"] == "stored", outcome
    photo = Photo.objects.get(pk=outcome["photo"])
    download = owner_client.get(reverse("photos:download", args=[photo.id]))
    return b"".join(download.streaming_content)


def _crashed_request(owner, upload: ResumableUpload, plaintext: bytes) -> None:
    """What a request killed after writing (and even fsyncing) its chunks, but before its
    offset committed, leaves: ciphertext past the committed chunks, the row unchanged."""
    with StagedAppender(
        resumable.staging_path(upload),
        context=storage.blob_context(owner.pk, upload.photo_id, "original"),
        private_key=_keyring(owner).private_key,
        committed=upload.offset // CHUNK,
    ) as appender:
        appender.append(plaintext)
        appender.sync()


def test_a_resent_different_piece_at_a_committed_offset_is_refused(owner_client, clip):
    url = _create(owner_client, len(clip))
    assert _patch(owner_client, url, 0, clip[: 2 * CHUNK])["Upload-Offset"] == str(2 * CHUNK)
    upload = ResumableUpload.objects.get()
    before = resumable.staging_path(upload).read_bytes()
    other = bytes(b ^ 0xFF for b in clip[: 2 * CHUNK])
    for offset in (0, CHUNK):  # other bytes where chunks are committed: never encrypted
        response = _patch(owner_client, url, offset, other[offset:])
        assert response.status_code == 409
        assert "offset does not match" in response.json()["error"]
    assert resumable.staging_path(upload).read_bytes() == before
    assert _patch(owner_client, url, 2 * CHUNK, clip[2 * CHUNK :]).status_code == 204
    assert _stored_original(owner_client, url) == clip


def test_a_crash_between_chunk_write_and_offset_commit_then_the_same_bytes_again(
    owner, owner_client, clip
):
    url = _create(owner_client, len(clip))
    assert _patch(owner_client, url, 0, clip[:CHUNK]).status_code == 204
    upload = ResumableUpload.objects.get()
    _crashed_request(owner, upload, clip[CHUNK : 3 * CHUNK])
    assert owner_client.head(url, **TUS)["Upload-Offset"] == str(CHUNK)  # not committed
    # The client resends from the committed offset: the same bytes encrypt to exactly what
    # the crashed request left, so nothing is encrypted twice with different plaintext.
    assert _patch(owner_client, url, CHUNK, clip[CHUNK:])["Upload-Offset"] == str(len(clip))
    assert _stored_original(owner_client, url) == clip


def test_a_crash_then_different_bytes_restart_the_upload_under_a_fresh_key(
    owner, owner_client, clip
):
    url = _create(owner_client, len(clip))
    assert _patch(owner_client, url, 0, clip[:CHUNK]).status_code == 204
    upload = ResumableUpload.objects.get()
    staged = resumable.staging_path(upload)
    # The crashed request carried other bytes for chunks 1 and 2 than the client now sends.
    _crashed_request(owner, upload, bytes(2 * CHUNK))
    old_header = L.parse_header(staged.read_bytes()[: L.HEADER.size])
    left = staged.read_bytes()

    response = _patch(owner_client, url, CHUNK, clip[CHUNK:])
    assert response.status_code == 409 and response.json()["error"] == RESTARTED
    assert owner_client.head(url, **TUS)["Upload-Offset"] == "0"
    # The file under the old key is gone, untouched past what the crash left (chunk 1 was
    # not encrypted again with the client's bytes), and not reused.
    assert not staged.exists() or staged.read_bytes() == left
    assert _patch(owner_client, url, 0, clip).status_code == 204
    assert _stored_original(owner_client, url) == clip
    assert not staged.exists()
    photo = Photo.objects.get()
    with storage.blob_reader(owner.pk, photo.id, "original") as reader:
        new_header = L.parse_header(reader.read_at(0, L.HEADER.size))
    assert (new_header.salt, new_header.blob_id) != (old_header.salt, old_header.blob_id)


def test_a_piece_too_short_for_a_whole_chunk_keeps_nothing_and_says_so(owner_client, clip):
    url = _create(owner_client, len(clip))
    response = _patch(owner_client, url, 0, clip[: CHUNK - 1])
    assert response.status_code == 204 and response["Upload-Offset"] == "0"
    assert _patch(owner_client, url, 0, clip).status_code == 204
    assert _stored_original(owner_client, url) == clip


def test_an_upload_begun_in_parts_before_staging_starts_again(owner, owner_client, clip):
    url = _create(owner_client, len(clip))
    ResumableUpload.objects.update(photo_id=None, parts=2, offset=2 * CHUNK)  # the old format
    response = _patch(owner_client, url, 2 * CHUNK, clip[2 * CHUNK :])
    assert response.status_code == 409 and response.json()["error"] == RESTARTED
    assert owner_client.head(url, **TUS)["Upload-Offset"] == "0"
    assert _patch(owner_client, url, 0, clip).status_code == 204
    assert _stored_original(owner_client, url) == clip


def test_deleting_the_account_removes_an_unfinished_uploads_staged_original(
    owner, owner_client, clip
):
    from vault.accounts.services import account_delete

    url = _create(owner_client, len(clip))
    assert _patch(owner_client, url, 0, clip[: 2 * CHUNK]).status_code == 204
    staged = resumable.staging_path(ResumableUpload.objects.get())
    assert staged.exists()
    account_delete(user=owner)
    assert not staged.exists()
