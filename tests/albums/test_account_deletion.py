"""Deleting an account still deletes everything at once: an owner's albums, shares and trash go
with it; a member's wraps and memberships go, and the albums they were in carry on."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.albums.conftest import keyring_for
from tests.users import PASSWORD
from vault.accounts.services import account_delete
from vault.albums import services
from vault.albums.models import Album, AlbumKeyWrap, AlbumMember, AlbumPhoto, TrashedAlbumEntry
from vault.photos.models import Photo

pytestmark = pytest.mark.django_db


def test_deleting_the_owner_removes_albums_shares_and_trash(
    owner, owner_client, album, member, member_client, owner_photos
):
    services.album_member_add(
        album=album, keyring=keyring_for(owner, PASSWORD), email=member.email, role="viewer"
    )
    owner_client.post(
        reverse("photos:delete"), {"photo": [str(owner_photos[0].id)], "confirm": "yes"}
    )
    account_delete(user=owner)
    for model in (Album, AlbumMember, AlbumKeyWrap, AlbumPhoto, TrashedAlbumEntry, Photo):
        assert not model.objects.exists(), model.__name__
    assert member_client.get(reverse("albums:detail", args=[album.id])).status_code == 404


def test_deleting_a_member_leaves_the_album_to_the_others(owner, album, member, owner_photos):
    services.album_member_add(
        album=album, keyring=keyring_for(owner, PASSWORD), email=member.email, role="viewer"
    )
    account_delete(user=member)
    assert list(AlbumMember.objects.values_list("user_id", flat=True)) == [owner.pk]
    assert list(AlbumKeyWrap.objects.values_list("user_id", flat=True)) == [owner.pk]
    assert AlbumPhoto.objects.filter(album=album).count() == 2
