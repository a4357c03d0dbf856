"""The processing pipeline, run in this process with an advertised worker key: EXIF, sealed
private fields, thumbnails, failure with a reason, retry, idempotence, and grants."""

import contextlib
import datetime as dt
import io
import json
import re

import pytest
from django.urls import reverse
from PIL import Image

from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.accounts.services import keys_unlock_with_password
from vault.crypto import keys as crypto_keys
from vault.crypto import seal
from vault.photos import storage
from vault.photos.blobs import blob_open
from vault.photos.models import Blob, Photo, ProcessingGrant
from vault.photos.sealing import exif_aad
from vault.processing.worker_keys import advertise, withdraw
from vaultdev.pytest_plugin import wait_until
from vaultdev.samples import camera_files
from worker import identity
from worker.pipeline import photo_process_run

pytestmark = pytest.mark.django_db


def decrypted(photo, variant, owner):
    private_key = keys_unlock_with_password(owner, PASSWORD).private_key
    blob = photo.blobs.get(variant=variant)
    with blob_open(blob, private_key=private_key) as reader:
        return reader.read_all()


def files_of(photo):
    return sorted(p.name for p in storage.photo_dir(photo.owner_id, photo.id).iterdir())


def test_processing_reads_exif_and_makes_two_encrypted_thumbnails(owner_client, owner, worker_key):
    data = support.jpeg(
        support.picture(3000, 2000),
        taken="2019:08:03 17:45:10",
        offset="+02:00",
        orientation=6,  # the camera was turned: upright it is 2000 wide, 3000 high
        gps=(-33.8568, 151.2153),
        camera=("Fujifilm", "X-T4"),
    )
    [outcome] = upload(owner_client, ("IMG_0001.JPG", data))
    assert ProcessingGrant.objects.filter(photo_id=outcome["photo"]).count() == 1
    assert run_jobs() == ["ready"]

    photo = Photo.objects.get(pk=outcome["photo"])
    assert photo.state == "ready" and photo.progress == 100
    assert photo.taken_at == dt.datetime(2019, 8, 3, 15, 45, 10, tzinfo=dt.UTC)
    assert photo.shown_at == photo.taken_at
    assert (photo.width, photo.height) == (2000, 3000)
    # The grant is gone with the job.
    assert not ProcessingGrant.objects.filter(photo=photo).exists()

    thumb = Image.open(io.BytesIO(decrypted(photo, "thumb", owner)))
    preview = Image.open(io.BytesIO(decrypted(photo, "preview", owner)))
    assert thumb.format == preview.format == "JPEG"
    assert min(thumb.size) == 400 and thumb.width < thumb.height  # upright
    assert max(preview.size) == 1600 and preview.width < preview.height
    assert files_of(photo) == ["original-0.spv", "preview-0.spv", "thumb-0.spv"]

    # Camera and place are sealed under the owner's metadata key, bound to this row.
    umk = keys_unlock_with_password(owner, PASSWORD).umk
    sealed = bytes(photo.exif_sealed)
    assert b"Fujifilm" not in sealed
    private = json.loads(
        seal.open(
            crypto_keys.metadata_key(umk),
            sealed,
            seal.row_aad("photos_photo", str(photo.id), "exif"),
        )
    )
    assert private["camera_model"] == "X-T4"
    assert private["latitude"] == pytest.approx(-33.8568, abs=1e-4)
    assert private["longitude"] == pytest.approx(151.2153, abs=1e-4)


def test_heic_from_an_iphone_is_processed_and_downloads_as_it_came(owner_client, owner, worker_key):
    data = support.heic(support.picture(1200, 900), taken="2022:12:24 18:30:00")
    [outcome] = upload(owner_client, ("IMG_4242.HEIC", data))
    assert outcome["status"] == "stored"
    assert run_jobs() == ["ready"]
    photo = Photo.objects.get(pk=outcome["photo"])
    assert photo.media_type == "image/heic" and (photo.width, photo.height) == (1200, 900)
    assert photo.taken_at == dt.datetime(2022, 12, 24, 18, 30, tzinfo=dt.UTC)
    assert Image.open(io.BytesIO(decrypted(photo, "thumb", owner))).format == "JPEG"
    response = owner_client.get(reverse("photos:download", args=[photo.id]))
    assert b"".join(response.streaming_content) == data
    assert response["Content-Type"] == "image/heic"


