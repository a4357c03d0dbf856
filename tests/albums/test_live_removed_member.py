"""A member removed from an album, or one who left, plays and downloads nothing more of its
videos and Live items: not the player's rendition, not the motion, not the video, not the ZIP
(issue 21 review)."""

from __future__ import annotations

import uuid

import pytest
from django.test import Client
from django.urls import reverse

from tests.albums.conftest import keyring_for
from tests.photos import videos
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.albums import services
from vault.albums.models import AlbumMember
from vault.photos.models import Photo
from vaultdev.samples.live_photos import live_mov, live_still

pytestmark = pytest.mark.django_db

ROUTES = ("albums:play", "albums:motion", "albums:motion_download", "albums:download_both")


def _album_with_media(owner, owner_client, member):
    cid = str(uuid.uuid4())
    upload(
        owner_client,
        ("IMG_0700.JPG", live_still(cid)),
        ("IMG_0700.MOV", live_mov(cid)),
        ("walk.mp4", videos.clip(seconds=1.0, codec="libx265")),
    )
    assert set(run_jobs()) == {"ready"}
    ring = keyring_for(owner, PASSWORD)
    album = services.album_create(owner=owner, keyring=ring, name="Trip", description="")
    ids = list(Photo.objects.values_list("id", flat=True))
    services.album_photos_add(album=album, keyring=ring, user=owner, photo_ids=ids)
    services.album_member_add(album=album, keyring=ring, email=member.email, role="viewer")
    live, video = Photo.objects.get(kind="photo"), Photo.objects.get(kind="video")
    return album, ring, live, video


def _codes(client, album, live, video) -> dict[str, int]:
    codes = {}
    for route in ROUTES:
        photo = video if route == "albums:play" else live
        codes[route] = client.get(reverse(route, args=[album.id, photo.id])).status_code
    return codes


@pytest.mark.parametrize("how", ["removed", "left"])
def test_a_former_member_gets_nothing_of_an_albums_videos(
    owner, owner_client, member, member_client, worker_key, how
):
    album, ring, live, video = _album_with_media(owner, owner_client, member)
    assert set(_codes(member_client, album, live, video).values()) == {200}
    if how == "removed":
        membership = AlbumMember.objects.get(album=album, user=member)
        services.album_member_remove(album=album, keyring=ring, member=membership)
    else:
        services.album_leave(album=album, user=member)
    assert set(_codes(member_client, album, live, video).values()) == {404}
    # Nor by the photo's own routes, nor signed out.
    for route in ("photos:play", "photos:motion", "photos:motion_download"):
        assert member_client.get(reverse(route, args=[live.id])).status_code == 404
    anonymous = _codes(Client(), album, live, video)
    assert set(anonymous.values()) == {302}
