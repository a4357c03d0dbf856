"""Sharing an album with another user of the vault: the member reads the photos (thumbnail,
preview, original, date, file name; the place only when the owner allows it) while the owner is
signed out, contributors add their own photos, everyone sees who added what, the new member
gets an email, and nothing else of the owner's is in reach."""

from __future__ import annotations

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.albums.conftest import ALBUM_NAME, MEMBER_PASSWORD, keyring_for, upload_ready
from tests.photos import support
from tests.users import PASSWORD
from vault.albums import services
from vault.albums.models import AlbumPhoto
from vaultdev.signin import sign_in

pytestmark = pytest.mark.django_db


def _share(owner_client, album, email, role):
    return owner_client.post(
        reverse("albums:member_add", args=[album.id]), {"email": email, "role": role}, follow=True
    )


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_member_reads_the_album_with_the_owner_signed_out(
    owner_client, album, member, owner_photos, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _share(owner_client, album, "MIA@example.org", "viewer")
    assert "they got an email" in response.content.decode()
    [email] = [m for m in mail.outbox if member.email in m.to]
    assert f"http://testserver/albums/{album.id}/" in email.body and "Olive Owner" in email.body
    assert ALBUM_NAME not in email.body  # sealed in the vault; mail travels in the clear

    owner_client.post(reverse("accounts:logout"))
    Session.objects.all().delete()  # no session of the owner's survives: their keys are gone

    client = Client()
    sign_in(client, member, MEMBER_PASSWORD)
    listing = client.get(reverse("albums:list")).content.decode()
    assert "Shared with me" in listing and ALBUM_NAME in listing and "Olive Owner" in listing
    page = client.get(reverse("albums:detail", args=[album.id])).content.decode()
    first, second, private = owner_photos
    assert f'data-photo="{first.id}"' in page and f'data-photo="{second.id}"' in page
    assert str(private.id) not in page

    thumb = client.get(reverse("albums:thumb", args=[album.id, first.id]))
    preview = client.get(reverse("albums:preview", args=[album.id, first.id]))
    original = client.get(reverse("albums:download", args=[album.id, first.id]))
    assert thumb.status_code == preview.status_code == original.status_code == 200
    assert _body(thumb)[:2] == _body(preview)[:2] == b"\xff\xd8"
    assert _body(original) == support.jpeg(support.picture(seed=1))
    assert 'filename="beach.jpg"' in original["Content-Disposition"]
    detail = client.get(reverse("albums:photo", args=[album.id, first.id])).content.decode()
    assert "beach.jpg" in detail and "Olive Owner" in detail  # name, and who added it


def test_the_member_never_reaches_the_owners_other_photos_or_pages(
    owner_client, album, member, member_client, owner_photos
):
    _share(owner_client, album, member.email, "contributor")
    first, _second, private = owner_photos
    for name in ("photos:detail", "photos:thumb", "photos:preview", "photos:download"):
        assert member_client.get(reverse(name, args=[first.id])).status_code == 404
    for name in ("albums:photo", "albums:thumb", "albums:preview", "albums:download"):
        assert member_client.get(reverse(name, args=[album.id, private.id])).status_code == 404
    gallery = member_client.get(reverse("photos:gallery")).content.decode()
    assert str(first.id) not in gallery
    people = member_client.get(reverse("people:list")).content.decode()
    assert "Olive" not in people


def test_the_place_is_shared_only_when_the_owner_includes_locations(
    owner_client, owner, member, member_client, worker_key
):
    [photo] = upload_ready(
        owner_client, ("gps.jpg", support.jpeg(support.picture(seed=4), gps=(48.85837, 2.29448)))
    )
    ring = keyring_for(owner, PASSWORD)
    hidden = services.album_create(owner=owner, keyring=ring, name="No places")
    shown = services.album_create(owner=owner, keyring=ring, name="With places")
    services.album_edit(
        album=shown, keyring=ring, name="With places", description="", include_locations=True
    )
    for album in (hidden, shown):
        shown.refresh_from_db()
        services.album_photos_add(album=album, keyring=ring, user=owner, photo_ids=[photo.id])
        _share(owner_client, album, member.email, "viewer")
    without = member_client.get(reverse("albums:photo", args=[hidden.id, photo.id]))
    with_place = member_client.get(reverse("albums:photo", args=[shown.id, photo.id]))
    assert "48.85837" not in without.content.decode()
    assert "48.85837" in with_place.content.decode()
    assert AlbumPhoto.objects.get(album=hidden).place_sealed is None
    # Turning it off takes the places out at once.
    owner_client.post(
        reverse("albums:edit", args=[shown.id]), {"name": "With places", "description": ""}
    )
    again = member_client.get(reverse("albums:photo", args=[shown.id, photo.id]))
    assert "48.85837" not in again.content.decode()


def test_a_contributor_adds_their_own_photos_and_everyone_sees_who_added_what(
    owner_client, album, member, member_client, worker_key
):
    _share(owner_client, album, member.email, "contributor")
    [theirs] = upload_ready(member_client, ("mias.jpg", support.jpeg(support.picture(seed=7))))
    gallery = member_client.get(reverse("photos:gallery")).content.decode()
    assert "Add to album" in gallery and ALBUM_NAME in gallery
    response = member_client.post(
        reverse("albums:add_photos"), {"album": str(album.id), "photo": [str(theirs.id)]}
    )
    assert response.status_code == 302
    owner_page = owner_client.get(reverse("albums:detail", args=[album.id])).content.decode()
    assert f'data-photo="{theirs.id}"' in owner_page
    assert "added by Mia Member" in owner_page and "added by Olive Owner" in owner_page
    detail = owner_client.get(reverse("albums:photo", args=[album.id, theirs.id])).content.decode()
    assert "mias.jpg" in detail and "Mia Member" in detail
    original = owner_client.get(reverse("albums:download", args=[album.id, theirs.id]))
    assert _body(original) == support.jpeg(support.picture(seed=7))
    # The contributor may take out what they added, not the owner's photos.
    owner_photo = AlbumPhoto.objects.filter(album=album, added_by=album.owner).first()
    member_client.post(
        reverse("albums:remove_photos", args=[album.id]),
        {"photo": [str(theirs.id), str(owner_photo.photo_id)]},
    )
    left = set(AlbumPhoto.objects.filter(album=album).values_list("photo_id", flat=True))
    assert theirs.id not in left and owner_photo.photo_id in left


def test_sharing_with_an_unknown_email_or_twice_says_so(owner_client, album, member):
    response = _share(owner_client, album, "nobody@example.org", "viewer")
    assert "No user of this vault has that email" in response.content.decode()
    _share(owner_client, album, member.email, "viewer")
    response = _share(owner_client, album, member.email, "contributor")
    assert "already a member" in response.content.decode()
    response = _share(owner_client, album, "not an email", "viewer")
    assert response.status_code == 200 and "Give the email address" in response.content.decode()


def test_the_owner_changes_a_role(owner_client, album, member, member_client, worker_key):
    _share(owner_client, album, member.email, "viewer")
    from vault.albums.models import AlbumMember

    row = AlbumMember.objects.get(album=album, user=member)
    owner_client.post(
        reverse("albums:member_role", args=[album.id, row.pk]), {"role": "contributor"}
    )
    [theirs] = upload_ready(member_client, ("later.jpg", support.jpeg(support.picture(seed=8))))
    response = member_client.post(
        reverse("albums:add_photos"), {"album": str(album.id), "photo": [str(theirs.id)]}
    )
    assert response.status_code == 302
    assert AlbumPhoto.objects.filter(album=album, photo=theirs).exists()
