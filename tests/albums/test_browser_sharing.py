"""Albums and sharing in real Chromium, two users and a real worker process: A creates an
album, adds photos, shares it with B as contributor and signs out; B sees the photos, downloads
an original, adds one of B's own and saves one of A's to B's library; A sees B's photo and
removes B; B no longer sees the album but keeps the saved copy. And the trash: three deleted
from select mode, one restored (back in its album), the trash emptied."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.albums.conftest import MEMBER_PASSWORD, upload_ready
from tests.photos import support
from tests.users import PASSWORD
from vault.albums.models import Album, AlbumKeyWrap, AlbumPhoto, TrashedAlbumEntry
from vault.photos import storage
from vault.photos.models import Photo
from vaultdev.pytest_plugin import wait_until
from vaultdev.signin import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOADED = "i => i && i.complete && i.naturalWidth > 0"


def _upload(page, files: dict[str, bytes]) -> None:
    page.get_by_role("link", name="Upload", exact=True).click()
    page.locator("#id_photos").set_input_files(
        [{"name": name, "mimeType": "image/jpeg", "buffer": data} for name, data in files.items()]
    )
    page.locator(".upload-item.ready").nth(len(files) - 1).wait_for(
        timeout=300_000
    )  # a busy 2-core CI box


def _select_all_in_gallery(page, count: int) -> None:
    page.get_by_role("link", name="Gallery", exact=True).click()
    page.get_by_role("button", name="Select").click()
    tiles = page.locator(".tile")
    for index in range(count):
        tiles.nth(index).click()
    page.get_by_text(f"{count} selected").wait_for()


def _sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="Sign in").first.wait_for()


def _thumbnails_loaded(page, count: int) -> None:
    page.locator(".tile img").nth(count - 1).wait_for()
    assert page.locator(".tile img").count() == count
    page.wait_for_function(f"() => [...document.querySelectorAll('.tile img')].every({LOADED})")


def test_two_users_share_an_album(page, owner, member, rq_worker):
    mine = {
        "a-beach.jpg": support.real_photo_jpeg("astronaut.png"),
        "a-cat.jpg": support.real_photo_jpeg("chelsea.png"),
    }
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    _upload(page, mine)
    page.get_by_role("link", name="Albums", exact=True).click()
    page.get_by_label("Name").fill("Trip to the lake")
    page.get_by_role("button", name="Create album").click()
    page.get_by_role("heading", name="Trip to the lake").wait_for()

    _select_all_in_gallery(page, 2)
    page.get_by_role("button", name="Add to album").click()
    page.get_by_role("heading", name="Trip to the lake").wait_for()
    _thumbnails_loaded(page, 2)

    page.get_by_label("Their email").fill(member.email)
    page.get_by_label("Role").select_option("contributor")
    page.get_by_role("button", name="Share", exact=True).click()
    page.get_by_text(f"Shared with {member.email}").wait_for()
    _sign_out(page)

    # B, with A signed out.
    sign_in_browser(page, email=member.email, password=MEMBER_PASSWORD)
    page.get_by_role("link", name="Albums", exact=True).click()
    page.get_by_role("link", name="Trip to the lake").click()
    _thumbnails_loaded(page, 2)
    page.locator(".tile-link").first.click()
    page.wait_for_function(f"() => [document.querySelector('.preview img')].every({LOADED})")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download original").click()
    download = download_info.value
    assert download.suggested_filename in mine
    with open(download.path(), "rb") as downloaded:
        assert downloaded.read() == mine[download.suggested_filename]
    saved_name = download.suggested_filename
    page.get_by_role("button", name="Save to my library").click()
    page.get_by_text("Saved to your library").wait_for()

    rocket = support.real_photo_jpeg("rocket.jpg")
    _upload(page, {"b-rocket.jpg": rocket})
    wait_until(lambda: Photo.objects.filter(owner=member, state="ready").count() == 2, timeout=300)
    b_photo = Photo.objects.get(owner=member, size=len(rocket))  # not the saved copy
    page.get_by_role("link", name="Gallery", exact=True).click()
    page.get_by_role("button", name="Select").click()
    page.locator(f'.tile[data-photo="{b_photo.id}"]').click()
    page.get_by_text("1 selected").wait_for()
    page.get_by_role("button", name="Add to album").click()
    _thumbnails_loaded(page, 3)
    _sign_out(page)

    # A sees B's photo and who added it, then removes B.
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.get_by_role("link", name="Albums", exact=True).click()
    page.get_by_role("link", name="Trip to the lake").click()
    _thumbnails_loaded(page, 3)
    page.locator(f'.tile[data-photo="{b_photo.id}"] .tile-link').click()
    page.get_by_text("Mia Member").wait_for()
    page.get_by_role("link", name="← Album").click()
    page.get_by_role("button", name="Remove Mia Member").click()
    page.get_by_text("Copies they already downloaded or saved").wait_for()
    page.get_by_role("button", name="Remove Mia Member").click()
    page.get_by_text("The album has a new key").wait_for()
    album = Album.objects.get(owner=owner)
    assert album.key_version == 2
    assert not AlbumKeyWrap.objects.filter(user=member).exists()
    _sign_out(page)

    # B no longer sees the album, and keeps the saved copy.
    sign_in_browser(page, email=member.email, password=MEMBER_PASSWORD)
    page.get_by_role("link", name="Albums", exact=True).click()
    page.get_by_text("Nobody has shared an album with you yet.").wait_for()
    assert page.get_by_role("link", name="Trip to the lake").count() == 0
    page.get_by_role("link", name="Gallery", exact=True).click()
    _thumbnails_loaded(page, 2)  # B's own photo and the saved copy
    copy = Photo.objects.filter(owner=member).exclude(pk=b_photo.pk).get()
    page.locator(f'.tile[data-photo="{copy.id}"] .tile-link').click()
    page.get_by_role("heading", name=saved_name).wait_for()


def test_the_trash(page, owner, owner_client, worker_key, django_capture_on_commit_callbacks):
    from tests.albums.conftest import keyring_for
    from vault.albums import services

    photos = upload_ready(
        owner_client,
        *[(f"t{i}.jpg", support.jpeg(support.picture(seed=20 + i))) for i in range(3)],
    )
    ring = keyring_for(owner, PASSWORD)
    album = services.album_create(owner=owner, keyring=ring, name="Kept together")
    services.album_photos_add(
        album=album, keyring=ring, user=owner, photo_ids=[p.id for p in photos]
    )
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    _select_all_in_gallery(page, 3)
    page.get_by_role("button", name="Delete selected").click()
    page.get_by_role("button", name="Move to the trash").click()
    page.get_by_text("Moved 3 photos to the trash").wait_for()
    assert not AlbumPhoto.objects.exists()  # out of the album at once

    page.get_by_role("link", name="Trash", exact=True).click()
    page.locator(".trash-tile img").nth(2).wait_for()
    restored = photos[1]
    page.locator(f'.trash-tile[data-photo="{restored.id}"] input').check()
    page.get_by_role("button", name="Restore selected").click()
    page.get_by_text("Restored 1 photo.").wait_for()
    assert page.locator(".trash-tile").count() == 2
    page.get_by_role("button", name="Empty the trash").click()
    page.get_by_role("heading", name="Empty the trash?").wait_for()
    page.get_by_role("button", name="Delete for good").click()
    page.get_by_text("2 photos deleted for good").wait_for()

    gone = [p for p in photos if p.id != restored.id]
    assert not Photo.objects.filter(pk__in=[p.id for p in gone]).exists()
    assert not TrashedAlbumEntry.objects.exists()
    for photo in gone:
        wait_until(lambda p=photo: not storage.photo_dir(owner.pk, p.id).exists())
    assert list(AlbumPhoto.objects.values_list("photo_id", flat=True)) == [restored.id]
    page.goto(reverse("albums:detail", args=[album.id]))
    _thumbnails_loaded(page, 1)
    assert page.locator(f'.tile[data-photo="{restored.id}"]').count() == 1


def test_the_album_pages_fit_a_phone(page, owner, owner_client, member, worker_key):
    """At 390 px wide nothing on the album, sharing and trash pages scrolls sideways (and the
    page fixture fails the test on any console error or CSP violation)."""
    from tests.albums.conftest import keyring_for
    from vault.albums import services

    photos = upload_ready(
        owner_client, *[(f"p{i}.jpg", support.jpeg(support.picture(seed=40 + i))) for i in range(2)]
    )
    ring = keyring_for(owner, PASSWORD)
    album = services.album_create(
        owner=owner, keyring=ring, name="A rather long album name for a narrow phone screen"
    )
    services.album_photos_add(album=album, keyring=ring, user=owner, photo_ids=[photos[0].id])
    services.album_member_add(album=album, keyring=ring, email=member.email, role="contributor")
    owner_client.post(reverse("photos:delete"), {"photo": [str(photos[1].id)], "confirm": "yes"})
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    for url in (
        reverse("albums:list"),
        reverse("albums:detail", args=[album.id]),
        reverse("albums:photo", args=[album.id, photos[0].id]),
        reverse("photos:detail", args=[photos[0].id]),
        reverse("photos:trash"),
        reverse("photos:gallery"),
    ):
        page.goto(url)
        page.locator("main").wait_for()
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= 390, (url, width)