def test_photo_without_a_date_is_shown_at_its_upload_date(owner_client, worker_key):
    [outcome] = upload(owner_client, ("coffee.png", support.real_photo("coffee.png")))
    run_jobs()
    photo = Photo.objects.get(pk=outcome["photo"])
    assert photo.state == "ready"
    assert photo.taken_at is None and photo.shown_at == photo.uploaded_at


def test_a_png_without_exif_is_dated_by_its_xmp(owner_client, worker_key):
    # scikit-image's chelsea.png carries the XMP its camera raw converter wrote:
    # xmp:CreateDate 2009-02-09T11:11:30, no offset (read in the server's zone, UTC here).
    [outcome] = upload(owner_client, ("chelsea.png", support.real_photo("chelsea.png")))
    run_jobs()
    photo = Photo.objects.get(pk=outcome["photo"])
    assert photo.taken_at == dt.datetime(2009, 2, 9, 11, 11, 30, tzinfo=dt.UTC)


def test_running_the_job_again_leaves_exactly_one_set_of_blobs(owner_client, owner, worker_key):
    [outcome] = upload(owner_client, ("a.jpg", support.jpeg()))
    photo = Photo.objects.get(pk=outcome["photo"])
    # A killed run leaves a half-written temporary and the photo "processing".
    run_jobs()
    leftover = storage.photo_dir(owner.pk, photo.id) / ".thumb-0.spv.abc123.tmp"
    leftover.write_bytes(b"half")
    Photo.objects.filter(pk=photo.pk).update(state="processing")
    ProcessingGrant.objects.all().delete()
    owner_client.get(reverse("photos:gallery"))  # the owner's visit re-grants
    assert run_jobs() == ["ready"]
    assert files_of(photo) == ["original-0.spv", "preview-0.spv", "thumb-0.spv"]
    assert sorted(photo.blobs.values_list("variant", flat=True)) == ["original", "preview", "thumb"]
    assert Image.open(io.BytesIO(decrypted(photo, "thumb", owner))).format == "JPEG"


def test_undecodable_photo_fails_with_a_reason_and_can_be_retried(owner_client, worker_key):
    [outcome] = upload(owner_client, ("broken.jpg", support.undecodable_jpeg()))
    assert outcome["status"] == "stored"  # only decoding can tell
    assert run_jobs() == ["failed"]
    photo = Photo.objects.get(pk=outcome["photo"])
    assert photo.state == "failed"
    assert "damaged or incomplete" in photo.failure_reason
    assert not ProcessingGrant.objects.filter(photo=photo).exists()

    page = owner_client.get(reverse("photos:detail", args=[photo.id]))
    assert "damaged or incomplete" in page.content.decode()
    assert "Try again" in page.content.decode()
    owner_client.post(reverse("photos:retry", args=[photo.id]))
    photo.refresh_from_db()
    assert photo.state == "pending" and photo.failure_reason == ""
    assert ProcessingGrant.objects.filter(photo=photo).count() == 1
    assert run_jobs() == ["failed"]  # still broken: same clear answer


def test_without_a_worker_the_photo_waits_and_is_granted_when_one_appears(owner_client, redis_conn):
    identity.forget()
    [outcome] = upload(owner_client, ("a.jpg", support.jpeg()))
    photo = Photo.objects.get(pk=outcome["photo"])
    assert photo.state == "pending" and not photo.grants.exists()

    me = identity.current()
    advertise(me.public_key, ttl=60)
    try:
        status = owner_client.get(reverse("photos:status"), {"id": str(photo.id)}).json()
        assert status["photos"][str(photo.id)]["state"] == "pending"
        assert photo.grants.get().worker_key_id == me.key_id
        assert run_jobs() == ["ready"]
    finally:
        withdraw(me.public_key)
        identity.forget()


