"""Live Photos and videos under attack (issue 21 review): another user, an anonymous visitor,
a reused batch id, a crafted resumable upload's name, a MOV built to make the identifier
reader walk millions of boxes, and Range headers out of bounds."""

from __future__ import annotations

import base64
import io
import struct
import uuid
import zipfile

import pytest
from django.test import Client
from django.urls import reverse

from tests.people.faces_support import keyring_of
from tests.photos.test_live_photos import _send
from tests.users import PASSWORD
from vault.crypto import seal
from vault.photos.live_identifiers import MOV_TOP_BOXES, mov_content_identifier
from vault.photos.models import Photo
from vault.photos.sealing import name_aad
from vaultdev.samples.live_photos import live_mov, live_still

pytestmark = pytest.mark.django_db

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}
ROUTES = ("photos:play", "photos:motion", "photos:motion_download", "photos:download_both")


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _tus_upload(client, data: bytes, name: str, batch: str) -> dict:
    meta = ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}"
        for key, value in (("filename", name), ("batch", batch))
    )
    created = client.post(
        reverse("photos:resumable_create"),
        HTTP_UPLOAD_LENGTH=str(len(data)),
        HTTP_UPLOAD_METADATA=meta,
        **TUS,
    )
    assert created.status_code == 201, created.content
    done = client.generic(
        "PATCH",
        created["Location"],
        data,
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET="0",
        **TUS,
    )
    assert done.status_code == 204
    return client.get(created["Location"], **TUS).json()["outcome"]


def _live_item(client) -> Photo:
    cid = str(uuid.uuid4())
    _send(client, ("IMG_0800.JPG", live_still(cid)), ("IMG_0800.MOV", live_mov(cid)))
    return Photo.objects.get(kind="photo")


def test_a_resumable_name_with_folders_reaches_no_zip_or_download_as_a_path(owner_client):
    batch = uuid.uuid4().hex
    cid = str(uuid.uuid4())
    still, mov = live_still(cid), live_mov(cid)
    # A crafted client names its upload with folders and a control character: an album member
    # unzipping the "both" download would get a file written outside the folder they chose.
    outcome = _tus_upload(owner_client, still, "../../../.config/autostart/evil\x07.JPG", batch)
    assert outcome["status"] == "stored"
    _send(owner_client, ("IMG_0801.MOV", mov), batch=batch)
    [item] = Photo.objects.all()
    both = owner_client.get(reverse("photos:download_both", args=[item.id]))
    assert both["Content-Disposition"] == 'attachment; filename="evil.zip"'
    archive = zipfile.ZipFile(io.BytesIO(_body(both)))
    assert archive.namelist() == ["evil.JPG", "evil.MOV"]
    assert archive.read("evil.JPG") == still and archive.read("evil.MOV") == mov
    video = owner_client.get(reverse("photos:motion_download", args=[item.id]))
    assert video["Content-Disposition"] == 'attachment; filename="evil.MOV"'
    page = owner_client.get(reverse("photos:detail", args=[item.id])).content.decode()
    assert "autostart" not in page


def test_a_zip_of_a_name_stored_with_folders_holds_only_file_names(owner, owner_client):
    item = _live_item(owner_client)
    # A name kept before resumable uploads cleaned names: folders, and no extension.
    keyring = keyring_of(owner, PASSWORD)
    item.name_sealed = seal.seal(keyring.metadata_key, b"..\\..\\x/IMG_0802", name_aad(item.id))
    item.save(update_fields=["name_sealed"])
    both = owner_client.get(reverse("photos:download_both", args=[item.id]))
    assert both["Content-Disposition"] == 'attachment; filename="IMG_0802.zip"'
    archive = zipfile.ZipFile(io.BytesIO(_body(both)))
    assert archive.namelist() == ["IMG_0802.jpg", "IMG_0802.mov"]


def _many_boxes(content_identifier: str, count: int) -> bytes:
    """A Live MOV with `count` empty 'free' boxes between its ftyp and the rest."""
    mov = live_mov(content_identifier, codec="libx264", seconds=0.5)
    (ftyp,) = struct.unpack_from(">I", mov)
    return mov[:ftyp] + b"\x00\x00\x00\x08free" * count + mov[ftyp:]


def test_a_mov_of_many_tiny_boxes_costs_the_identifier_reader_a_few_reads():
    cid = str(uuid.uuid4())
    crafted = _many_boxes(cid, 20_000)
    reads = []

    def read(start: int, end: int) -> bytes:
        reads.append(start)  # each read decrypts a 64 KiB chunk in the upload request
        return crafted[start:end]

    assert mov_content_identifier(read, len(crafted)) is None
    assert len(reads) <= MOV_TOP_BOXES
    plain = _many_boxes(cid, 2)  # a real MOV's handful of boxes: the identifier is found
    assert mov_content_identifier(lambda a, b: plain[a:b], len(plain)) == cid


