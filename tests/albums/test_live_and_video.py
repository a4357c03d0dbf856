"""Videos and Live items in an album play for its members like on the photo page: a video's
player plays its rendition (HEVC) or original, a Live item's motion plays over its still, and
its photo, video and both download byte for byte, opened with the album key."""

from __future__ import annotations

import io
import uuid
import zipfile

import pytest
from django.urls import reverse

from tests.albums.conftest import keyring_for
from tests.photos import videos
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.albums import services
from vault.photos.models import Photo
from vaultdev.samples.live_photos import live_mov, live_still

pytestmark = pytest.mark.django_db


def _body(response) -> bytes:
    assert response.status_code in (200, 206), response.status_code
    return b"".join(response.streaming_content)


def test_a_member_plays_a_video_and_a_live_item_and_downloads_them(
    owner, owner_client, member, member_client, worker_key
):
    cid = str(uuid.uuid4())
    still, mov = live_still(cid), live_mov(cid)
    clip = videos.clip(seconds=1.0, codec="libx265")
    upload(owner_client, ("IMG_0500.JPG", still), ("IMG_0500.MOV", mov), ("walk.mp4", clip))
    assert set(run_jobs()) == {"ready"}
    live, video = Photo.objects.get(kind="photo"), Photo.objects.get(kind="video")
    ring = keyring_for(owner, PASSWORD)
    album = services.album_create(owner=owner, keyring=ring, name="Trip", description="")
    services.album_photos_add(album=album, keyring=ring, user=owner, photo_ids=[live.id, video.id])
    services.album_member_add(album=album, keyring=ring, email=member.email, role="viewer")

    tiles = member_client.get(reverse("albums:detail", args=[album.id])).content.decode()
    assert tiles.count(">Live<") == 1 and tiles.count('class="video-badge"') == 1
    page = member_client.get(reverse("albums:photo", args=[album.id, video.id])).content.decode()
    play = reverse("albums:play", args=[album.id, video.id])
    assert "<video" in page and play in page
    played = member_client.get(play, HTTP_RANGE="bytes=0-99")
    assert played.status_code == 206 and played["Content-Type"] == "video/mp4"  # the rendition

    page = member_client.get(reverse("albums:photo", args=[album.id, live.id])).content.decode()
    assert "data-live" in page and ">Live<" in page
    motion = member_client.get(reverse("albums:motion", args=[album.id, live.id]))
    assert motion["Content-Type"] == "video/mp4" and _body(motion)[4:8] == b"ftyp"
    assert _body(member_client.get(reverse("albums:download", args=[album.id, live.id]))) == still
    got = _body(member_client.get(reverse("albums:motion_download", args=[album.id, live.id])))
    assert got == mov
    both = _body(member_client.get(reverse("albums:download_both", args=[album.id, live.id])))
    archive = zipfile.ZipFile(io.BytesIO(both))
    assert [archive.read(n) for n in archive.namelist()] == [still, mov]

    # Saved to the member's library, the copy is Live too: one item, with the video.
    saved = member_client.post(reverse("albums:save", args=[album.id, live.id]))
    assert saved.status_code == 302
    [copy] = Photo.objects.filter(owner=member)
    assert copy.kind == "photo" and copy.blobs.filter(variant="motion").exists()
    got = _body(member_client.get(reverse("photos:motion_download", args=[copy.id])))
    assert got == mov


def test_a_stranger_gets_nothing_of_an_album_video(owner, owner_client, other_client, worker_key):
    cid = str(uuid.uuid4())
    upload(owner_client, ("IMG_0600.JPG", live_still(cid)), ("IMG_0600.MOV", live_mov(cid)))
    run_jobs()
    live = Photo.objects.get()
    ring = keyring_for(owner, PASSWORD)
    album = services.album_create(owner=owner, keyring=ring, name="Trip", description="")
    services.album_photos_add(album=album, keyring=ring, user=owner, photo_ids=[live.id])
    for name in ("albums:play", "albums:motion", "albums:motion_download", "albums:download_both"):
        assert other_client.get(reverse(name, args=[album.id, live.id])).status_code == 404
