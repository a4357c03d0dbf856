"""Share links and album members (docs/links.md): a member's photos leave the owner's links
made from the album when the member leaves or is removed; and the password throttle counts per
(link, client address), with a per-link ceiling that stops a guesser spread over addresses."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.albums.conftest import MEMBER_PASSWORD, member_client  # noqa: F401 - fixture
from tests.links.conftest import keyring_for, write_photo
from tests.links.support import create, token_header
from tests.users import PASSWORD
from vault.albums import services
from vault.albums.models import AlbumMember
from vault.links.views.visit import LINK_CEILING

pytestmark = pytest.mark.django_db


@pytest.fixture
def contributed(owner, member, album):
    """A photo of the member's, added by them to the owner's album as a contributor."""
    services.album_member_add(
        album=album, keyring=keyring_for(owner, PASSWORD), email=member.email, role="contributor"
    )
    ring = keyring_for(member, MEMBER_PASSWORD)
    photo = write_photo(member, ring, "mias_secret.jpg")
    services.album_photos_add(album=album, keyring=ring, user=member, photo_ids=[photo.id])
    return photo


def _visible(link_id, lk, photo) -> tuple[bool, int, int]:
    """(in the manifest, thumb status, original status) for a visitor of the link."""
    visitor = Client()
    headers = token_header(lk)
    manifest = visitor.get(f"/l/{link_id}/manifest", **headers).json()
    listed = str(photo.id) in [p["id"] for p in manifest["photos"]]
    thumb = visitor.get(f"/l/{link_id}/blob/{photo.id}/thumb", **headers).status_code
    original = visitor.get(f"/l/{link_id}/blob/{photo.id}/original", **headers).status_code
    return listed, thumb, original


def test_a_leaving_contributors_photos_leave_the_owners_link(
    owner_client,
    member_client,  # noqa: F811 - the fixture imported above
    album,
    contributed,
):
    _, link_id, lk = create(owner_client, album=album, allow_downloads="on")
    assert _visible(link_id, lk, contributed) == (True, 200, 200)
    assert member_client.post(f"/albums/{album.id}/leave", {"confirm": "yes"}).status_code == 302
    assert _visible(link_id, lk, contributed) == (False, 404, 404)
    kept = Client().get(f"/l/{link_id}/manifest", **token_header(lk)).json()["photos"]
    assert len(kept) == 2  # the owner's own photos stay


def test_a_removed_contributors_photos_leave_the_owners_link(
    owner_client, member, album, contributed
):
    _, link_id, lk = create(owner_client, album=album, allow_downloads="on")
    assert _visible(link_id, lk, contributed) == (True, 200, 200)
    entry = AlbumMember.objects.get(album=album, user=member)
    remove = f"/albums/{album.id}/members/{entry.id}/remove"
    response = owner_client.post(remove, {"confirm": "yes"})
    assert response.status_code == 302
    assert _visible(link_id, lk, contributed) == (False, 404, 404)


@pytest.fixture
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _unlock(link_id, lk, password, ip):
    return Client().post(
        f"/l/{link_id}/unlock", {"password": password}, REMOTE_ADDR=ip, **token_header(lk)
    )


def test_one_addresss_wrong_passwords_do_not_lock_other_visitors(
    owner_client, owner_photos, settings, fast_hasher
):
    settings.VAULT_LOGIN_FREE_ATTEMPTS = 5
    _, link_id, lk = create(owner_client, photos=owner_photos[:1], password="grandma 1942")
    for n in range(5):
        assert _unlock(link_id, lk, f"wrong {n}", "203.0.113.7").status_code == 403
    assert _unlock(link_id, lk, "grandma 1942", "203.0.113.7").status_code == 429
    other = _unlock(link_id, lk, "grandma 1942", "198.51.100.20")
    assert other.status_code == 200 and other.json()["pass"]


def test_wrong_passwords_from_many_addresses_lock_the_link_at_the_ceiling(
    owner_client, owner_photos, fast_hasher
):
    _, link_id, lk = create(owner_client, photos=owner_photos[:1], password="grandma 1942")
    for n in range(LINK_CEILING):  # one guess each from many addresses: none locked alone
        assert _unlock(link_id, lk, f"wrong {n}", f"10.0.{n // 250}.{n % 250}").status_code == 403
    locked = _unlock(link_id, lk, "grandma 1942", "192.0.2.99")
    assert locked.status_code == 429 and "Try again in" in locked.json()["error"]