def test_a_restarted_worker_cannot_use_grants_made_for_its_previous_key(owner_client, worker_key):
    [outcome] = upload(owner_client, ("a.jpg", support.jpeg()))
    withdraw(worker_key.public_key)
    identity.forget()  # the worker restarts: new key in memory
    restarted = identity.current()
    advertise(restarted.public_key, ttl=60)
    assert photo_process_run(outcome["photo"]) == "no grant"
    photo = Photo.objects.get(pk=outcome["photo"])
    assert photo.state == "pending" and photo.grants.get().worker_key_id == worker_key.key_id

    owner_client.get(reverse("photos:gallery"))  # the owner's visit re-grants to live keys
    assert photo.grants.get().worker_key_id == restarted.key_id
    assert photo_process_run(outcome["photo"]) == "ready"
    withdraw(restarted.public_key)


def test_a_tampered_grant_is_refused(owner_client, worker_key):
    [outcome] = upload(owner_client, ("a.jpg", support.jpeg()))
    grant = ProcessingGrant.objects.get(photo_id=outcome["photo"])
    # Re-point the grant at another photo of the same user: its `info` no longer matches.
    [other] = upload(owner_client, ("b.png", support.png()))
    ProcessingGrant.objects.filter(photo_id=other["photo"]).delete()
    ProcessingGrant.objects.filter(pk=grant.pk).update(photo_id=other["photo"])
    assert photo_process_run(other["photo"]) == "no grant"
    assert Photo.objects.get(pk=other["photo"]).state == "pending"


def test_job_arguments_and_redis_carry_ids_only(
    owner_client, worker_key, redis_conn, django_capture_on_commit_callbacks
):
    import zlib

    from vault.processing.queue import Job, shared_queue

    data = support.jpeg()
    with django_capture_on_commit_callbacks(execute=True):
        [outcome] = upload(owner_client, ("a.jpg", data))
    [job] = shared_queue().jobs
    assert (
        job.func_name == Job.PHOTO_PROCESS and job.args == [outcome["photo"]] and job.kwargs == {}
    )

    stored = []
    for key in redis_conn.scan_iter(match="*"):
        stored.append(redis_conn.dump(key) or b"")
        if redis_conn.type(key) == b"hash":
            for value in redis_conn.hvals(key):
                stored.append(value)
                with contextlib.suppress(zlib.error):  # RQ compresses job payloads
                    stored.append(zlib.decompress(value))
    everything = b"".join(stored)
    grant = ProcessingGrant.objects.get(photo_id=outcome["photo"])
    assert outcome["photo"].encode() in everything  # the search does see job arguments
    assert bytes(grant.wrapped_data_key)[:32] not in everything
    assert data[:64] not in everything


def test_worker_side_blob_check_rejects_a_moved_blob(owner_client, owner, worker_key):
    """A blob copied over another photo's blob fails to open: the context is in its MAC."""
    [a] = upload(owner_client, ("a.jpg", support.jpeg()))
    [b] = upload(owner_client, ("b.png", support.png()))
    run_jobs()
    photo_a, photo_b = Photo.objects.get(pk=a["photo"]), Photo.objects.get(pk=b["photo"])
    source = storage.blob_path(owner.pk, photo_a.id, "thumb")
    target = storage.blob_path(owner.pk, photo_b.id, "thumb")
    target.write_bytes(source.read_bytes())
    response = owner_client.get(reverse("photos:thumb", args=[photo_b.id]))
    assert response.status_code == 404
    assert Blob.objects.filter(photo=photo_b, variant="thumb").exists()


