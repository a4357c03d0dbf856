"""The owner's albums: create, rename, describe, add and remove photos (from the gallery's
select mode and a photo's page), cover, delete (the photos stay); the album page shows only the
album's photos."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.albums.conftest import ALBUM_NAME
from vault.albums.models import Album, AlbumPhoto
from vault.photos.models import Photo

pytestmark = pytest.mark.django_db


def _tiles(html: str, photos) -> set:
    return {p.id for p in photos if f'data-photo="{p.id}"' in html}


def test_create_add_from_select_mode_and_the_album_page_shows_only_its_photos(
    owner_client, owner_photos
):
    response = owner_client.post(reverse("albums:list"), {"name": "Summer", "description": "hot"})
    album = Album.objects.get()
    assert response.url == reverse("albums:detail", args=[album.id])
    # The gallery's select mode offers the album.
    gallery = owner_client.get(reverse("photos:gallery")).content.decode()
    assert "Add to album" in gallery and str(album.id) in gallery
    first, second, _third = owner_photos
    owner_client.post(
        reverse("albums:add_photos"), {"album": str(album.id), "photo": [first.id, second.id]}
    )
    page = owner_client.get(reverse("albums:detail", args=[album.id])).content.decode()
    assert "Summer" in page and "hot" in page
    assert _tiles(page, owner_photos) == {first.id, second.id}
    thumb = owner_client.get(reverse("albums:thumb", args=[album.id, first.id]))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert b"".join(thumb.streaming_content)[:2] == b"\xff\xd8"
    # The first photo added became the cover; the list shows it.
    album.refresh_from_db()
    assert album.cover_id in {first.id, second.id}
    listing = owner_client.get(reverse("albums:list")).content.decode()
    assert "Summer" in listing and "2 photos" in listing


def test_add_from_a_photo_page_rename_cover_remove_and_delete(owner_client, owner_photos, album):
    third = owner_photos[2]
    page = owner_client.get(reverse("photos:detail", args=[third.id])).content.decode()
    assert "Add to album" in page and ALBUM_NAME in page
    owner_client.post(reverse("albums:add_photos"), {"album": str(album.id), "photo": third.id})
    assert AlbumPhoto.objects.filter(album=album).count() == 3
    owner_client.post(reverse("albums:cover", args=[album.id, third.id]))
    album.refresh_from_db()
    assert album.cover_id == third.id

    owner_client.post(
        reverse("albums:edit", args=[album.id]),
        {"name": "Renamed trip", "description": "New words"},
    )
    page = owner_client.get(reverse("albums:detail", args=[album.id])).content.decode()
    assert "Renamed trip" in page and "New words" in page and ALBUM_NAME not in page

    owner_client.post(reverse("albums:remove_photos", args=[album.id]), {"photo": third.id})
    page = owner_client.get(reverse("albums:detail", args=[album.id])).content.decode()
    assert _tiles(page, owner_photos) == {owner_photos[0].id, owner_photos[1].id}
    album.refresh_from_db()
    assert album.cover_id is None

    confirm = owner_client.post(reverse("albums:delete", args=[album.id]))
    assert "stays in its owner" in confirm.content.decode()
    assert Album.objects.filter(pk=album.pk).exists()  # not without the confirmation
    owner_client.post(reverse("albums:delete", args=[album.id]), {"confirm": "yes"})
    assert not Album.objects.filter(pk=album.pk).exists()
    assert Photo.objects.count() == 3  # the photos stay


def test_an_empty_name_is_refused_with_a_message(owner_client, owner_photos):
    response = owner_client.post(reverse("albums:list"), {"name": "  "}, follow=True)
    assert response.status_code == 200
    assert not Album.objects.exists()
    assert "This field is required" in response.content.decode()


def test_a_mangled_album_id_in_the_add_form_is_404_not_500(owner_client, owner_photos):
    for value in ("", "nonsense", "1" * 500):
        response = owner_client.post(
            reverse("albums:add_photos"), {"album": value, "photo": owner_photos[0].id}
        )
        assert response.status_code == 404


def test_the_album_page_filters_by_tag_and_date_like_the_gallery(owner_client, album, owner_photos):
    from vault.photos.models import Tag

    first, second, _private = owner_photos
    Tag.objects.filter(photo__in=owner_photos).delete()
    Tag.objects.create(photo=first, label="animal", source=Tag.USER)
    url = reverse("albums:detail", args=[album.id])
    page = owner_client.get(url, {"tag": "animal"}).content.decode()
    assert _tiles(page, owner_photos) == {first.id}
    assert 'data-tag="animal" href="/albums/' in page and 'aria-current="true"' in page
    assert _tiles(owner_client.get(url).content.decode(), owner_photos) == {first.id, second.id}
    later = owner_client.get(url, {"date_from": "2999-01-01"}).content.decode()
    assert _tiles(later, owner_photos) == set() and "No photos match these filters" in later
    bad = owner_client.get(url, {"date_from": "not a date", "tag": "nonsense"})
    assert bad.status_code == 200
