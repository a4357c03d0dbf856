"""Live Photos (issue 21): an iPhone still and its MOV uploaded in one batch become one item,
the still, with the MOV as its motion (paired by the content identifier in both files'
metadata, or by their base name), in whichever order and request they arrive, also on the
resumable path; the worker makes a web rendition of the HEVC motion; the page plays it and
downloads the photo, the video or both byte for byte. Halves without a partner stay ordinary;
neither base names nor identifiers are kept in clear."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from tests.photos.conftest import run_jobs
from tests.photos.tus import TUS, tus_create, tus_patch
from tests.users import PASSWORD
from vault.accounts.services import keys_unlock_with_password
from vault.photos.blobs import blob_open
from vault.photos.live_identifiers import mov_content_identifier, still_content_identifier
from vault.photos.models import LiveCandidate, Photo
from vaultdev.samples.live_photos import apple_makernote, live_mov, live_still

pytestmark = pytest.mark.django_db


def _send(client, *files: tuple[str, bytes], batch: str | None = None) -> list[dict]:
    """POST files in one request, as the upload page does (with its batch id when given)."""
    body = {"photos": [SimpleUploadedFile(name, data) for name, data in files]}
    if batch is not None:
        body["batch"] = batch
    response = client.post(reverse("photos:upload"), body, HTTP_ACCEPT="application/json")
    assert response.status_code == 200, response.content[:300]
    return response.json()["files"]


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _decrypted(photo, variant, owner) -> bytes:
    private_key = keys_unlock_with_password(owner, PASSWORD).private_key
    with blob_open(photo.blobs.get(variant=variant), private_key=private_key) as reader:
        return reader.read_all()


def test_the_identifiers_are_read_from_both_halves():
    cid = str(uuid.uuid4()).upper()
    still, mov = live_still(cid), live_mov(cid, codec="libx264")
    assert still_content_identifier(still[i : i + 500] for i in range(0, len(still), 500)) == cid
    assert mov_content_identifier(lambda a, b: mov[a:b], len(mov)) == cid
    assert still_content_identifier([live_still(cid, heic=True)]) == cid  # EXIF in a HEIF item
    assert still_content_identifier([live_still(None)]) is None
    plain = live_mov(None, codec="libx264")
    assert mov_content_identifier(lambda a, b: plain[a:b], len(plain)) is None
    # A damaged MakerNote (offset past its end) is no identifier, and no crash.
    note = bytearray(apple_makernote(cid))
    note[-len(cid) - 5 : -len(cid) - 1] = b"\xff\xff\xff\x00"
    assert still_content_identifier([bytes(note[:40])]) is None


def test_a_still_and_its_mov_with_one_identifier_become_one_live_item(
    owner_client, owner, worker_key
):
    cid = str(uuid.uuid4()).upper()
    still, mov = live_still(cid), live_mov(cid)
    # Different names (as an export may give): the identifier pairs them.
    outcomes = _send(owner_client, ("IMG_4001.JPG", still), ("clip-7.MOV", mov))
    assert [o["status"] for o in outcomes] == ["stored", "stored"]
    [item] = Photo.objects.all()
    assert outcomes[0]["photo"] == outcomes[1]["photo"] == str(item.id)
    assert "Live Photo" in outcomes[0]["message"] and "Live Photo" in outcomes[1]["message"]
    assert item.kind == "photo" and item.media_type == "image/jpeg"
    assert _decrypted(item, "motion", owner) == mov

    assert run_jobs() == ["ready"]
    item.refresh_from_db()
    assert item.width == 640  # the still's facts, not the video's
    rendition = item.blobs.get(variant="rendition")  # HEVC: browsers need H.264
    assert rendition.media_type == "video/mp4"
    played = owner_client.get(reverse("photos:motion", args=[item.id]))
    assert played["Content-Type"] == "video/mp4" and _body(played)[4:8] == b"ftyp"

    page = owner_client.get(reverse("photos:detail", args=[item.id])).content.decode()
    assert ">Live<" in page and "data-live" in page
    gallery = owner_client.get(reverse("photos:gallery")).content.decode()
    assert gallery.count('title="A Live Photo: it moves">Live<') == 1
    for name in ("photos:download", "photos:motion_download", "photos:download_both"):
        assert reverse(name, args=[item.id]) in page
    assert _body(owner_client.get(reverse("photos:download", args=[item.id]))) == still
    video = owner_client.get(reverse("photos:motion_download", args=[item.id]))
    assert _body(video) == mov
    assert 'filename="IMG_4001.MOV"' in video["Content-Disposition"]
    # The pair uploaded again (a camera roll sent twice): both are already in the vault.
    again = _send(owner_client, ("IMG_4001.JPG", still), ("clip-7.MOV", mov))
    assert [(o["status"], o["photo"]) for o in again] == [("duplicate", str(item.id))] * 2
    assert Photo.objects.count() == 1
    both = owner_client.get(reverse("photos:download_both", args=[item.id]))
    assert 'filename="IMG_4001.zip"' in both["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(_body(both)))
    assert archive.namelist() == ["IMG_4001.JPG", "IMG_4001.MOV"]
    assert archive.read("IMG_4001.JPG") == still and archive.read("IMG_4001.MOV") == mov


def test_a_heic_still_pairs_with_its_mov(owner_client, owner):
    cid = str(uuid.uuid4()).upper()
    still, mov = live_still(cid, heic=True), live_mov(cid)
    outcomes = _send(owner_client, ("IMG_4002.MOV", mov), ("IMG_4002 copy.HEIC", still))
    [item] = Photo.objects.all()
    assert {o["photo"] for o in outcomes} == {str(item.id)}
    assert item.media_type == "image/heic"
    assert _decrypted(item, "motion", owner) == mov


def test_the_same_base_name_pairs_across_requests_of_one_batch_in_either_order(
    owner_client, owner, worker_key
):
    batch = uuid.uuid4().hex
    still, mov = live_still(None), live_mov(None)  # no identifiers: the names pair them
    [first] = _send(owner_client, ("IMG_0002.HEIC.jpg", live_still(None, seed=3)), batch=batch)
    # The still first, processed before its video arrives...
    [photo_out] = _send(owner_client, ("IMG_0001.JPG", still), batch=batch)
    assert run_jobs() == ["ready", "ready"]
    [video_out] = _send(owner_client, ("img_0001.mov", mov), batch=batch)
    assert video_out["photo"] == photo_out["photo"] != first["photo"]
    item = Photo.objects.get(pk=photo_out["photo"])
    assert Photo.objects.count() == 2 and item.state == "pending"  # processed again...
    assert run_jobs() == ["ready"]
    assert item.blobs.filter(variant="rendition").exists()  # ...for the motion's rendition
    assert _decrypted(item, "motion", owner) == mov

    # ...and the video first: it is an item until its still arrives, then joins it.
    batch = uuid.uuid4().hex
    [video_out] = _send(owner_client, ("IMG_0003.MOV", live_mov(None, seconds=1.0)), batch=batch)
    video_id = video_out["photo"]
    assert Photo.objects.get(pk=video_id).kind == "video"
    [photo_out] = _send(owner_client, ("IMG_0003.JPG", live_still(None, seed=5)), batch=batch)
    assert "Live Photo" in photo_out["message"]
    assert not Photo.objects.filter(pk=video_id).exists()
    # The upload page follows the video's id: it answers with its Live item's state.
    status = owner_client.get(reverse("photos:status"), {"id": video_id}).json()["photos"]
    assert status[video_id]["state"] == "pending"
    assert run_jobs() == ["ready"]
    status = owner_client.get(reverse("photos:status"), {"id": video_id}).json()["photos"]
    assert status[video_id]["url"] == reverse("photos:detail", args=[photo_out["photo"]])


def test_a_video_joined_while_its_still_finished_processing_gets_its_rendition_later(
    owner, owner_client, worker_key
):
    from tests.people.faces_support import keyring_of
    from vault.photos import scheduling
    from vault.photos.models import ProcessingGrant

    batch = uuid.uuid4().hex
    [photo_out] = _send(owner_client, ("IMG_0700.JPG", live_still(None, seed=8)), batch=batch)
    assert run_jobs() == ["ready"]
    _send(owner_client, ("IMG_0700.MOV", live_mov(None)), batch=batch)
    # As if a job already past its motion step had finished after the video joined: ready,
    # no grant, no rendition.
    Photo.objects.filter(pk=photo_out["photo"]).update(state="ready")
    ProcessingGrant.objects.all().delete()
    keyring = keyring_of(owner, PASSWORD)
    scheduling.owner_visit_work(user=owner, keyring=keyring)  # the owner's next visit...
    item = Photo.objects.get(pk=photo_out["photo"])
    assert item.state == "pending"
    assert run_jobs() == ["ready"]  # ...has it processed again: the motion gets its rendition
    assert item.blobs.filter(variant="rendition").exists()
    scheduling.owner_visit_work(user=owner, keyring=keyring)
    assert Photo.objects.get(pk=item.pk).state == "ready"  # and only once


def test_halves_without_their_partner_stay_ordinary_items(owner_client, worker_key):
    # A MOV alone, a still alone, the same name in two batches, two shots sharing a name.
    _send(owner_client, ("IMG_0100.MOV", live_mov(str(uuid.uuid4()), seconds=1.0)))
    _send(owner_client, ("IMG_0101.JPG", live_still(str(uuid.uuid4()), seed=11)))
    _send(owner_client, ("IMG_0102.JPG", live_still(None, seed=12)), batch=uuid.uuid4().hex)
    _send(owner_client, ("IMG_0102.MOV", live_mov(None, seconds=1.1)), batch=uuid.uuid4().hex)
    batch = uuid.uuid4().hex
    _send(owner_client, ("IMG_0103.JPG", live_still("A-1", seed=13)), batch=batch)
    _send(owner_client, ("IMG_0103.MOV", live_mov("B-2", seconds=1.2)), batch=batch)
    assert Photo.objects.filter(kind="video").count() == 3
    assert Photo.objects.filter(kind="photo").count() == 3
    assert set(run_jobs()) == {"ready"}
    assert ">Live<" not in owner_client.get(reverse("photos:gallery")).content.decode()
    for photo in Photo.objects.filter(kind="photo"):
        assert not photo.blobs.filter(variant="motion").exists()
        page = owner_client.get(reverse("photos:detail", args=[photo.id])).content.decode()
        assert ">Live<" not in page and "Download original" in page
    for video in Photo.objects.filter(kind="video"):
        assert (
            owner_client.get(reverse("photos:motion_download", args=[video.id])).status_code == 404
        )


def test_a_big_mov_on_the_resumable_path_pairs_with_its_still(owner_client, owner, worker_key):
    batch = uuid.uuid4().hex
    cid = str(uuid.uuid4())
    still, mov = live_still(cid), live_mov(cid)
    url = tus_create(owner_client, len(mov), "IMG_0200.MOV", batch=batch)
    [photo_out] = _send(owner_client, ("IMG_0200.JPG", still), batch=batch)
    assert tus_patch(owner_client, url, 0, mov).status_code == 204
    outcome = owner_client.get(url, **TUS).json()["outcome"]
    assert outcome["photo"] == photo_out["photo"] and outcome["status"] == "stored"
    [item] = Photo.objects.all()
    assert _decrypted(item, "motion", owner) == mov


def test_another_user_gets_nothing_of_a_live_item(owner_client, other_client, worker_key):
    cid = str(uuid.uuid4())
    [out, _] = _send(
        owner_client, ("IMG_0300.JPG", live_still(cid)), ("IMG_0300.MOV", live_mov(cid))
    )
    for name in ("photos:motion", "photos:motion_download", "photos:download_both"):
        assert other_client.get(reverse(name, args=[out["photo"]])).status_code == 404


def test_no_base_name_or_identifier_is_kept_in_clear_in_the_database(
    owner_client, worker_key, data_dir, redis_conn
):
    marker = uuid.uuid4().hex[:12]
    cid = f"CID-{marker}"
    batch = uuid.uuid4().hex
    # One pair, and halves that stay unpaired (their rows keep their pairing HMACs).
    _send(owner_client, (f"IMG_{marker}.JPG", live_still(cid)), batch=batch)
    _send(owner_client, (f"IMG_{marker}.MOV", live_mov(cid, seconds=1.0)), batch=batch)
    _send(owner_client, (f"IMG_{marker}x.MOV", live_mov(cid + "x", seconds=1.1)), batch=batch)
    _send(owner_client, (f"IMG_{marker}y.JPG", live_still(cid + "y", seed=4)), batch=batch)
    assert LiveCandidate.objects.count() == 3
    assert set(run_jobs()) == {"ready"}
    needles = [marker.encode(), marker.upper().encode(), batch.encode()]
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
        for table in tables:
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the catalogue
            for row in cursor.fetchall():
                for value in row:
                    raw = bytes(value) if isinstance(value, memoryview | bytes) else str(value)
                    raw = raw if isinstance(raw, bytes) else raw.encode()
                    for needle in needles:
                        assert needle not in raw, f"{needle!r} in clear in {table}"
    # Nor on disk (originals, motion, renditions: all SPV1) nor in Valkey (job arguments).
    files = [path for path in data_dir.rglob("*") if path.is_file()]
    assert len(files) >= 10
    for path in files:
        content = path.read_bytes()
        assert not any(needle in content for needle in needles), path
    for key in redis_conn.scan_iter():
        assert not any(needle in key + (redis_conn.dump(key) or b"") for needle in needles)
