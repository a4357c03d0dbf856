"""A video in real Chromium with a real worker process: uploaded beside a photo, processed,
shown as a tile with its duration, played (time advances), sought to the middle (a range
request), and downloaded byte for byte."""

import pytest
from django.urls import reverse

from tests.photos import support, videos
from tests.photos.browser import choose_files_to_upload, downloaded, play_then_seek_to_middle
from vault.photos.models import Photo

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_video_uploads_plays_seeks_and_downloads(page, owner, rq_worker, live_server):
    clip = videos.clip(seconds=6.0)
    photo = support.real_photo_jpeg("rocket.jpg")
    choose_files_to_upload(
        page,
        owner,
        [
            {"name": "beach.mp4", "mimeType": "video/mp4", "buffer": clip},
            {"name": "rocket.jpg", "mimeType": "image/jpeg", "buffer": photo},
        ],
    )
    page.locator(".upload-item.ready").nth(1).wait_for(timeout=120_000)
    video = Photo.objects.get(kind="video")
    assert video.state == "ready"

    page.get_by_role("link", name="Gallery", exact=True).click()
    badge = page.locator(".tile .video-badge")
    badge.wait_for()
    assert "0:06" in badge.inner_text()

    page.goto(live_server.url + reverse("photos:detail", args=[video.id]))
    play_then_seek_to_middle(page)

    assert downloaded(page, "Download original") == clip


def test_a_big_video_goes_up_in_pieces_and_survives_a_dropped_piece(
    page, owner, rq_worker, settings
):
    settings.VAULT_RESUMABLE_FROM_BYTES = 1024
    settings.VAULT_RESUMABLE_PIECE_BYTES = 16 * 1024
    clip = videos.clip(seconds=3.0)
    assert len(clip) > 3 * 16 * 1024  # several pieces
    dropped = []

    def drop_the_second_piece(route):
        request = route.request
        if request.method == "PATCH" and not dropped and request.headers["upload-offset"] != "0":
            dropped.append(request.headers["upload-offset"])
            route.abort("connectionreset")  # the connection breaks during this piece
        else:
            route.continue_()

    page.route("**/photos/uploads/*", drop_the_second_piece)
    choose_files_to_upload(
        page, owner, [{"name": "long.mp4", "mimeType": "video/mp4", "buffer": clip}]
    )
    page.locator(".upload-item.ready").wait_for(timeout=120_000)
    assert dropped  # a piece was lost, and the upload still completed
    video = Photo.objects.get(kind="video")
    page.goto(page.url.split("/photos/")[0] + reverse("photos:detail", args=[video.id]))
    assert downloaded(page, "Download original") == clip
    from vault.photos.models import ResumableUpload

    assert ResumableUpload.objects.get().outcome["status"] == "stored"
    # The broken piece is logged by the browser, as it should be: that one is on purpose.
    page.vault_problems[:] = [p for p in page.vault_problems if "ERR_CONNECTION_RESET" not in p]
