"""The required browser test of issue 21, in real Chromium with a real worker process: a
generated video and an iPhone Live Photo pair (a still and its HEVC MOV sharing a content
identifier) go up in ONE batch through the upload page; all are ready; the video plays (time
advances) and seeks to its middle; the Live item's motion plays on hover and on a tap of its
badge; the video and both halves of the Live pair download byte for byte."""

import uuid

import pytest
from django.urls import reverse

from tests.photos import videos
from tests.photos.browser import choose_files_to_upload, downloaded, play_then_seek_to_middle
from vault.photos.models import Photo
from vaultdev.samples.live_photos import live_mov, live_still

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_video_and_a_live_photo_in_one_batch_play_and_download(
    page, owner, rq_worker, live_server
):
    clip = videos.clip(seconds=6.0)
    cid = str(uuid.uuid4()).upper()
    still, mov = live_still(cid), live_mov(cid, seconds=2.0)
    choose_files_to_upload(
        page,
        owner,
        [
            {"name": "beach.mp4", "mimeType": "video/mp4", "buffer": clip},
            {"name": "IMG_0042.JPG", "mimeType": "image/jpeg", "buffer": still},
            {"name": "IMG_0042.MOV", "mimeType": "video/quicktime", "buffer": mov},
        ],
    )
    # Every row ends ready: the MOV's row follows the Live item it became part of.
    page.locator(".upload-item.ready").nth(2).wait_for(timeout=180_000)
    assert page.locator(".upload-item.failed, .upload-item.rejected").count() == 0
    video = Photo.objects.get(kind="video")
    live = Photo.objects.get(kind="photo")
    assert Photo.objects.count() == 2 and {video.state, live.state} == {"ready"}
    assert live.blobs.filter(variant="motion").exists()
    # The photo's and the MOV's rows both open the Live item.
    opens = page.locator(".upload-open").evaluate_all("links => links.map(l => l.href)")
    assert sorted(opens) == sorted(
        live_server.url + reverse("photos:detail", args=[p]) for p in (video.id, live.id, live.id)
    )

    page.goto(live_server.url + reverse("photos:detail", args=[video.id]))
    play_then_seek_to_middle(page)
    assert downloaded(page, "Download original") == clip

    page.goto(live_server.url + reverse("photos:detail", args=[live.id]))
    motion = page.locator("video.live-motion")
    # Desktop: the pointer on the still plays the motion over it.
    page.locator(".live-photo img").hover()
    page.wait_for_function(
        "() => document.querySelector('.live-photo').classList.contains('playing')"
        " && document.querySelector('video.live-motion').currentTime > 0.3"
    )
    assert motion.evaluate("v => v.error") is None
    page.mouse.move(0, 0)  # the pointer leaves: the still is back
    page.wait_for_function("() => !document.querySelector('.live-photo.playing')")
    # Phone: a tap on the Live badge plays it (no hover there).
    page.evaluate("() => { document.querySelector('video.live-motion').currentTime = 0; }")
    page.locator(".live-badge").dispatch_event("click")
    page.wait_for_function("() => document.querySelector('video.live-motion').currentTime > 0.3")
    assert downloaded(page, "Download photo") == still
    assert downloaded(page, "Download video") == mov
