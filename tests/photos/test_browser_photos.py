"""The whole photo flow in real Chromium, with a real worker process: upload three real photos,
watch them become ready, browse, preview, step with the keyboard, download, delete."""

import pytest
from django.urls import reverse

from tests.photos import support
from tests.users import PASSWORD
from vault.photos.models import Photo
from vaultdev.signin import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHOTOS = ["astronaut.png", "chelsea.png", "rocket.jpg"]
LOADED = "i => i && i.complete && i.naturalWidth > 0"  # an <img> that decoded a real picture


def test_upload_browse_preview_download_delete(page, owner, rq_worker, monkeypatch):
    from vault.photos import selectors

    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)  # so that the third photo comes by scrolling
    originals = {name: support.real_photo(name) for name in PHOTOS}
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.get_by_text("Your vault is empty").wait_for()  # the login lands in the gallery

    page.get_by_role("link", name="Upload", exact=True).click()
    page.locator("#id_photos").set_input_files(
        [{"name": name, "mimeType": "image/*", "buffer": data} for name, data in originals.items()]
    )
    # Each file gets its own row: uploaded, then processed by the worker, then ready.
    page.locator(".upload-item.ready").nth(2).wait_for(timeout=90_000)
    assert page.locator(".upload-item").count() == 3
    assert page.locator(".upload-item.ready img.upload-thumb").count() == 3

    page.get_by_role("link", name="Gallery", exact=True).click()
    tiles = page.locator(".tile img")
    tiles.nth(2).wait_for()  # two in the page, the third loaded as the end came into view
    assert page.locator("[data-more]").count() == 0
    assert tiles.count() == 3
    page.wait_for_function(f"() => [...document.querySelectorAll('.tile img')].every({LOADED})")

    # Preview, then the next photo with the arrow key.
    tiles.first.click()
    page.wait_for_function(f"() => [document.querySelector('.preview img')].every({LOADED})")
    first_url = page.url
    page.keyboard.press("ArrowRight")
    page.wait_for_url(lambda url: url != first_url and "/photos/" in url)
    page.locator(".preview > img").wait_for()

    # Download the original: the very bytes that were uploaded, under their name.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download original").click()
    download = download_info.value
    name = download.suggested_filename
    assert name in originals
    with open(download.path(), "rb") as downloaded:
        assert downloaded.read() == originals[name]

    # Select one photo in the gallery and delete it, after confirming.
    page.keyboard.press("Escape")
    page.wait_for_url(lambda url: url.endswith(reverse("photos:gallery")))
    page.get_by_role("button", name="Select").click()
    page.locator(".tile").first.click()
    page.get_by_text("1 selected").wait_for()
    page.get_by_role("button", name="Delete selected").click()
    page.get_by_role("heading", name="Delete 1 photo?").wait_for()
    page.get_by_role("button", name="Move to the trash").click()
    page.get_by_text("Moved 1 photo to the trash").wait_for()
    assert page.locator(".tile").count() == 2
    assert Photo.objects.filter(owner=owner, trashed_at=None).count() == 2