def test_a_mov_of_many_tiny_boxes_is_stored_as_a_video(owner_client):
    [outcome] = _send(owner_client, ("IMG_0803.MOV", _many_boxes(str(uuid.uuid4()), 20_000)))
    assert (outcome["status"], outcome["message"]) == ("stored", "Stored, encrypted.")
    assert Photo.objects.get(pk=outcome["photo"]).kind == "video"


def test_another_user_cannot_pair_a_mov_onto_the_owners_still(owner_client, other_client):
    batch = uuid.uuid4().hex
    cid = str(uuid.uuid4())
    [still] = _send(owner_client, ("IMG_0804.JPG", live_still(cid)), batch=batch)
    # The other user knows (or guessed) the batch id, the name and the content identifier,
    # on both upload paths.
    [mov] = _send(other_client, ("IMG_0804.MOV", live_mov(cid)), batch=batch)
    tus = _tus_upload(other_client, live_mov(cid, seconds=1.0), "IMG_0804.MOV", batch)
    assert still["photo"] not in (mov["photo"], tus["photo"])
    assert "Live" not in mov["message"] + tus["message"]
    assert not Photo.objects.get(pk=still["photo"]).blobs.filter(variant="motion").exists()
    assert Photo.objects.get(pk=mov["photo"]).kind == "video"
    for route in ROUTES:
        assert other_client.get(reverse(route, args=[still["photo"]])).status_code == 404
    status = other_client.get(reverse("photos:status"), {"id": still["photo"]}).json()
    assert status["photos"][still["photo"]]["state"] == "missing"  # like an unknown id


def test_an_anonymous_visitor_gets_nothing_of_a_live_item(owner_client):
    item = _live_item(owner_client)
    for route in ROUTES:
        response = Client().get(reverse(route, args=[item.id]))
        assert response.status_code == 302 and "/accounts/" in response["Location"], route


def test_out_of_bounds_and_multiple_ranges_get_no_wrong_bytes(owner, owner_client):
    mov = live_mov(None, codec="libx264")  # H.264: played as it is, no rendition
    [outcome] = _send(owner_client, ("walk.mov", mov))
    url = reverse("photos:play", args=[outcome["photo"]])
    for header in ("bytes=99999999-", "bytes=-0", "bytes=50-10", f"bytes={len(mov)}-"):
        response = owner_client.get(url, HTTP_RANGE=header)
        assert response.status_code == 416, header
        assert response["Content-Range"] == f"bytes */{len(mov)}"
    tail = owner_client.get(url, HTTP_RANGE="bytes=-99999999999")
    assert tail.status_code == 206 and _body(tail) == mov
    end = owner_client.get(url, HTTP_RANGE=f"bytes={len(mov) - 10}-99999999999")
    assert _body(end) == mov[-10:]
    # Several ranges (or a malformed header) are answered with the whole file, as RFC 9110
    # allows: never a 500, never bytes of the wrong place.
    for header in ("bytes=0-1,5-9", "bytes=abc", "items=0-5", "bytes=0-1" + "9" * 30):
        response = owner_client.get(url, HTTP_RANGE=header)
        assert response.status_code == 200 and _body(response) == mov, header


@pytest.mark.parametrize("still_first", [False, True])
def test_a_motion_photo_paired_with_a_mov_keeps_the_mov(
    owner, owner_client, worker_key, still_first
):
    from tests.photos import support, videos
    from tests.photos.conftest import run_jobs
    from vault.photos.blobs import blob_open

    # A still that carries a clip of its own (a Samsung/Google motion photo) and a MOV of the
    # same name in one batch: the MOV's item is deleted when it joins the still, so the MOV
    # must stay the item's video (the embedded clip stays inside the still's original).
    embedded = videos.clip(seconds=1.0, faststart=True)
    still = support.real_photo_jpeg("chelsea.png") + embedded
    mov = live_mov(None, seconds=1.0)
    batch = uuid.uuid4().hex
    if still_first:
        _send(owner_client, ("IMG_0805.JPG", still), batch=batch)
        assert run_jobs() == ["ready"]  # its embedded clip is its motion meanwhile
        _send(owner_client, ("IMG_0805.MOV", mov), batch=batch)
    else:
        _send(owner_client, ("IMG_0805.JPG", still), ("IMG_0805.MOV", mov), batch=batch)
    assert set(run_jobs()) == {"ready"}
    [item] = Photo.objects.all()
    got = _body(owner_client.get(reverse("photos:motion_download", args=[item.id])))
    assert got == mov
    private_key = keyring_of(owner, PASSWORD).private_key
    with blob_open(item.blobs.get(variant="motion"), private_key=private_key) as reader:
        assert reader.read_all() == mov
    assert _body(owner_client.get(reverse("photos:download", args=[item.id]))) == still


