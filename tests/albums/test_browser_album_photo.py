"""An album's photo page behaves like the library's, in real Chromium: the arrow keys step to
the newer and older photo of the album and Escape goes back to it; a video the browser cannot
play says so instead of showing an empty player."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.albums.conftest import keyring_for
from tests.users import PASSWORD
from vaultdev.signin import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _album_page(page, album, photo) -> str:
    return reverse("albums:photo", args=[album.id, photo.id])


def test_arrow_keys_step_through_an_album_and_escape_goes_back_to_it(page, owner, album):
    one, two = (entry.photo for entry in album.entries.all())
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.goto(_album_page(page, album, one))
    page.locator("a[data-key^=Arrow]").wait_for()
    # The album holds two photos: this page links the other one, newer or older.
    key = page.locator("a[data-key^=Arrow]").get_attribute("data-key")
    back = {"ArrowRight": "ArrowLeft", "ArrowLeft": "ArrowRight"}[key]
    page.keyboard.press(key)
    page.wait_for_url(lambda url: url.endswith(_album_page(page, album, two)))
    page.locator(f"a[data-key={back}]").wait_for()
    page.keyboard.press(back)
    page.wait_for_url(lambda url: url.endswith(_album_page(page, album, one)))
    page.keyboard.press("Escape")
    page.wait_for_url(lambda url: url.endswith(reverse("albums:detail", args=[album.id])))


def test_an_album_video_the_browser_cannot_play_says_so(page, owner, owner_client, album):
    from tests.photos import videos
    from tests.photos.conftest import run_jobs
    from tests.photos.uploads import upload
    from vault.albums import services
    from vault.photos.models import Photo

    # HEVC, which this Chromium does not decode, and no rendition (the worker could not make
    # one): the player stays empty, so the page says why.
    upload(owner_client, ("walk.mp4", videos.clip(seconds=1.0, codec="libx265")))
    assert run_jobs() == ["ready"]
    video = Photo.objects.get(kind="video")
    video.blobs.filter(variant="rendition").delete()
    services.album_photos_add(
        album=album, keyring=keyring_for(owner, PASSWORD), user=owner, photo_ids=[video.id]
    )
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.goto(_album_page(page, album, video))
    note = page.locator(".video-unplayable")
    note.wait_for(state="visible", timeout=20_000)
    assert "cannot play this video" in note.inner_text()
    page.vault_problems[:] = [p for p in page.vault_problems if "MEDIA" not in p.upper()]
