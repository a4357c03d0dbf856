"""The vault on the S3 store (a real `weed server -s3`) with a real worker process: uploads
(one request and resumable) end ready with thumbnails, a ranged download is the original
byte for byte, deletion removes the objects, only ciphertext reaches SeaweedFS's disk, and an
aborted or killed upload leaves neither an object nor an unfinished multipart upload."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from tests.photos import videos
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.blobstore import get_store
from vault.blobstore.s3 import PART_BYTES
from vault.photos import storage
from vault.photos.models import Blob, Photo
from vaultdev.pytest_plugin import wait_until
from vaultdev.samples.pictures import jpeg, picture
from vaultdev.signin import sign_in

ROOT = Path(__file__).resolve().parent.parent.parent
TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def _with_marker(data: bytes, marker: bytes) -> bytes:
    """The JPEG with a comment segment (COM) holding `marker` right after its SOI."""
    return data[:2] + b"\xff\xfe" + (len(marker) + 2).to_bytes(2, "big") + marker + data[2:]


def _scan(directory: Path, needles: list[bytes]) -> list[str]:
    """Files below `directory` whose bytes contain any of `needles`."""
    found = []
    for path in directory.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            found += [f"{path}: {needle!r}" for needle in needles if needle in content]
    return found


def _resumable_upload(client, name: str, data: bytes, piece: int) -> dict:
    meta = "filename " + base64.b64encode(name.encode()).decode()
    created = client.post(
        reverse("photos:resumable_create"),
        HTTP_UPLOAD_LENGTH=str(len(data)),
        HTTP_UPLOAD_METADATA=meta,
        **TUS,
    )
    assert created.status_code == 201, created.content
    url, offset = created["Location"], 0
    while offset < len(data):  # from the offset the server reports, as a tus client does
        response = client.generic(
            "PATCH",
            url,
            data[offset : offset + piece],
            content_type="application/offset+octet-stream",
            HTTP_UPLOAD_OFFSET=str(offset),
            **TUS,
        )
        assert response.status_code == 204, response.content
        offset = int(response["Upload-Offset"])
    return client.get(url, **TUS).json()["outcome"]


@pytest.mark.django_db(transaction=True)
def test_the_vault_on_s3_with_a_real_worker(owner, s3_blob_store, start_worker, settings, tmp_path):
    settings.VAULT_DATA_DIR = tmp_path / "data"
    store = get_store()
    start_worker()  # gets the S3 settings in its environment
    client = Client()
    sign_in(client, owner, PASSWORD)
    marker = b"PLAINTEXT-MARKER-" + secrets.token_hex(16).encode()
    name = f"holiday-{secrets.token_hex(6)}.jpg"
    data = _with_marker(jpeg(picture(2400, 1800, seed=3)), marker)
    assert len(data) > 3 * 65536  # several SPV1 chunks
    [one] = upload(client, (name, data))
    assert one["status"] == "stored"
    # Resumable (tus), in pieces off the 64 KiB grid (the server keeps whole chunks of each):
    # the original is staged encrypted on local disk and streamed into the store at the end.
    # An HEVC video: the worker reads it through PyAV over ranged GETs and writes an H.264
    # rendition from PyAV's muxer straight into a multipart upload.
    second = videos.clip(codec="libx265", seconds=1.0)
    resumed = _resumable_upload(client, "second.mp4", second, piece=70_000)
    assert resumed["status"] == "stored"

    def ready():
        return set(Photo.objects.values_list("state", flat=True)) == {"ready"}

    wait_until(ready, timeout=240, interval=0.5)
    photo = Photo.objects.get(pk=one["photo"])
    prefix = storage.photo_prefix(owner.pk, photo.id)
    video = Photo.objects.get(pk=resumed["photo"])
    # Every object of the user is a blob row's, named by ids only (no resumable part left
    # behind, no file name); and every row's object is there.
    rows = {
        storage.blob_key(owner.pk, blob.photo_id, blob.variant, blob.index): blob
        for blob in Blob.objects.filter(photo__owner=owner)
    }
    keys = [key for key, _ in store.list(storage.user_prefix(owner.pk))]
    assert sorted(keys) == sorted(rows)
    variants = {(blob.photo_id, blob.variant) for blob in rows.values()}
    assert {"original", "preview", "thumb"} <= {v for p, v in variants if p == photo.id}
    assert {"original", "preview", "thumb", "rendition"} <= {
        v for p, v in variants if p == video.id
    }
    assert not any("part-" in key or "holiday" in key or "second" in key for key in keys)
    assert store.incomplete(storage.user_prefix(owner.pk)) == []
    assert not (tmp_path / "data" / "blobs").exists()  # nothing went to the local directory

    thumb = client.get(reverse("photos:thumb", args=[photo.id]))
    assert thumb.status_code == 200
    assert b"".join(thumb.streaming_content).startswith(b"\xff\xd8")
    url = reverse("photos:download", args=[photo.id])
    for header, expected in [
        ("bytes=0-99", data[:100]),
        ("bytes=70000-200000", data[70000:200001]),  # across 64 KiB chunk boundaries
        ("bytes=-10", data[-10:]),
    ]:
        response = client.get(url, HTTP_RANGE=header)
        assert response.status_code == 206, header
        assert b"".join(response.streaming_content) == expected, header
    whole = client.get(url)
    assert b"".join(whole.streaming_content) == data
    download = client.get(reverse("photos:download", args=[video.id]))
    assert b"".join(download.streaming_content) == second
    # Seeking in the played rendition: a range in the middle, decrypted from its chunks.
    rendition = video.blobs.get(variant="rendition")
    middle = rendition.size // 2
    seek = client.get(
        reverse("photos:play", args=[video.id]), HTTP_RANGE=f"bytes={middle}-{middle + 999}"
    )
    assert seek.status_code == 206
    assert len(b"".join(seek.streaming_content)) == 1000

    # Only ciphertext reached SeaweedFS's disk: neither the marker nor the file's name is
    # there. The scan itself works: a marker stored in clear on purpose is found.
    assert _scan(s3_blob_store.data_dir, [marker, name.encode()]) == []
    control = b"CONTROL-" + secrets.token_hex(16).encode()
    with store.writer(f"{owner.pk}/control/plain-0.spv") as writer:
        writer.write(os.urandom(5000) + control + os.urandom(5000))
        writer.finish()
    assert _scan(s3_blob_store.data_dir, [control])
    store.delete(f"{owner.pk}/control/plain-0.spv")

    trashed = client.post(reverse("photos:delete"), {"photo": [str(photo.id)], "confirm": "yes"})
    assert trashed.status_code == 302
    assert len(list(store.list(prefix))) == 3  # in the trash: still restorable
    gone = client.post(reverse("photos:trash_delete"), {"photo": [str(photo.id)]})
    assert gone.status_code == 302
    assert not Photo.objects.filter(pk=photo.id).exists()
    assert list(store.list(prefix)) == []
    assert [key for key, _ in store.list(storage.user_prefix(owner.pk))] == sorted(
        key for key in rows if not key.startswith(prefix)
    )  # the video's stay


@pytest.mark.django_db
def test_an_upload_refused_midway_leaves_no_object_and_no_unfinished_upload(
    owner, s3_blob_store, settings, redis_conn
):
    settings.VAULT_MAX_UPLOAD_BYTES = 2 * PART_BYTES + 12345  # refused after two full parts
    store = get_store()
    client = Client()
    sign_in(client, owner, PASSWORD)
    big = jpeg(picture(64, 64)) + os.urandom(3 * PART_BYTES)  # a JPEG with a huge tail
    [outcome] = upload(client, ("big.jpg", big))
    assert outcome["status"] != "stored" and "limit" in outcome["message"]
    user = storage.user_prefix(owner.pk)
    assert list(store.list(user)) == []
    assert store.incomplete(user) == []


_KILLED_WRITER = """
import os, sys, django
django.setup()
from vault.photos import storage
writer = storage.blob_writer(int(sys.argv[1]), sys.argv[2], "rendition")
writer.write(os.urandom(3 * 8 * 1024 * 1024))  # two parts uploaded, the third held
print("written", flush=True)
sys.stdin.read()  # killed here
"""


@pytest.mark.django_db
def test_a_writer_killed_midway_leaves_no_object_and_the_retry_clears_its_parts(
    owner, s3_blob_store, settings
):
    from vaultdev.pytest_plugin import blob_store_env

    photo_id = "0b7e1f3c-1111-4222-8333-944455556666"
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(owner.pk), photo_id],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "vault.settings", **blob_store_env(settings)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert process.stdout.readline().strip() == b"written"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    store = get_store()
    prefix = storage.photo_prefix(owner.pk, photo_id)
    assert list(store.list(prefix)) == []  # never committed: nothing to read
    assert len(store.incomplete(prefix)) == 1  # its parts are on the server, unreachable
    # What the pipeline runs before it retries a photo:
    assert storage.remove_stale_temporaries(owner.pk, photo_id) == 1
    assert store.incomplete(prefix) == []


@pytest.mark.django_db
def test_a_failing_store_refuses_the_upload_with_a_message_not_an_error_page(
    owner, s3_blob_store, settings, redis_conn
):
    # The server answers and refuses every request (credentials rotated under the vault).
    settings.VAULT_S3_SECRET_KEY = "rotated-" + secrets.token_hex(8)
    client = Client()
    sign_in(client, owner, PASSWORD)
    small = jpeg(picture(64, 64, seed=5))  # fails when committed
    big = jpeg(picture(64, 64, seed=6)) + os.urandom(2 * PART_BYTES)  # fails mid-stream
    outcomes = upload(client, ("small.jpg", small), ("big.jpg", big))
    assert [o["status"] for o in outcomes] == ["rejected", "rejected"]
    assert all("could not store" in o["message"] for o in outcomes)
    assert not Photo.objects.exists()