def test_a_resumable_live_pairs_name_and_batch_reach_no_row_log_or_valkey(
    owner_client, worker_key, redis_conn, caplog
):
    from django.db import connection

    from tests.photos.conftest import run_jobs

    marker = uuid.uuid4().hex[:12]
    batch, cid = f"batch-{marker}", f"CID-{marker}"
    mov, still, lone = live_mov(cid), live_still(cid), live_mov(None, seconds=1.0)
    caplog.set_level("DEBUG")  # made above: Pillow debug-logs the EXIF it writes
    _tus_upload(owner_client, mov, f"IMG_{marker}.MOV", batch)
    _tus_upload(owner_client, still, f"IMG_{marker}.JPG", batch)
    _tus_upload(owner_client, lone, f"IMG_{marker}z.MOV", batch)
    assert Photo.objects.filter(kind="photo").get().blobs.filter(variant="motion").exists()
    assert set(run_jobs()) == {"ready"}
    needles = [marker.encode(), marker.upper().encode()]
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the catalogue
            for row in cursor.fetchall():
                raw = repr([bytes(v) if isinstance(v, memoryview) else v for v in row]).encode()
                assert not any(needle in raw for needle in needles), table
    leaked = [line for line in caplog.text.splitlines() if any(n.decode() in line for n in needles)]
    assert not leaked, leaked[:3]
    for key in redis_conn.scan_iter():
        assert not any(needle in key + (redis_conn.dump(key) or b"") for needle in needles)


def test_videos_and_live_motions_are_never_cached_whatever_the_setting(
    owner_client, worker_key, settings
):
    from tests.photos import videos
    from tests.photos.conftest import run_jobs

    # The setting lets the browser keep thumbnails and previews (README), "originals never":
    # a Live item's video is an original, and a video's rendition the whole video.
    cid = str(uuid.uuid4())
    _send(
        owner_client,
        ("IMG_0806.JPG", live_still(cid)),
        ("IMG_0806.MOV", live_mov(cid)),
        ("walk.mp4", videos.clip(seconds=1.0, codec="libx265")),
    )
    assert set(run_jobs()) == {"ready"}
    live, video = Photo.objects.get(kind="photo"), Photo.objects.get(kind="video")
    assert video.blobs.filter(variant="rendition").exists()
    settings.VAULT_CACHE_DECRYPTED_SECONDS = 3600
    for route, photo in (
        ("photos:play", video),
        ("photos:motion", live),
        ("photos:motion_download", live),
    ):
        response = owner_client.get(reverse(route, args=[photo.id]), HTTP_RANGE="bytes=0-99")
        assert response["Cache-Control"] == "private, no-store", route
    thumb = owner_client.get(reverse("photos:thumb", args=[live.id]))
    assert thumb["Cache-Control"] == "private, max-age=3600"


def test_a_live_mov_claiming_ten_hours_is_kept_but_buys_no_rendition(
    owner, owner_client, worker_key, caplog
):
    """A crafted MOV whose container claims 10 hours (mvhd/mdhd/stts rewritten) would have
    bought its motion rendition 20 hours of a worker's time: it is refused at once (a motion
    clip is seconds long), the item is ready and the MOV is still there to download."""
    from tests.photos.conftest import run_jobs
    from tests.photos.videos import claim_duration

    cid = str(uuid.uuid4()).upper()
    mov = claim_duration(live_mov(cid), 10 * 3600)
    outcomes = _send(owner_client, ("IMG_5001.JPG", live_still(cid)), ("IMG_5001.MOV", mov))
    assert outcomes[0]["photo"] == outcomes[1]["photo"]
    [item] = Photo.objects.all()
    with caplog.at_level("WARNING", logger="worker.video"):
        assert run_jobs() == ["ready"]
    assert not item.blobs.filter(variant="rendition").exists()
    assert "no motion rendition (the clip claims 36000 s; at most 30 s)" in caplog.text
    motion = owner_client.get(reverse("photos:motion_download", args=[item.id]))
    assert _body(motion) == mov


def test_a_motion_photos_clip_claiming_ten_hours_is_not_taken_for_its_motion(
    owner_client, worker_key
):
    """A still carrying a clip (as a Google/Samsung motion photo does) whose container claims
    10 hours: not a motion clip, so the still stays a still (no motion, no rendition) and is
    ready; the same clip of one second is its motion."""
    from tests.photos import support, videos
    from tests.photos.conftest import run_jobs

    embedded = videos.clip(seconds=1.0, faststart=True)
    for name, clip, moves in (
        ("PXL_0001.MP.jpg", videos.claim_duration(embedded, 10 * 3600), False),
        ("PXL_0002.MP.jpg", embedded, True),
    ):
        [outcome] = _send(owner_client, (name, support.real_photo_jpeg("chelsea.png") + clip))
        assert run_jobs() == ["ready"]
        photo = Photo.objects.get(pk=outcome["photo"])
        assert photo.blobs.filter(variant="motion").exists() is moves
