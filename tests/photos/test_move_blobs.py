"""`manage.py vault_move_blobs`: a vault with photos in its local directory is switched to a real
SeaweedFS object store (writes there, reads of blobs not yet moved from the directory), keeps
serving and taking photos, and is moved, half first then the rest; afterwards every photo
decrypts from the object store alone, byte for byte, and the local copies go only on request."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from tests.objectstore import s3_bucket, s3_env, s3_settings  # noqa: F401 - a fixture
from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.accounts.models import UserKeys
from vault.accounts.services import keys_unlock_with_password
from vault.blobstore.local import LocalStore
from vault.crypto import BlobContext, container, keys
from vault.photos import blobs
from vault.photos.models import Blob, Photo
from vault.photos.services import photos_delete
from vaultdev.pytest_plugin import ROOT, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

VARIANTS = ("thumb", "preview", "download")


def _pictures(client, photos) -> dict[tuple[str, str], bytes]:
    found = {}
    for photo in photos:
        for variant in VARIANTS:
            response = client.get(reverse(f"photos:{variant}", args=[photo.id]))
            assert response.status_code == 200, (variant, photo.id, response.status_code)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            found[(str(photo.id), variant)] = body
    return found


def _move(*args: str) -> str:
    out = io.StringIO()
    call_command("vault_move_blobs", *args, stdout=out)
    return out.getvalue()


def _local_files(directory: Path) -> set[str]:
    return {
        path.relative_to(directory).as_posix()
        for path in directory.rglob("*.spv")
        if not path.name.startswith(".")
    }


def test_a_running_vault_moves_to_the_object_store_half_then_the_rest(
    owner_client,
    owner,
    worker_key,
    data_dir,
    settings,
    s3_bucket,  # noqa: F811
    seaweed,
):
    upload(
        owner_client,
        ("a.jpg", support.jpeg()),
        ("b.png", support.png()),
        ("c.jpg", support.real_photo_jpeg("astronaut.png")),
    )
    assert run_jobs() == ["ready"] * 3
    before_switch = list(Photo.objects.order_by("uploaded_at"))
    pictures = _pictures(owner_client, before_switch)
    local_dir = Path(data_dir) / "blobs"
    on_disk = _local_files(local_dir)
    assert len(on_disk) == Blob.objects.count() >= 9

    # The switch: writes go to the object store, the directory is read for the rest.
    s3_settings(settings, s3_bucket, seaweed, fallback_dir=local_dir)
    assert _pictures(owner_client, before_switch) == pictures  # served from the directory
    upload(
        owner_client, ("d.png", support.real_photo("coffee.png"))
    )  # a photo taken while the move is pending
    assert run_jobs() == ["ready"]
    [newcomer] = Photo.objects.exclude(pk__in=[p.pk for p in before_switch])
    assert _local_files(local_dir) == on_disk, "a blob written after the switch went to disk"
    assert {key for key, _ in s3_bucket.list(f"{owner.pk}/{newcomer.pk}/")}
    deleted = before_switch.pop(1)  # deleted after the switch: gone from both places
    photos_delete(user=owner, photo_ids=[deleted.pk])
    on_disk = {key for key in on_disk if f"/{deleted.pk}/" not in key}
    assert _local_files(local_dir) == on_disk
    pictures = {key: value for key, value in pictures.items() if key[0] != str(deleted.pk)}

    # Interrupted half-way (a run that stops after 3 objects), then run again.
    first = _move("--limit", "3")
    assert "stopped at --limit" in first and "0 already there" in first
    assert sum(1 for _ in s3_bucket.list(f"{owner.pk}/")) == 3 + len(
        list(s3_bucket.list(f"{owner.pk}/{newcomer.pk}/"))
    )
    # A run killed in the middle of a large blob leaves an unfinished multipart upload, never
    # an object: the next run copies that blob whole.
    copied = {key for key, _ in s3_bucket.list(f"{owner.pk}/")}
    unfinished = sorted(on_disk - copied)[0]
    started = s3_bucket.client.create_multipart_upload(Bucket=s3_bucket.bucket, Key=unfinished)
    s3_bucket.client.upload_part(
        Bucket=s3_bucket.bucket,
        Key=unfinished,
        UploadId=started["UploadId"],
        PartNumber=1,
        Body=b"\x89SPV half",
    )
    second = _move()
    assert "ok: " in second and "3 already there" in second
    assert f"{len(on_disk) - 3} copied" in second
    assert "every blob is in the object store" in second
    assert f"{len(on_disk)}/{len(on_disk)} object(s): {len(on_disk) - 3} copied" in second
    assert _local_files(local_dir) == on_disk, "local copies removed without --remove-local"

    # The object store alone (no fallback) serves every photo, byte for byte.
    settings.VAULT_BLOB_FALLBACK_DIR = None
    assert _pictures(owner_client, before_switch) == pictures
    assert _pictures(owner_client, [newcomer])
    assert owner_client.get(reverse("photos:thumb", args=[deleted.pk])).status_code == 404
    assert not list(s3_bucket.list(f"{owner.pk}/{deleted.pk}/")), "a deleted photo came back"
    check = io.StringIO()
    call_command("vault_check", stdout=check)
    assert f"ok: {Blob.objects.count()} blob(s) checked" in check.getvalue()

    # Now, and only now, the local copies go: each verified once more first.
    settings.VAULT_BLOB_FALLBACK_DIR = local_dir
    third = _move("--remove-local")
    assert f"{len(on_disk)} already there" in third
    assert f"{len(on_disk)} local copies removed" in third
    assert _local_files(local_dir) == set()
    settings.VAULT_BLOB_FALLBACK_DIR = None
    assert _pictures(owner_client, before_switch) == pictures


def test_a_blob_rewritten_after_the_switch_is_never_overwritten_by_its_old_copy(
    owner_client,
    owner,
    worker_key,
    data_dir,
    settings,
    s3_bucket,  # noqa: F811
    seaweed,
):
    upload(owner_client, ("a.jpg", support.jpeg()))
    assert run_jobs() == ["ready"]
    [photo] = Photo.objects.all()
    local_dir = Path(data_dir) / "blobs"
    s3_settings(settings, s3_bucket, seaweed, fallback_dir=local_dir)
    # The worker writes the thumbnail again after the switch (a re-run): new bytes, into the
    # object store only; the directory keeps the old thumbnail.
    private_key = keys_unlock_with_password(owner, PASSWORD).private_key
    redone = support.real_photo_jpeg("coffee.png")
    blobs.blob_write(
        photo=photo,
        variant="thumb",
        data=redone,
        data_key=blobs.original_data_key(photo, private_key=private_key),
        owner_public_key=bytes(UserKeys.objects.get(user=owner).public_key),
        media_type="image/jpeg",
    )
    out = _move()
    assert "1 blob(s) had been rewritten in the object store since the switch" in out
    settings.VAULT_BLOB_FALLBACK_DIR = None
    assert _pictures(owner_client, [photo])[(str(photo.id), "thumb")] == redone


def test_the_move_refuses_a_vault_that_was_not_switched_first(owner, settings):
    with pytest.raises(CommandError, match="switch the vault first"):
        _move()


def test_a_stopped_object_store_stops_the_move_with_a_clear_message_and_no_secret(
    owner,
    data_dir,
    settings,
    s3_bucket,  # noqa: F811
    seaweed,
):
    (Path(data_dir) / "blobs").mkdir(parents=True)
    s3_settings(settings, s3_bucket, seaweed, fallback_dir=Path(data_dir) / "blobs")
    settings.VAULT_S3_ENDPOINT = "http://127.0.0.1:9"  # nothing listens on the discard port
    with pytest.raises(CommandError, match="the object store is not usable") as raised:
        _move()
    assert seaweed.secret_key not in str(raised.value)
    assert seaweed.access_key not in str(raised.value)


def test_photos_uploaded_before_the_switch_are_processed_by_a_real_worker_during_the_move(
    owner_client,
    owner,
    data_dir,
    settings,
    s3_bucket,  # noqa: F811
    seaweed,
    start_worker,
):
    originals = {
        "IMG_0001.JPG": support.real_photo_jpeg("astronaut.png"),
        "coffee.png": support.real_photo("coffee.png"),
    }
    rows = upload(owner_client, *originals.items())  # no worker yet: they wait, pending
    ids = {row["photo"]: name for row, name in zip(rows, originals, strict=True)}
    local_dir = Path(data_dir) / "blobs"
    assert len(_local_files(local_dir)) == 2  # the two originals

    s3_settings(settings, s3_bucket, seaweed, fallback_dir=local_dir)
    start_worker()  # the harness passes VAULT_BLOB_FALLBACK_DIR on
    assert "stopped at --limit" in _move("--limit", "1")  # one original moved, one not
    # The owner's visit grants the pending photos to the live worker, which reads one original
    # from the object store and the other from the directory, and writes everything new to
    # the object store.
    owner_client.get(reverse("photos:gallery"))
    wait_until(lambda: Photo.objects.filter(state="ready").count() == 2, timeout=180)
    assert len(_local_files(local_dir)) == 2, "the worker wrote into the old directory"
    out = _move("--remove-local")
    assert "1 copied, 1 already there" in out and "2 local copies removed" in out

    settings.VAULT_BLOB_FALLBACK_DIR = None
    photos = list(Photo.objects.all())
    served = _pictures(owner_client, photos)
    for photo in photos:
        assert served[(str(photo.id), "download")] == originals[ids[str(photo.id)]]
        assert served[(str(photo.id), "thumb")][:2] == b"\xff\xd8"
    assert Blob.objects.count() == sum(1 for _ in s3_bucket.list(f"{owner.pk}/")) >= 6


def test_a_damaged_copy_from_an_earlier_run_is_copied_again_not_taken_for_a_newer_blob(
    owner_client,
    owner,
    worker_key,
    data_dir,
    settings,
    s3_bucket,  # noqa: F811
    seaweed,
):
    original = support.real_photo_jpeg("astronaut.png")
    upload(owner_client, ("IMG_0001.JPG", original))
    assert run_jobs() == ["ready"]
    [photo] = Photo.objects.all()
    local_dir = Path(data_dir) / "blobs"
    s3_settings(settings, s3_bucket, seaweed, fallback_dir=local_dir)
    count = len(_local_files(local_dir))
    assert f"ok: {count} copied" in _move()
    # The object store damages one byte of the original's last chunk (same blob, same header).
    key = f"{owner.pk}/{photo.pk}/original-0.spv"
    with s3_bucket.reader(key) as reader:
        damaged = bytearray(reader.read_at(0, reader.size))
    damaged[-1] ^= 1
    with s3_bucket.writer(key) as writer:
        writer.write(bytes(damaged))
        writer.finish()
    out = _move("--remove-local")
    assert f"ok: 1 copied, {count - 1} already there, 0 newer" in out
    settings.VAULT_BLOB_FALLBACK_DIR = None
    assert _pictures(owner_client, [photo])[(str(photo.id), "download")] == original


@pytest.mark.slow  # two manage.py processes and 600 object writes: ~30 s
def test_a_move_interrupted_with_ctrl_c_resumes_where_it_stopped(
    vault_services,
    owner,
    data_dir,
    settings,
    s3_bucket,  # noqa: F811
    seaweed,
):
    """A real interruption: SIGINT to a `manage.py vault_move_blobs` process in the middle of a
    move of 300 objects (blobs of resumable uploads: objects without Blob rows), then a rerun."""
    local = LocalStore(Path(data_dir) / "blobs")
    public_key = keys.new_keypair()[1]
    written = set()
    for number in range(300):
        upload_id = uuid.uuid4()
        key = f"{owner.pk}/{upload_id}/part-{number}.spv"
        context = BlobContext(str(owner.pk), str(upload_id), "part", number)
        with container.BlobWriter(
            local.writer(key),
            owner_public_key=public_key,
            context=context,
            data_key=container.new_data_key(),
        ) as writer:
            writer.write(os.urandom(2000))
        written.add(key)
    s3_settings(settings, s3_bucket, seaweed, fallback_dir=local.root)
    env = {
        **os.environ,
        **s3_env(s3_bucket, seaweed, VAULT_BLOB_FALLBACK_DIR=str(local.root)),
        "DATABASE_URL": vault_services.database_url(connection.settings_dict["NAME"]),
        "VAULT_DATA_DIR": str(data_dir),
    }
    command = [sys.executable, "manage.py", "vault_move_blobs"]
    first = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    wait_until(lambda: sum(1 for _ in s3_bucket.list("")) >= 20, timeout=120, interval=0.05)
    first.send_signal(signal.SIGINT)
    _, errors = first.communicate(timeout=60)
    assert first.returncode != 0 and "interrupted; run it again to resume" in errors
    moved = {key for key, _ in s3_bucket.list("")}
    assert 20 <= len(moved) < 300, "the move was not interrupted half-way"

    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"{len(moved)} already there" in second.stdout
    assert f"ok: {300 - len(moved)} copied" in second.stdout
    assert {key for key, _ in s3_bucket.list("")} == written
    for key in sorted(written)[:5]:
        with s3_bucket.reader(key) as reader, local.reader(key) as original:
            assert reader.read_at(0, reader.size) == original.read_at(0, original.size)


def test_a_photo_the_worker_is_processing_waits_for_the_next_run(
    vault_services,
    owner_client,
    owner,
    worker_key,
    data_dir,
    settings,
    s3_bucket,  # noqa: F811
    seaweed,
):
    """The mover takes the photo lock the worker holds while it writes a photo's blobs, so it
    never copies a blob the worker is replacing: a busy photo is left for the next run."""
    import psycopg

    upload(owner_client, ("a.jpg", support.jpeg()))
    assert run_jobs() == ["ready"]
    [photo] = Photo.objects.all()
    local_dir = Path(data_dir) / "blobs"
    s3_settings(settings, s3_bucket, seaweed, fallback_dir=local_dir)
    key = int.from_bytes(photo.pk.bytes[:8], "big", signed=True)  # worker.pipeline.photo_lock
    url = vault_services.database_url(connection.settings_dict["NAME"])
    with psycopg.connect(url, autocommit=True) as worker_session:
        worker_session.execute("SELECT pg_advisory_lock(%s)", (key,))
        with pytest.raises(CommandError, match="a worker was processing were not moved"):
            _move()
        assert not list(s3_bucket.list("")), "a blob of a busy photo was copied"
    out = _move()  # the worker is done (its session ended)
    assert f"ok: {len(_local_files(local_dir))} copied" in out
