"""Partner sharing: the owner shares their whole library; every photo, past and future (not
the trashed ones), reaches the partner, who reads them with the owner signed out; stopping ends
it at once."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from tests.albums.conftest import MEMBER_PASSWORD, upload_ready
from tests.photos import support
from tests.users import PASSWORD
from vault.accounts.testing import sign_in
from vault.albums.models import Album, AlbumKeyWrap, AlbumPhoto

pytestmark = pytest.mark.django_db


def test_the_partner_sees_every_photo_past_and_future_with_the_owner_signed_out_until_stopped(
    owner, owner_client, member, owner_photos
):
    past = owner_photos[0]
    owner_client.post(
        reverse("photos:delete"), {"photo": [str(owner_photos[2].id)], "confirm": "yes"}
    )
    response = owner_client.post(
        reverse("albums:partner_start"), {"email": member.email}, follow=True
    )
    assert "Your whole library is shared with mia@example.org" in response.content.decode()
    album = Album.objects.get(owner=owner, kind=Album.Kind.PARTNER)
    [new] = upload_ready(owner_client, ("new.jpg", support.jpeg(support.picture(seed=11))))
    assert AlbumPhoto.objects.filter(album=album, photo=new).exists()  # sealed at upload
    # Not among the owner's albums, nor offered as an album to add to.
    listing = owner_client.get(reverse("albums:list")).content.decode()
    assert "Stop sharing my library" in listing and "Mia Member" in listing
    assert "Your albums" in listing and f'data-album="{album.id}"' not in listing

    owner_client.post(reverse("accounts:logout"))
    Session.objects.all().delete()
    client = Client()
    sign_in(client, member, MEMBER_PASSWORD)
    shared = client.get(reverse("albums:list")).content.decode()
    assert "Olive Owner&#x27;s library" in shared or "Olive Owner's library" in shared
    page = client.get(reverse("albums:detail", args=[album.id])).content.decode()
    for photo in (past, owner_photos[1], new):
        assert f'data-photo="{photo.id}"' in page
    assert str(owner_photos[2].id) not in page  # in the trash
    thumb = client.get(reverse("albums:thumb", args=[album.id, new.id]))
    assert thumb.status_code == 200

    sign_in(owner_client, owner, PASSWORD)
    owner_client.post(reverse("albums:partner_stop"))
    assert client.get(reverse("albums:thumb", args=[album.id, new.id])).status_code == 404
    assert client.get(reverse("albums:detail", args=[album.id])).status_code == 404
    assert not AlbumKeyWrap.objects.exists() and not AlbumPhoto.objects.exists()
    listing = client.get(reverse("albums:list")).content.decode()
    assert f'data-album="{album.id}"' not in listing


def test_sharing_with_an_unknown_address_or_oneself_says_so(owner, owner_client, owner_photos):
    for email, message in (
        ("nobody@example.org", "No user of this vault"),
        (owner.email, "your own address"),
    ):
        response = owner_client.post(reverse("albums:partner_start"), {"email": email}, follow=True)
        assert message in response.content.decode()
    assert not Album.objects.exists()
