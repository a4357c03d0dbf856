"""An animated WebP whose first frame is black, uploaded in real Chromium and processed by a real
worker process: its tile shows a frame with content and an "Animated" badge over the picture,
the photo page says so too, and a still photo beside it carries no badge. Flat coloured frames
after a black one are content too."""

import io

import pytest
from PIL import Image, ImageStat

from tests.photos import picture_files as files
from tests.users import PASSWORD
from vaultdev.signin import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOADED = "i => i && i.complete && i.naturalWidth > 0"


def test_an_animation_is_marked_on_its_tile_and_page(page, owner, rq_worker):
    black = Image.new("RGB", (320, 240))
    frame = Image.new("RGB", (320, 240), (200, 30, 30))
    frame.paste((30, 30, 200), (0, 0, 160, 240))
    uploads = {
        "moving.webp": files.animation("WEBP", [black, frame, black]),
        "still.png": files.saved(frame, "PNG"),
    }
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.get_by_role("link", name="Upload", exact=True).click()
    page.locator("#id_photos").set_input_files(
        [{"name": name, "mimeType": "image/*", "buffer": data} for name, data in uploads.items()]
    )
    page.locator(".upload-item.ready").nth(1).wait_for(timeout=90_000)

    page.get_by_role("link", name="Gallery", exact=True).click()
    page.wait_for_function(f"() => [...document.querySelectorAll('.tile img')].every({LOADED})")
    assert page.locator(".tile img").count() == 2
    badges = page.locator(".tile .animated-badge")
    assert badges.count() == 1
    badge = badges.first
    assert badge.is_visible() and badge.inner_text() == "Animated"
    tile = page.locator(".tile", has=page.locator(".animated-badge"))
    inside, outside = badge.bounding_box(), tile.bounding_box()
    assert (
        outside["x"] <= inside["x"]
        and inside["x"] + inside["width"] <= outside["x"] + outside["width"]
    )
    assert (
        outside["y"] <= inside["y"]
        and inside["y"] + inside["height"] <= outside["y"] + outside["height"]
    )
    # The tile shows the frame with content, not the black first frame.
    assert tile.locator("img").evaluate(
        """img => { const c = document.createElement('canvas'); c.width = img.naturalWidth;
                    c.height = img.naturalHeight; const g = c.getContext('2d');
                    g.drawImage(img, 0, 0); const [r, , b] = g.getImageData(c.width / 4,
                    c.height / 2, 1, 1).data; return b > 150 && r < 80; }"""
    )

    tile.locator("a.tile-link").click()
    page.wait_for_function(f"() => [document.querySelector('.preview img')].every({LOADED})")
    assert page.locator(".photo-name .animated-badge").is_visible()
    page.get_by_text("Animated image: the picture shows one frame").wait_for()


@pytest.mark.parametrize("lossless", [True, False], ids=["lossless", "lossy"])
def test_flat_coloured_frames_after_a_black_one_give_a_coloured_thumbnail(
    page, owner, rq_worker, lossless
):
    """Three flat 320 × 240 frames (black, red, blue) in RGB without alpha, uploaded through the
    page and processed by a real worker: the thumbnail is the red frame, not black."""
    frames = [
        Image.new("RGB", (320, 240), colour) for colour in ((0, 0, 0), (255, 0, 0), (0, 0, 255))
    ]
    data = files.animation("WEBP", frames, lossless=lossless)
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.get_by_role("link", name="Upload", exact=True).click()
    page.locator("#id_photos").set_input_files(
        [{"name": "flat.webp", "mimeType": "image/webp", "buffer": data}]
    )
    page.locator(".upload-item.ready").first.wait_for(timeout=90_000)

    page.get_by_role("link", name="Gallery", exact=True).click()
    thumb = page.locator(".tile img").first
    thumb.wait_for()
    picture = page.request.get(thumb.get_attribute("src"))
    assert picture.ok
    mean = ImageStat.Stat(Image.open(io.BytesIO(picture.body())).convert("RGB")).mean
    assert mean == pytest.approx([255, 0, 0], abs=12), mean