def test_thumbnails_keep_the_colour_profile(owner_client, owner, worker_key):
    """A wide-gamut RGB profile travels along (other kinds: tests/photos/test_pictures.py)."""
    from vaultdev.samples import icc

    profile = icc.display_p3()
    out = io.BytesIO()
    support.picture().save(out, "JPEG", icc_profile=profile)
    [outcome] = upload(owner_client, ("wide-gamut.jpg", out.getvalue()))
    run_jobs()
    photo = Photo.objects.get(pk=outcome["photo"])
    for variant in ("thumb", "preview"):
        thumb = Image.open(io.BytesIO(decrypted(photo, variant, owner)))
        assert thumb.info.get("icc_profile") == profile


def test_a_photo_whose_job_was_lost_is_enqueued_again(
    owner_client, worker_key, redis_conn, django_capture_on_commit_callbacks, monkeypatch
):
    """The queue lost the job (restarted without persistence) while the grant stayed live."""
    import datetime as dt

    from django.utils import timezone

    from vault.photos import owner_visit
    from vault.processing.queue import shared_queue

    # The polls below stand for polls minutes apart: each is a visit of its own.
    monkeypatch.setattr(owner_visit, "VISIT_EVERY", 0)

    [outcome] = upload(owner_client, ("a.jpg", support.jpeg()))
    assert shared_queue().count == 0  # (the commit hook never ran: as good as lost)
    status = reverse("photos:status")
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.get(status, {"id": outcome["photo"]})
    assert shared_queue().count == 0  # a fresh grant: the job may just be queued
    ProcessingGrant.objects.update(created_at=timezone.now() - dt.timedelta(minutes=16))
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.get(status, {"id": outcome["photo"]})
    [job] = shared_queue().jobs
    assert job.args == [outcome["photo"]]
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.get(status, {"id": outcome["photo"]})
    assert shared_queue().count == 1  # nudged once, not at every poll
    assert run_jobs() == ["ready"]


def test_a_photo_its_dead_worker_left_processing_is_enqueued_again_at_the_next_visit(
    owner_client, worker_key, redis_conn, django_capture_on_commit_callbacks, monkeypatch
):
    """Its worker died in the middle of it (a host gone, SIGKILL): the job died too, while
    the grant a live worker holds keeps the photo out of the re-grant batch. The photo's
    advisory lock, free, says no job is on it: the next visit queues it again, not 15 minutes
    later; while a job holds the lock, visits leave it alone (issue 23's multi-host test)."""
    import uuid

    from django.db import connections

    from vault.photos import owner_visit, pipeline_state
    from vault.processing.queue import shared_queue

    monkeypatch.setattr(owner_visit, "VISIT_EVERY", 0)  # each poll is a visit of its own
    [outcome] = upload(owner_client, ("a.jpg", support.jpeg()))
    photo_id = outcome["photo"]
    Photo.objects.filter(pk=photo_id).update(state="processing", attempts=1)
    status = reverse("photos:status")
    key = pipeline_state.photo_lock_key(uuid.UUID(photo_id))

    job_session = connections.create_connection("default")  # the running job's session
    try:
        with job_session.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        with django_capture_on_commit_callbacks(execute=True):
            owner_client.get(status, {"id": photo_id})
        assert shared_queue().count == 0
        assert Photo.objects.get(pk=photo_id).state == "processing"
    finally:
        job_session.close()  # the worker dies: its session, and the lock, end

    def lock_released() -> bool:
        # The server ends the closed session's backend, and frees its lock, a moment later.
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            [[taken]] = cursor.fetchall()
            if taken:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return taken

    wait_until(lock_released)
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.get(status, {"id": photo_id})
    [job] = shared_queue().jobs
    assert job.args == [photo_id]
    assert Photo.objects.get(pk=photo_id).state == "pending"
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.get(status, {"id": photo_id})
    assert shared_queue().count == 1  # queued once, not at every poll
    assert run_jobs() == ["ready"]


