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

from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.blobstore import get_store
from vault.blobstore.s3 import PART_BYTES
from vault.photos import storage
from vault.photos.models import Photo
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
    url = created["Location"]
    for offset in range(0, len(data), piece):
        response = client.generic(
            "PATCH",
            url,
            data[offset : offset + piece],
            content_type="application/offset+octet-stream",
            HTTP_UPLOAD_OFFSET=str(offset),
            **TUS,
        )
        assert response.status_code == 204, response.content
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
    # Resumable (tus), in pieces: the parts are encrypted objects too, removed once assembled.
    second = _with_marker(jpeg(picture(1200, 900, seed=4)), marker)
    resumed = _resumable_upload(client, "second.jpg", second, piece=40_000)
    assert resumed["status"] == "stored"

    def ready():
        return set(Photo.objects.values_list("state", flat=True)) == {"ready"}

    wait_until(ready, timeout=240, interval=0.5)
    photo = Photo.objects.get(pk=one["photo"])
    prefix = storage.photo_prefix(owner.pk, photo.id)
    assert [key for key, _ in store.list(prefix)] == [
        prefix + "original-0.spv",
        prefix + "preview-0.spv",
        prefix + "thumb-0.spv",
    ]
    # Every object of the user: ids only, and no resumable part left behind.
    keys = [key for key, _ in store.list(storage.user_prefix(owner.pk))]
    assert len(keys) == 6 and not any("part-" in key or "holiday" in key for key in keys)
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
    resumed_photo = Photo.objects.get(pk=resumed["photo"])
    download = client.get(reverse("photos:download", args=[resumed_photo.id]))
    assert b"".join(download.streaming_content) == second

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
    assert len(list(store.list(storage.user_prefix(owner.pk)))) == 3  # the other photo's


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
