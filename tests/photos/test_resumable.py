"""Resumable uploads (tus core protocol, issue 21): a video goes up in pieces, a piece cut off
in the middle keeps what arrived, the client resumes from the offset the server reports, and
the assembled original is byte for byte what was sent, with no part left behind and nothing in
clear on disk meanwhile."""

from __future__ import annotations

import base64
import io

import pytest
from django.urls import reverse

from tests.photos import videos
from tests.photos.conftest import run_jobs
from tests.users import PASSWORD
from vault.accounts.keyring import Keyring
from vault.accounts.services import keys_unlock_with_password
from vault.photos import resumable, storage
from vault.photos.models import Photo, ResumableUpload
from vault.photos.resumable import CHUNK

pytestmark = pytest.mark.django_db

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def _create(client, length: int, name: str = "long-walk.mp4") -> str:
    meta = "filename " + base64.b64encode(name.encode()).decode()
    response = client.post(
        reverse("photos:resumable_create"),
        HTTP_UPLOAD_LENGTH=str(length),
        HTTP_UPLOAD_METADATA=meta,
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


class _CutOff(io.RawIOBase):
    """A request body whose connection breaks after `keep` bytes."""

    def __init__(self, data: bytes, keep: int) -> None:
        self._data, self._keep, self._pos = data, keep, 0

    def read(self, size: int = -1) -> bytes:
        if self._pos >= self._keep:
            raise OSError("connection reset by peer")
        piece = self._data[self._pos : min(self._pos + size, self._keep)]
        self._pos += len(piece)
        return piece


def test_a_dropped_upload_resumes_and_the_original_is_byte_identical(
    owner_client, owner, worker_key, data_dir
):
    data = videos.clip(seconds=3.0, size=(1280, 720))
    assert len(data) > 5 * CHUNK
    # A piece that ends mid-chunk keeps its whole 64 KiB chunks: the offset says so.
    a, b = 2 * CHUNK, 4 * CHUNK + 1000  # where the first piece ends; where the second breaks off
    url = _create(owner_client, len(data))
    upload = ResumableUpload.objects.get()

    first = _patch(owner_client, url, 0, data[: a + 5])
    assert first.status_code == 204 and first["Upload-Offset"] == str(a)
    # The next request breaks off in the middle of a chunk (server-side: the body stops
    # with an error): the whole chunks before the break are kept.
    offset = resumable.resumable_append(
        upload=upload, keyring=_keyring(owner), offset=a, stream=_CutOff(data[a:], b - a)
    )
    assert offset == 4 * CHUNK
    # Nothing of the unfinished upload is in clear: it is the original's SPV1 blob, under way.
    staged = resumable.staging_path(upload)
    content = staged.read_bytes()
    assert content.startswith(b"\x89SPV")
    assert data[a : a + 32] not in content and data[:16] not in content

    # The client asks where to resume, and a stale offset is refused.
    head = owner_client.head(url, **TUS)
    assert head.status_code == 200 and head["Upload-Offset"] == str(4 * CHUNK)
    assert _patch(owner_client, url, a, data[a:]).status_code == 409

    last = _patch(owner_client, url, 4 * CHUNK, data[4 * CHUNK :])
    assert last.status_code == 204 and last["Upload-Offset"] == str(len(data))
    outcome = owner_client.get(url, **TUS).json()["outcome"]
    assert outcome["status"] == "stored" and "name" not in outcome  # the name stays sealed
    photo = Photo.objects.get(pk=outcome["photo"])
    assert photo.kind == "video" and photo.size == len(data)
    download = owner_client.get(reverse("photos:download", args=[photo.id]))
    assert b"".join(download.streaming_content) == data
    # No stray part, staging or temporary file: only the photo's own blobs remain.
    assert not storage.photo_dir(owner.pk, upload.id).exists()
    assert not staged.exists()
    assert run_jobs() == ["ready"]


def test_a_file_over_the_limit_is_refused_before_any_byte(owner_client, settings):
    settings.VAULT_MAX_VIDEO_BYTES = settings.VAULT_MAX_UPLOAD_BYTES = 10_000
    response = owner_client.post(
        reverse("photos:resumable_create"), HTTP_UPLOAD_LENGTH="20000", **TUS
    )
    assert response.status_code == 413 and "larger than" in response.json()["error"]
    assert not ResumableUpload.objects.exists()


def test_another_user_cannot_see_or_extend_an_upload(owner_client, other_client):
    url = _create(owner_client, 1000)
    assert other_client.head(url, **TUS).status_code == 404
    assert _patch(other_client, url, 0, b"x" * 10).status_code == 404
    assert ResumableUpload.objects.get().offset == 0


def test_a_non_video_sent_in_pieces_is_rejected_with_its_message(owner_client, owner):
    data = b"not a video at all, only text\n" * 100
    url = _create(owner_client, len(data), "fake.mov")
    assert _patch(owner_client, url, 0, data).status_code == 204
    outcome = owner_client.get(url, **TUS).json()["outcome"]
    assert outcome["status"] == "rejected" and "not a photo or video" in outcome["message"].lower()
    assert not Photo.objects.exists()
    upload = ResumableUpload.objects.get()
    assert not storage.photo_dir(owner.pk, upload.id).exists()
    assert not resumable.staging_path(upload).exists()


def test_an_abandoned_upload_is_removed_by_the_next_one(owner_client, owner):
    import datetime as dt

    from django.utils import timezone

    _create(owner_client, 1000)
    old = ResumableUpload.objects.get()
    assert _patch(owner_client, old.get_absolute_url(), 0, b"x" * 100).status_code == 204
    ResumableUpload.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - dt.timedelta(days=8)
    )
    _create(owner_client, 1000)
    assert not ResumableUpload.objects.filter(pk=old.pk).exists()
    assert not storage.photo_dir(owner.pk, old.id).exists()
    assert not resumable.staging_path(old).exists()


def test_pieces_need_the_session_and_the_csrf_token(owner, owner_client):
    from django.test import Client

    url = _create(owner_client, 1000)
    # Signed out: the login page, nothing stored.
    assert _patch(Client(), url, 0, b"x" * 10).status_code == 302
    # Signed in but without the CSRF token (another site's form or script): refused.
    strict = Client(enforce_csrf_checks=True)
    strict.cookies = owner_client.cookies  # the owner's session, without the page's token
    assert _patch(strict, url, 0, b"x" * 10).status_code == 403
    assert ResumableUpload.objects.get().offset == 0