def test_a_worker_started_after_the_grant_passes_the_job_to_one_that_holds_it(
    owner_client, worker_key, redis_conn
):
    from rq import Queue

    from vault.processing.queue import SERIALIZER
    from vault.processing.worker_keys import queue_name

    [outcome] = upload(owner_client, ("a.jpg", support.jpeg()))  # granted to worker_key only
    identity.forget()
    late = identity.current()  # a second worker, started after the upload
    advertise(late.public_key, ttl=60)
    try:
        assert photo_process_run(outcome["photo"]) == "passed on"
        # On the grant holder's own queue, ids only; passed on once, never back and forth.
        own = Queue(queue_name(worker_key.key_id), connection=redis_conn, serializer=SERIALIZER)
        [job] = own.jobs
        assert job.args == [outcome["photo"]] and job.kwargs == {"passed_on": True}
        assert photo_process_run(outcome["photo"], passed_on=True) == "no grant"
    finally:
        withdraw(late.public_key)
    identity._current = worker_key  # the worker that holds the grant takes it from its queue
    assert photo_process_run(*job.args, **job.kwargs) == "ready"


def test_a_photo_that_keeps_stopping_its_worker_fails_instead_of_looping(owner_client, worker_key):
    """Three runs started and never finished (the worker was killed each time, say by the
    kernel's out-of-memory killer): the next one marks the photo failed; the owner's retry
    starts the count afresh."""
    [outcome] = upload(owner_client, ("a.jpg", support.jpeg()))
    photo_id = outcome["photo"]
    Photo.objects.filter(pk=photo_id).update(state="processing", attempts=3)
    ProcessingGrant.objects.all().delete()  # died with the killed worker's key
    owner_client.get(reverse("photos:gallery"))  # the owner's visit re-grants
    assert run_jobs() == ["failed"]
    photo = Photo.objects.get(pk=photo_id)
    assert "interrupted 3 times" in photo.failure_reason
    assert not photo.grants.exists()

    owner_client.post(reverse("photos:retry", args=[photo_id]))
    assert run_jobs() == ["ready"]
    assert Photo.objects.get(pk=photo_id).attempts == 1


def test_the_worker_parses_only_the_format_the_upload_was_checked_as(owner_client, worker_key):
    [outcome] = upload(owner_client, ("a.png", support.png()))
    Photo.objects.filter(pk=outcome["photo"]).update(media_type="image/jpeg")
    assert run_jobs() == ["failed"]
    assert "not an image the vault can read" in Photo.objects.get().failure_reason


def test_the_worker_applies_the_current_pixel_limit(owner_client, worker_key, settings):
    [outcome] = upload(owner_client, ("a.jpg", support.jpeg()))  # 640 × 480
    assert outcome["status"] == "stored"
    settings.VAULT_MAX_PIXELS = 100_000  # the operator lowered the limit since
    assert run_jobs() == ["failed"]
    assert "too many pixels" in Photo.objects.get().failure_reason


def test_an_impossible_time_zone_offset_is_ignored(owner_client, worker_key):
    from django.utils import timezone

    data = support.jpeg(taken="2021:03:04 05:06:07", offset="+99:00")
    [outcome] = upload(owner_client, ("a.jpg", data))
    assert run_jobs() == ["ready"]
    taken = Photo.objects.get(pk=outcome["photo"]).taken_at
    local = dt.datetime(2021, 3, 4, 5, 6, 7, tzinfo=timezone.get_current_timezone())
    assert taken == local  # read as the server's local time, like a photo with no offset


