"""Videos (DESIGN §12, issue 21): uploaded beside photos, sniffed by content, processed by the
worker's PyAV steps in this process (poster, duration, upright size, capture time, sealed place,
tags and faces from frames, a rendition only when a browser cannot play the original), played
with range requests and downloaded byte for byte."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import tempfile
from pathlib import Path

import av
import pytest
from django.urls import reverse
from PIL import Image

from tests.photos import support, videos
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.accounts.services import keys_unlock_with_password
from vault.crypto import keys as crypto_keys
from vault.crypto import seal
from vault.photos.blobs import blob_open
from vault.photos.models import Blob, Photo
from vault.photos.sealing import exif_aad

pytestmark = pytest.mark.django_db


def _decrypted(photo, variant, owner) -> bytes:
    private_key = keys_unlock_with_password(owner, PASSWORD).private_key
    with blob_open(photo.blobs.get(variant=variant), private_key=private_key) as reader:
        return reader.read_all()


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def _stored(client, name, data) -> Photo:
    [outcome] = upload(client, (name, data))
    assert outcome["status"] == "stored", outcome
    return Photo.objects.get(pk=outcome["photo"])


def test_a_phone_video_becomes_ready_with_poster_duration_date_place_and_plays_with_ranges(
    owner_client, owner, worker_key
):
    # A phone held upright: frames stored 320×240 with a -90° display matrix, a red mark in
    # the stored frame's top-left corner (after turning 90° clockwise it is top-right).
    picture = Image.new("RGB", (320, 240), (40, 90, 160))
    picture.paste((255, 0, 0), (0, 0, 60, 60))
    data = videos.clip(
        picture=picture,
        rotation=-90,
        metadata={"creation_time": "2021-05-04T10:11:12Z", "location": "+48.8577+002.2950/"},
    )
    photo = _stored(owner_client, "IMG_0001.MP4", data)
    assert photo.kind == "video" and photo.media_type == "video/mp4" and photo.state == "pending"
    assert run_jobs() == ["ready"]
    photo.refresh_from_db()
    assert photo.state == "ready"
    assert photo.duration == pytest.approx(2.0, abs=0.1) and photo.duration_label == "0:02"
    assert (photo.width, photo.height) == (240, 320)  # upright
    assert photo.taken_at == dt.datetime(2021, 5, 4, 10, 11, 12, tzinfo=dt.UTC)
    # The place is sealed under the owner's metadata key, bound to this row.
    assert b"48.85" not in bytes(photo.exif_sealed)
    umk = keys_unlock_with_password(owner, PASSWORD).umk
    place = json.loads(
        seal.open(crypto_keys.metadata_key(umk), bytes(photo.exif_sealed), exif_aad(photo.id))
    )
    assert place == {"latitude": 48.8577, "longitude": 2.295}

    poster = Image.open(io.BytesIO(_decrypted(photo, "thumb", owner))).convert("RGB")
    assert poster.width < poster.height  # turned upright
    red = poster.getpixel((poster.width - 5, 5))
    assert red[0] > 180 and red[1] < 90, red  # the mark went top-right: turned clockwise
    assert not photo.blobs.filter(variant="rendition").exists()  # H.264 MP4 plays as it is

    # The gallery tile shows the poster and the duration; the page plays the original.
    gallery = owner_client.get(reverse("photos:gallery")).content.decode()
    assert "video-badge" in gallery and "0:02" in gallery
    page = owner_client.get(reverse("photos:detail", args=[photo.id])).content.decode()
    assert f'src="{reverse("photos:play", args=[photo.id])}"' in page and "<video" in page

    whole = owner_client.get(reverse("photos:download", args=[photo.id]))
    assert _body(whole) == data  # byte for byte
    assert "IMG_0001.MP4" in whole["Content-Disposition"]
    middle = len(data) // 2
    part = owner_client.get(
        reverse("photos:play", args=[photo.id]), HTTP_RANGE=f"bytes={middle}-{middle + 99}"
    )
    assert part.status_code == 206 and part["Content-Type"] == "video/mp4"
    assert part["Content-Range"] == f"bytes {middle}-{middle + 99}/{len(data)}"
    assert _body(part) == data[middle : middle + 100]


def test_hevc_gets_an_h264_rendition_that_the_page_plays(owner_client, owner, worker_key):
    data = videos.clip(codec="libx265", seconds=1.0, rotation=-90)  # filmed upright
    photo = _stored(owner_client, "clip.mov", data)
    assert run_jobs() == ["ready"]
    rendition = photo.blobs.get(variant="rendition")
    assert rendition.media_type == "video/mp4" and (rendition.width, rendition.height) == (240, 320)
    played = _body(owner_client.get(reverse("photos:play", args=[photo.id])))
    with av.open(io.BytesIO(played)) as box:
        assert box.streams.video[0].codec_context.name == "h264"
        frames = list(box.decode(video=0))
    assert len(frames) >= 10
    assert round(frames[0].rotation) % 360 == 270  # the player turns it upright
    # The original still downloads as it was uploaded.
    assert _body(owner_client.get(reverse("photos:download", args=[photo.id]))) == data


def test_webm_and_a_moov_at_the_end_are_ready(owner_client, worker_key):
    webm = videos.clip(codec="libvpx-vp9", container="webm", seconds=1.0)
    late_index = videos.clip(seconds=1.0, faststart=False)
    assert late_index.find(b"moov") > late_index.find(b"mdat")  # the index comes last
    [one, two] = upload(owner_client, ("a.webm", webm), ("b.mp4", late_index))
    assert one["status"] == two["status"] == "stored"
    assert sorted(run_jobs()) == ["ready", "ready"]
    assert set(Photo.objects.values_list("media_type", "kind")) == {
        ("video/webm", "video"),
        ("video/mp4", "video"),
    }
    assert not Blob.objects.filter(variant="rendition").exists()


def test_bad_videos_get_a_clear_message_and_the_rest_of_the_batch_lands(owner_client, worker_key):
    good = videos.clip(seconds=1.0)
    cut = good[: len(good) * 2 // 3]  # a copy cut short
    renamed = b"This is a text file renamed to look like a video.\n" * 50
    outcomes = upload(
        owner_client,
        ("cut.mp4", cut),
        ("fake.mp4", renamed),
        ("holiday.jpg", support.jpeg()),
        ("good.mp4", good),
    )
    by_name = {o["name"]: o for o in outcomes}
    assert by_name["cut.mp4"]["status"] == "rejected"
    assert "cut short" in by_name["cut.mp4"]["message"]
    assert by_name["fake.mp4"]["status"] == "rejected"
    assert "not a photo or video" in by_name["fake.mp4"]["message"].lower()
    assert by_name["holiday.jpg"]["status"] == by_name["good.mp4"]["status"] == "stored"


def test_a_video_whose_pictures_cannot_be_decoded_fails_with_a_reason(owner_client, worker_key):
    data = bytearray(videos.clip(seconds=1.0, faststart=True))
    # Keep the structure (boxes chain up, moov is there) but wipe the picture data.
    mdat = data.find(b"mdat") + 4
    data[mdat:] = bytes(len(data) - mdat)
    photo = _stored(owner_client, "broken.mp4", bytes(data))
    assert run_jobs() == ["failed"]
    photo.refresh_from_db()
    assert "damaged" in photo.failure_reason or "truncated" in photo.failure_reason


def test_a_video_larger_than_the_video_limit_is_refused(owner_client, settings):
    settings.VAULT_MAX_VIDEO_BYTES = 10_000
    data = videos.clip(seconds=1.0)
    assert len(data) > 10_000
    [outcome] = upload(owner_client, ("big.mp4", data))
    assert outcome["status"] == "rejected" and "larger than" in outcome["message"]
    assert not Photo.objects.exists()


def test_no_plaintext_of_a_video_reaches_disk_database_or_valkey(
    owner_client, owner, worker_key, data_dir, settings, redis_conn
):
    marker = os.urandom(12).hex()
    data = videos.clip(
        seconds=1.0,
        metadata={"title": f"marker {marker}", "location": "+48.8577+002.2950/"},
        codec="libx265",  # so that a rendition is made too
    )
    assert marker.encode() in data
    before = set(Path(tempfile.gettempdir()).iterdir())
    photo = _stored(owner_client, f"holiday-{marker}.mov", data)
    assert run_jobs() == ["ready"]
    assert photo.blobs.filter(variant="rendition").exists()
    places = [data_dir, settings.VAR_DIR, *(set(Path(tempfile.gettempdir()).iterdir()) - before)]
    rendition = _decrypted(photo, "rendition", owner)
    needles = [marker.encode(), data[:16], data[len(data) // 2 : len(data) // 2 + 32]]
    needles += [rendition[:16], rendition[len(rendition) // 2 : len(rendition) // 2 + 32]]
    scanned = 0
    for place in places:
        place = Path(place)
        for path in place.rglob("*") if place.is_dir() else [place]:
            if path.is_file():
                content = path.read_bytes()
                scanned += 1
                for needle in needles:
                    assert needle not in content, f"{needle[:16]!r} in clear in {path}"
    assert scanned >= 4  # original, rendition, preview, thumbnail
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM photos_photo")
        row = repr(cursor.fetchall())
    assert marker not in row and "48.85" not in row
    for key in redis_conn.scan_iter():  # Valkey: job arguments, worker keys, sessions
        assert marker.encode() not in key + (redis_conn.dump(key) or b"")


def test_a_video_of_a_person_gets_her_face_and_the_human_tag(owner_client, worker_key):
    from vault.people.models import Face

    # Nobody in the first half (a cat), the astronaut in the second: the poster shows the cat,
    # a keyframe later in the video shows her.
    cat = Image.open(io.BytesIO(support.real_photo("chelsea.png"))).convert("RGB")
    data = videos.clip(seconds=4.0, size=(512, 512), opening=cat)
    photo = _stored(owner_client, "eileen.mp4", data)
    assert run_jobs() == ["ready"]
    photo.refresh_from_db()
    faces = Face.objects.filter(photo=photo)
    assert faces.count() == 1 and faces.get().clusterable
    assert photo.tags.filter(label="human", rejected=False).exists()
    # The poster became the frame with her face, so that the face box fits the preview.
    face = faces.get()
    assert 0.2 < face.left + face.width / 2 < 0.8


def test_a_codec_the_decoder_lacks_is_named_in_the_failure(owner_client, worker_key):
    data = bytearray(videos.clip(seconds=1.0))
    sample_entry = data.find(b"avc1", data.find(b"moov"))  # the track's codec, in its stsd
    data[sample_entry : sample_entry + 4] = b"zzz1"
    photo = _stored(owner_client, "odd.mp4", bytes(data))
    assert run_jobs() == ["failed"]
    photo.refresh_from_db()
    assert "codec this server's decoder cannot read" in photo.failure_reason


def test_another_user_cannot_play_or_download_a_video(owner_client, other_client, worker_key):
    photo = _stored(owner_client, "mine.mp4", videos.clip(seconds=1.0, codec="libx265"))
    assert run_jobs() == ["ready"]
    assert photo.blobs.filter(variant="rendition").exists()
    for name in ("photos:play", "photos:download"):
        assert other_client.get(reverse(name, args=[photo.id])).status_code == 404


def test_a_motion_photo_keeps_its_still_and_plays_its_clip(owner_client, owner, worker_key):
    still = support.real_photo_jpeg("chelsea.png")
    clip = videos.clip(seconds=1.0, faststart=True)
    # Google appends the MP4; Samsung adds a trailer of its own after it.
    data = still + clip + b"MotionPhoto_Data" + bytes(40) + b"SEFT"
    photo = _stored(owner_client, "PXL_20240101_MP.jpg", data)
    assert photo.kind == "photo" and photo.media_type == "image/jpeg"
    assert run_jobs() == ["ready"]
    assert photo.blobs.get(variant="motion").media_type == "video/mp4"
    played = _body(owner_client.get(reverse("photos:motion", args=[photo.id])))
    assert played == clip  # the clip exactly, without the trailer
    page = owner_client.get(reverse("photos:detail", args=[photo.id])).content.decode()
    assert ">Live<" in page and reverse("photos:motion", args=[photo.id]) in page
    # The still stays the photo: its preview is a picture, the original downloads whole.
    assert _body(owner_client.get(reverse("photos:download", args=[photo.id]))) == data
    plain = _stored(owner_client, "plain.jpg", support.real_photo_jpeg("rocket.jpg"))
    assert run_jobs() == ["ready"]
    assert not plain.blobs.filter(variant="motion").exists()
    assert (
        ">Live<" not in owner_client.get(reverse("photos:detail", args=[plain.id])).content.decode()
    )
