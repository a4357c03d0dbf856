"""A user who is not a member gets 404 from every album URL, whatever the method, and changes
nothing; a viewer gets 403/404 from every contributor or owner action. The URL list is read from
the URL resolver, so a route added later is tested without anyone remembering to."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from tests.albums.conftest import ALBUM_NAME, keyring_for
from tests.users import PASSWORD
from vault.albums import services
from vault.albums import urls as album_urls
from vault.albums.models import Album, AlbumKeyWrap, AlbumMember, AlbumPhoto

pytestmark = pytest.mark.django_db

KINDS = {"album_id": "album", "photo_id": "photo", "member_id": "member"}
# What a viewer may do; every other route with an album id is a contributor's or the owner's.
VIEWER_ROUTES = {
    "albums:detail",
    "albums:photo",
    "albums:thumb",
    "albums:preview",
    "albums:download",
    "albums:play",
    "albums:motion",
    "albums:motion_download",
    "albums:download_both",
    "albums:leave",
    "albums:save",
}


def routes() -> list[tuple[str, tuple[str, ...]]]:
    return [
        (f"albums:{route.name}", tuple(route.pattern.converters))
        for route in album_urls.urlpatterns
    ]


def routes_with_ids() -> list[str]:
    return [name for name, kwargs in routes() if kwargs]


def _url(name, objects):
    kwargs = dict(routes())[name]
    return reverse(name, kwargs={key: objects[KINDS[key]] for key in kwargs})


@pytest.fixture
def shared(owner, member, album, owner_photos):
    """The owner's album, shared with the member as viewer."""
    ring = keyring_for(owner, PASSWORD)
    row = services.album_member_add(album=album, keyring=ring, email=member.email, role="viewer")
    return {"album": album.id, "photo": owner_photos[0].id, "member": row.pk}


def _snapshot():
    return {
        "albums": sorted(Album.objects.values_list("id", "key_version", "cover_id")),
        "members": sorted(AlbumMember.objects.values_list("album_id", "user_id", "role")),
        "wraps": AlbumKeyWrap.objects.count(),
        "entries": sorted(AlbumPhoto.objects.values_list("album_id", "photo_id")),
    }


def _bodies(objects):
    yield {"confirm": "yes", "photo": [str(objects["photo"])], "album": str(objects["album"])}
    yield {"email": "oscar@example.org", "role": "contributor", "name": "Mallory"}


def test_every_route_keyword_is_known():
    assert routes_with_ids()
    for name, kwargs in routes():
        assert set(kwargs) <= set(KINDS), f"{name} takes {kwargs}: add the kind to KINDS"


@pytest.mark.parametrize("name", routes_with_ids())
def test_a_stranger_gets_404_for_every_method(shared, other_client, name):
    """404 from every route, with the method its form uses; a method the route never takes
    answers 405 exactly as it does for an album that does not exist."""
    url = _url(name, shared)
    made_up = _url(name, {**shared, "album": uuid.uuid4(), "photo": uuid.uuid4(), "member": 999})
    before = _snapshot()
    answers = []
    for method, body in [("get", None), ("head", None)] + [("post", b) for b in _bodies(shared)]:
        status = getattr(other_client, method)(url, body).status_code
        assert status == getattr(other_client, method)(made_up, body).status_code
        assert status in (404, 405), (method, status)
        answers.append(status)
    assert 404 in answers  # the method the route does take finds nothing
    assert _snapshot() == before


# A partner's own toggle (show the owner's library in my gallery): everyone else, the owner of
# the album included, gets 404 from it; tests/albums/test_partner.py shows it working.
PARTNER_ONLY = {"albums:partner_gallery"}
# A Live item's routes answer 404 for a photo without motion, like the shared one here;
# tests/albums/test_live_and_video.py shows them working for the owner's members.
LIVE_ONLY = {"albums:motion", "albums:motion_download", "albums:download_both"}


@pytest.mark.parametrize("name", sorted(set(routes_with_ids()) - PARTNER_ONLY - LIVE_ONLY))
def test_the_owner_gets_no_404_from_the_same_urls(shared, owner_client, name):
    """The test above is only worth something if the same URLs work for the owner."""
    url = _url(name, shared)
    status = owner_client.get(url).status_code
    if status == 405:
        status = owner_client.post(url).status_code
    assert status in (200, 302), status


@pytest.mark.parametrize("name", sorted(set(routes_with_ids()) - VIEWER_ROUTES))
def test_a_viewer_gets_403_or_404_from_every_contributor_or_owner_action(
    shared, member_client, name
):
    url = _url(name, shared)
    before = _snapshot()
    for body in _bodies(shared):
        assert member_client.post(url, body).status_code in (403, 404)
    assert _snapshot() == before


def test_a_viewer_cannot_add_photos_through_the_add_form(shared, member, member_client):
    from tests.albums.conftest import upload_ready
    from tests.photos import support

    [mine] = upload_ready(member_client, ("mine.jpg", support.jpeg(support.picture(seed=9))))
    body = {"album": str(shared["album"]), "photo": [str(mine.id)]}
    before = _snapshot()
    assert member_client.post(reverse("albums:add_photos"), body).status_code == 403
    assert _snapshot() == before


def test_the_stranger_cannot_add_to_the_owners_album_nor_their_photos_to_their_own(
    shared, other_user, other_client, owner_photos
):
    body = {"album": str(shared["album"]), "photo": [str(owner_photos[2].id)]}
    before = _snapshot()
    assert other_client.post(reverse("albums:add_photos"), body).status_code == 404
    other_client.post(reverse("albums:list"), {"name": "Mine"})
    theirs = Album.objects.get(owner=other_user)
    body = {"album": str(theirs.id), "photo": [str(owner_photos[2].id)]}
    assert other_client.post(reverse("albums:add_photos"), body).status_code == 404
    assert not AlbumPhoto.objects.filter(album=theirs).exists()
    assert _snapshot()["entries"] == before["entries"]


def test_the_album_list_of_a_stranger_shows_nothing_of_the_owners(shared, other_client):
    page = other_client.get(reverse("albums:list")).content.decode()
    assert ALBUM_NAME not in page and str(shared["album"]) not in page