def test_an_original_the_server_cannot_read_fails_with_a_reason_and_can_be_retried(
    owner_client, owner, worker_key
):
    [outcome] = upload(owner_client, ("a.jpg", support.jpeg()))
    photo_id = outcome["photo"]
    ProcessingGrant.objects.all().delete()  # its worker died: the owner's visit re-grants
    original = storage.blob_path(owner.pk, photo_id, "original")
    saved = original.read_bytes()
    original.unlink()
    original.mkdir()  # reading it fails, and not because it is missing (an I/O fault)
    owner_client.get(reverse("photos:gallery"))
    photo = Photo.objects.get(pk=photo_id)
    assert photo.state == "failed" and "could not read the stored original" in photo.failure_reason

    response = owner_client.post(reverse("photos:retry", args=[photo_id]), follow=True)
    assert "could not be queued again" in response.content.decode()
    assert Photo.objects.get(pk=photo_id).state == "failed"

    original.rmdir()
    original.write_bytes(saved)  # the operator fixed the disk
    response = owner_client.post(reverse("photos:retry", args=[photo_id]), follow=True)
    assert "back in the queue" in response.content.decode()
    assert run_jobs() == ["ready"]


def quadrants(width: int = 800, height: int = 600) -> Image.Image:
    """Four flat colours, one per quarter: any misplaced or mis-decoded byte shows."""
    image = Image.new("RGB", (width, height), (200, 30, 40))
    image.paste((30, 160, 60), (width // 2, 0, width, height // 2))
    image.paste((40, 60, 200), (0, height // 2, width // 2, height))
    image.paste((230, 220, 50), (width // 2, height // 2, width, height))
    return image


def test_heic_laid_out_as_samsung_phones_write_it_is_stored_and_processed(
    owner_client, owner, worker_key
):
    """ftyp, then 3 MB of image data, then meta: stored, and its thumbnail is the picture."""
    data = camera_files.heic_meta_last(
        support.heic(quadrants(), taken="2024:06:01 09:30:00", offset="+09:00"),
        padding=3 * 1024 * 1024,
    )
    [outcome] = upload(owner_client, ("20240601_093000.heic", data))
    assert outcome["status"] == "stored", outcome["message"]
    assert run_jobs() == ["ready"]
    photo = Photo.objects.get(pk=outcome["photo"])
    assert (photo.media_type, photo.width, photo.height) == ("image/heic", 800, 600)
    assert photo.taken_at == dt.datetime(2024, 6, 1, 0, 30, tzinfo=dt.UTC)
    thumb = Image.open(io.BytesIO(decrypted(photo, "thumb", owner))).convert("RGB")
    assert thumb.size == (533, 400)
    for (x, y), colour in {
        (130, 100): (200, 30, 40),
        (400, 100): (30, 160, 60),
        (130, 300): (40, 60, 200),
        (400, 300): (230, 220, 50),
    }.items():
        assert thumb.getpixel((x, y)) == pytest.approx(colour, abs=12), (x, y)


def _page(owner_client, photo_id) -> str:
    return owner_client.get(reverse("photos:detail", args=[photo_id])).content.decode()


def test_a_gps_block_of_0_over_0_is_no_location_and_no_nan_on_the_page(
    owner_client, owner, worker_key
):
    r = camera_files.rational
    data = camera_files.jpeg(
        exif_data=camera_files.exif(
            ifd0={0x010F: "Samsung", 0x0110: "Galaxy S23"},
            sub={camera_files.EXPOSURE_TIME: r(0, 0), camera_files.FOCAL_LENGTH: r(0, 0)},
            gps={
                camera_files.GPS_LATITUDE_REF: "N",
                camera_files.GPS_LATITUDE: (r(0, 0),) * 3,
                camera_files.GPS_LONGITUDE_REF: "E",
                camera_files.GPS_LONGITUDE: (r(0, 0),) * 3,
                camera_files.GPS_ALTITUDE: r(0, 0),
            },
        )
    )
    [outcome] = upload(owner_client, ("no-fix.jpg", data))
    assert run_jobs() == ["ready"]
    page = _page(owner_client, outcome["photo"])
    assert "Galaxy S23" in page
    assert "<dt>Place</dt>" not in page
    assert not re.search(r"\bnan\b", page, re.IGNORECASE)
    umk = keys_unlock_with_password(owner, PASSWORD).umk
    photo = Photo.objects.get(pk=outcome["photo"])
    sealed = seal.open(
        crypto_keys.metadata_key(umk), bytes(photo.exif_sealed), exif_aad(photo.id)
    ).decode()
    assert json.loads(sealed) == {"camera_make": "Samsung", "camera_model": "Galaxy S23"}


def test_a_void_gps_block_is_no_location(owner_client, worker_key):
    r = camera_files.rational
    data = camera_files.jpeg(
        exif_data=camera_files.exif(
            gps={
                camera_files.GPS_STATUS: "V",
                camera_files.GPS_LATITUDE_REF: "N",
                camera_files.GPS_LATITUDE: (r(48, 1), r(51, 1), r(24, 1)),
                camera_files.GPS_LONGITUDE_REF: "E",
                camera_files.GPS_LONGITUDE: (r(2, 1), r(21, 1), r(3, 1)),
            }
        )
    )
    [outcome] = upload(owner_client, ("void.jpg", data))
    assert run_jobs() == ["ready"]
    assert Photo.objects.get(pk=outcome["photo"]).exif_sealed is None
    assert "<dt>Place</dt>" not in _page(owner_client, outcome["photo"])


def test_a_place_on_the_equator_is_shown(owner_client, worker_key):
    [outcome] = upload(owner_client, ("kampala.jpg", support.jpeg(gps=(0.0, 32.5825))))
    assert run_jobs() == ["ready"]
    assert "<dt>Place</dt><dd>0.00000, 32.58250</dd>" in _page(owner_client, outcome["photo"])


@pytest.mark.parametrize(
    "sealed_before",
    [
        {"camera_model": "X100", "latitude": float("nan"), "longitude": float("nan")},
        {"camera_model": "X100", "latitude": 0.0, "longitude": 0.0, "altitude": float("inf")},
        {"camera_model": "X100", "latitude": 123.0, "longitude": 45.0},
        {"camera_model": "X100", "latitude": 48.8, "longitude": None},
    ],
)
def test_a_place_sealed_before_these_checks_is_not_shown(
    owner_client, owner, worker_key, sealed_before
):
    """Photos processed by an older worker may hold NaN or an impossible place."""
    [outcome] = upload(owner_client, ("old.jpg", support.jpeg()))
    assert run_jobs() == ["ready"]
    umk = keys_unlock_with_password(owner, PASSWORD).umk
    photo = Photo.objects.get(pk=outcome["photo"])
    photo.exif_sealed = seal.seal(
        crypto_keys.metadata_key(umk), json.dumps(sealed_before).encode(), exif_aad(photo.id)
    )
    photo.save(update_fields=["exif_sealed"])
    page = _page(owner_client, photo.id)
    assert "X100" in page and "<dt>Place</dt>" not in page
    assert not re.search(r"\b(nan|inf|infinity)\b", page, re.IGNORECASE)


def test_capture_time_from_iptc_when_exif_has_none(owner_client, worker_key):
    data = camera_files.jpeg(iptc={(2, 55): b"20190803", (2, 60): b"174510+0200"})
    [outcome] = upload(owner_client, ("scan.jpg", data))
    assert run_jobs() == ["ready"]
    photo = Photo.objects.get(pk=outcome["photo"])
    assert photo.taken_at == dt.datetime(2019, 8, 3, 15, 45, 10, tzinfo=dt.UTC)
    assert photo.shown_at == photo.taken_at


def test_an_impossible_capture_date_falls_back_to_the_upload_date(owner_client, worker_key):
    data = support.jpeg(taken="0000:00:00 00:00:00")
    [outcome] = upload(owner_client, ("zeros.jpg", data))
    assert run_jobs() == ["ready"]
    photo = Photo.objects.get(pk=outcome["photo"])
    assert photo.taken_at is None and photo.shown_at == photo.uploaded_at
    assert "Unknown (uploaded" in _page(owner_client, photo.id)
