"""The Albums page's title with a partner share on; the partner share is not managed like an
album (no members, roles or share link); clear messages for a photo that is not found and a
role that does not exist."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages

from vault.albums.models import Album, AlbumMember

pytestmark = pytest.mark.django_db


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def partner_album(owner, owner_client, member):
    assert owner_client.post("/albums/partner/start", {"email": member.email}).status_code == 302
    return Album.objects.get(owner=owner, kind=Album.Kind.PARTNER)


def test_the_albums_page_title_is_only_its_title_with_a_partner_share_on(
    owner_client, member, partner_album
):
    page = owner_client.get("/albums/").content.decode()
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert title.strip() == "Albums · Secure Photo Vault"
    assert page.count('id="partner-title"') == 1  # the card shows once, in the page's body
    assert member.email in page.split("</title>", 1)[1]


def test_the_partner_share_has_no_members_roles_or_link_to_manage(
    owner_client, member, other_user, partner_album
):
    page = owner_client.get(f"/albums/{partner_album.id}/").content.decode()
    assert "Share link" not in page
    assert 'class="member-add"' not in page
    assert 'name="role"' not in page
    added = owner_client.post(
        f"/albums/{partner_album.id}/members", {"email": other_user.email, "role": "viewer"}
    )
    assert added.status_code == 404
    partner = AlbumMember.objects.get(album=partner_album, user=member)
    role = owner_client.post(
        f"/albums/{partner_album.id}/members/{partner.pk}/role", {"role": "contributor"}
    )
    assert role.status_code == 404
    assert sorted(
        AlbumMember.objects.filter(album=partner_album).values_list("user_id", "role")
    ) == sorted([(partner_album.owner_id, "owner"), (member.pk, "viewer")])
    assert owner_client.get(f"/links/new?album={partner_album.id}").status_code == 404


def test_an_album_owner_still_manages_members_roles_and_links(owner_client, album):
    page = owner_client.get(f"/albums/{album.id}/").content.decode()
    assert "Share link" in page and 'class="member-add"' in page


def test_adding_a_photo_that_is_not_found_says_so(owner_client, album):
    response = owner_client.post("/albums/add", {"album": str(album.id), "photo": ["x"]})
    assert response.status_code == 302
    assert _messages(response) == ["That photo was not found; nothing was added."]
    assert album.entries.count() == 2


def test_an_unknown_role_says_so_and_changes_nothing(owner, owner_client, member, album):
    from tests.albums.conftest import keyring_for
    from tests.users import PASSWORD
    from vault.albums import services

    services.album_member_add(
        album=album, keyring=keyring_for(owner, PASSWORD), email=member.email, role="viewer"
    )
    entry = AlbumMember.objects.get(album=album, user=member)
    response = owner_client.post(f"/albums/{album.id}/members/{entry.pk}/role", {"role": "owner"})
    assert response.status_code == 302
    assert _messages(response) == ["Choose viewer or contributor; the role did not change."]
    assert AlbumMember.objects.get(pk=entry.pk).role == "viewer"
