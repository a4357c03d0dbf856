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
from vault.albums.models import Album, AlbumKeyWrap, AlbumPhoto
from vaultdev.signin import sign_in

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


def test_the_partners_gallery_lists_the_owners_photos_with_the_owner_signed_out_and_a_toggle(
    owner, owner_client, member, worker_key, owner_photos
):
    owner_client.post(reverse("albums:partner_start"), {"email": member.email})
    album = Album.objects.get(owner=owner, kind=Album.Kind.PARTNER)
    owner_client.post(reverse("accounts:logout"))
    Session.objects.all().delete()
    client = Client()
    sign_in(client, member, MEMBER_PASSWORD)
    [theirs] = upload_ready(client, ("mine.jpg", support.jpeg(support.picture(seed=31))))

    gallery = client.get(reverse("photos:gallery")).content.decode()
    assert "Hide Olive Owner" in gallery
    for photo in (*owner_photos, theirs):
        assert f'data-photo="{photo.id}"' in gallery
    shared = owner_photos[0]
    # Not selectable (not theirs to delete or tag), but readable through the usual URLs.
    assert f'value="{shared.id}"' not in gallery and f'value="{theirs.id}"' in gallery
    thumb = client.get(reverse("photos:thumb", args=[shared.id]))
    assert thumb.status_code == 200 and b"".join(thumb.streaming_content)[:2] == b"\xff\xd8"
    original = client.get(reverse("photos:download", args=[shared.id]))
    assert b"".join(original.streaming_content) == support.jpeg(support.picture(seed=1))
    assert 'filename="beach.jpg"' in original["Content-Disposition"]
    page = client.get(reverse("photos:detail", args=[shared.id]))
    assert page.status_code == 302
    assert page["Location"] == reverse("albums:photo", args=[album.id, shared.id])
    # Never the owner's own pages or face crops: those stay 404.
    assert client.post(reverse("photos:retry", args=[shared.id])).status_code == 404
    assert (
        client.post(
            reverse("photos:tags", args=[shared.id]), {"label": "animal", "action": "add"}
        ).status_code
        == 404
    )

    client.post(reverse("albums:partner_gallery", args=[album.id]), {"show": "no"})
    gallery = client.get(reverse("photos:gallery")).content.decode()
    assert "Show Olive Owner" in gallery and f'data-photo="{shared.id}"' not in gallery
    assert f'data-photo="{theirs.id}"' in gallery
    client.post(reverse("albums:partner_gallery", args=[album.id]), {"show": "yes"})
    assert f'data-photo="{shared.id}"' in client.get(reverse("photos:gallery")).content.decode()

    sign_in(owner_client, owner, PASSWORD)
    owner_client.post(reverse("albums:partner_stop"))
    gallery = client.get(reverse("photos:gallery")).content.decode()
    assert f'data-photo="{shared.id}"' not in gallery and "Olive Owner" not in gallery
    assert client.get(reverse("photos:thumb", args=[shared.id])).status_code == 404
    assert client.get(reverse("photos:detail", args=[shared.id])).status_code == 404


def test_the_owner_of_the_share_cannot_flip_the_partners_toggle(owner, owner_client, member):
    owner_client.post(reverse("albums:partner_start"), {"email": member.email})
    album = Album.objects.get(owner=owner, kind=Album.Kind.PARTNER)
    response = owner_client.post(reverse("albums:partner_gallery", args=[album.id]), {"show": "no"})
    assert response.status_code == 404


def test_the_partner_may_leave_and_the_share_ends(owner, owner_client, member, member_client):
    owner_client.post(reverse("albums:partner_start"), {"email": member.email})
    album = Album.objects.get(owner=owner, kind=Album.Kind.PARTNER)
    member_client.post(reverse("albums:leave", args=[album.id]), {"confirm": "yes"})
    assert not Album.objects.exists() and not AlbumKeyWrap.objects.exists()
    assert "Share my library" in owner_client.get(reverse("albums:list")).content.decode()


def test_removing_the_partner_from_the_share_page_ends_the_share(owner, owner_client, member):
    owner_client.post(reverse("albums:partner_start"), {"email": member.email})
    album = Album.objects.get(owner=owner, kind=Album.Kind.PARTNER)
    row = album.members.get(user=member)
    owner_client.post(reverse("albums:member_remove", args=[album.id, row.pk]), {"confirm": "yes"})
    assert not Album.objects.exists() and not AlbumKeyWrap.objects.exists()
