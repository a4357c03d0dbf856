"""The trash: deleting moves photos there (single and select mode), out of the gallery and of
every album and share at once; restoring brings them back into their albums; deleting for good,
emptying and the daily expiry remove rows, key wraps and blobs (crypto-shredding)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.albums.conftest import keyring_for
from tests.users import PASSWORD
from vault.albums import services
from vault.albums.models import Album, AlbumPhoto
from vault.photos import storage
from vault.photos.models import Blob, Photo, ProcessingGrant
from vault.photos.trash import TRASH_DAYS, trash_expire
from vaultdev.signin import sign_in

pytestmark = pytest.mark.django_db


def _delete(client, *photos):
    return client.post(
        reverse("photos:delete"), {"photo": [str(p.id) for p in photos], "confirm": "yes"}
    )


def test_a_trashed_photo_leaves_the_gallery_and_every_album_and_share_at_once(
    owner, owner_client, album, member, member_client, owner_photos
):
    services.album_member_add(
        album=album, keyring=keyring_for(owner, PASSWORD), email=member.email, role="viewer"
    )
    first = owner_photos[0]
    url = reverse("albums:thumb", args=[album.id, first.id])
    assert member_client.get(url).status_code == 200
    Album.objects.filter(pk=album.pk).update(cover=first)
    _delete(owner_client, first)
    assert member_client.get(url).status_code == 404
    assert owner_client.get(url).status_code == 404
    assert not AlbumPhoto.objects.filter(photo=first).exists()  # its DK wrap is gone
    assert (
        f'data-photo="{first.id}"'
        not in owner_client.get(reverse("photos:gallery")).content.decode()
    )
    trash = owner_client.get(reverse("photos:trash")).content.decode()
    assert f'data-photo="{first.id}"' in trash
    assert Album.objects.get(pk=album.pk).cover_id is None
    assert "1 photo ·" in member_client.get(reverse("albums:list")).content.decode()


def test_restore_puts_the_photo_back_into_its_album_and_gallery(owner_client, album, owner_photos):
    first = owner_photos[0]
    Album.objects.filter(pk=album.pk).update(cover=first)
    _delete(owner_client, first)
    owner_client.post(reverse("photos:trash_restore"), {"photo": [str(first.id)]})
    first.refresh_from_db()
    assert first.trashed_at is None
    assert AlbumPhoto.objects.filter(album=album, photo=first).exists()
    assert Album.objects.get(pk=album.pk).cover_id == first.id
    page = owner_client.get(reverse("albums:detail", args=[album.id])).content.decode()
    assert f'data-photo="{first.id}"' in page
    assert owner_client.get(reverse("albums:thumb", args=[album.id, first.id])).status_code == 200
    # Its page opens again (no "Already deleted" from this session's memory of the delete).
    assert owner_client.get(reverse("photos:detail", args=[first.id])).status_code == 200


def test_delete_for_good_and_empty_shred_rows_wraps_and_blobs(
    owner, owner_client, album, owner_photos, django_capture_on_commit_callbacks
):
    first, second, third = owner_photos
    _delete(owner_client, first, second, third)
    # Only photos in the trash can be deleted for good from it.
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("photos:trash_delete"), {"photo": [str(first.id)]})
    assert not Photo.objects.filter(pk=first.pk).exists()
    assert not storage.photo_dir(owner.pk, first.id).exists()
    confirm = owner_client.post(reverse("photos:trash_empty"))
    assert "2 photos" in confirm.content.decode() and Photo.objects.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("photos:trash_empty"), {"confirm": "yes"})
    assert not Photo.objects.exists()
    assert not Blob.objects.exists() and not ProcessingGrant.objects.exists()
    assert not AlbumPhoto.objects.exists()
    for photo in owner_photos:
        assert not storage.photo_dir(owner.pk, photo.id).exists()
    assert Album.objects.filter(pk=album.pk).exists()  # the album stays, empty


def test_the_daily_expiry_deletes_only_what_waited_30_days(
    owner, owner_client, owner_photos, django_capture_on_commit_callbacks
):
    old, recent, kept = owner_photos
    _delete(owner_client, old, recent)
    Photo.objects.filter(pk=old.pk).update(
        trashed_at=timezone.now() - dt.timedelta(days=TRASH_DAYS, minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        call_command("vault_trash_expire")
    assert not Photo.objects.filter(pk=old.pk).exists()
    assert not storage.photo_dir(owner.pk, old.id).exists()
    assert Photo.objects.filter(pk=recent.pk, trashed_at__isnull=False).exists()
    assert Photo.objects.filter(pk=kept.pk, trashed_at=None).exists()
    assert trash_expire() == 0


def test_trash_actions_on_photos_not_in_the_trash_or_of_another_user_do_nothing(
    owner_client, other_client, owner_photos
):
    first, second, _third = owner_photos
    _delete(owner_client, first)
    for name in ("photos:trash_restore", "photos:trash_delete"):
        # another user's trashed photo, or a photo of one's own that is not in the trash
        assert other_client.post(reverse(name), {"photo": [str(first.id)]}).status_code == 404
        assert owner_client.post(reverse(name), {"photo": [str(second.id)]}).status_code == 404
    assert Photo.objects.filter(pk=first.pk, trashed_at__isnull=False).exists()
    assert Photo.objects.filter(pk=second.pk, trashed_at=None).exists()
    other_client.post(reverse("photos:trash_empty"), {"confirm": "yes"})
    assert Photo.objects.filter(pk=first.pk).exists()
    trash = other_client.get(reverse("photos:trash")).content.decode()
    assert str(first.id) not in trash


def test_a_trashed_photo_opened_from_another_session_says_it_is_in_the_trash(
    owner, owner_client, owner_photos
):
    """Its page (a bookmark, another tab or device) says so and offers Restore and Delete for
    good, not the gallery's album and tag actions that would refuse it."""
    photo = owner_photos[2]
    _delete(owner_client, photo)
    elsewhere = Client()
    sign_in(elsewhere, owner, PASSWORD)
    url = reverse("photos:detail", args=[photo.id])
    response = elsewhere.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "This photo is in the trash" in page
    assert reverse("photos:trash_restore") in page and ">Restore<" in page
    assert reverse("photos:trash_delete") in page and "Delete for good" in page
    assert reverse("photos:preview", args=[photo.id]) in page
    assert reverse("photos:tags", args=[photo.id]) not in page
    assert reverse("albums:add_photos") not in page
    assert f'action="{reverse("photos:delete")}"' not in page

    restored = elsewhere.post(
        reverse("photos:trash_restore"), {"photo": [str(photo.id)], "from": "photo"}, follow=True
    )
    assert restored.redirect_chain[-1][0] == url
    page = restored.content.decode()
    assert "Restored 1 photo." in page and "This photo is in the trash" not in page
    assert reverse("photos:tags", args=[photo.id]) in page

    assert _delete(elsewhere, photo).status_code == 302
    photo.refresh_from_db()
    assert photo.trashed_at is not None
    gone = elsewhere.post(
        reverse("photos:trash_delete"), {"photo": [str(photo.id)], "from": "photo"}, follow=True
    )
    assert "Deleted 1 photo for good." in gone.content.decode()
    assert not Photo.objects.filter(pk=photo.pk).exists()
    assert elsewhere.get(url)["Location"] == reverse("photos:gallery")  # "already deleted"


def test_a_photo_restored_in_another_session_can_be_trashed_again_from_the_first(
    owner, owner_client, owner_photos
):
    """Session A trashes a photo, session B restores it: A's next delete moves it to the trash
    again instead of answering "Already deleted" from A's memory of its first delete."""
    photo = owner_photos[0]
    assert _delete(owner_client, photo).status_code == 302
    other = Client()
    sign_in(other, owner, PASSWORD)
    assert (
        other.post(reverse("photos:trash_restore"), {"photo": [str(photo.id)]}).status_code == 302
    )
    photo.refresh_from_db()
    assert photo.trashed_at is None
    url = reverse("photos:detail", args=[photo.id])
    assert owner_client.get(url).status_code == 200  # its page opens again in session A

    again = _delete(owner_client, photo)
    assert again.status_code == 302
    photo.refresh_from_db()
    assert photo.trashed_at is not None
    page = owner_client.get(again["Location"]).content.decode()
    assert "Moved 1 photo to the trash" in page and "Already deleted" not in page
    # Still in the trash: A's memory answers again.
    twice = _delete(owner_client, photo)
    assert "Already deleted" in owner_client.get(twice["Location"]).content.decode()
