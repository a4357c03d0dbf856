"""What the upload page and the photo page tell a household user about big videos, in real
Chromium (issue 21 review):
- the last piece of a resumable upload puts the file together on the server, which takes a
  while for a big video; when the answer to that piece is lost and the page asks for the
  outcome while the server is still at it, the page waits for it (not "Not uploaded" with a
  script error);
- a session that ends mid-upload says so at once, and "Send again" after signing in again in
  another tab resumes the upload;
- a video the browser cannot play (no rendition) says so instead of an empty player."""

import json

import pytest

from tests.photos import videos
from tests.photos.browser import choose_files_to_upload
from tests.users import PASSWORD
from vault.photos.models import Photo
from vaultdev.signin import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_outcome_asked_for_while_the_server_assembles_is_waited_for(page, owner, settings):
    settings.VAULT_RESUMABLE_FROM_BYTES = 1024
    settings.VAULT_RESUMABLE_PIECE_BYTES = 16 * 1024
    clip = videos.clip(seconds=2.0)
    seen = {"lost": 0, "early": 0}

    def network(route):
        request = route.request
        last = request.method == "PATCH" and int(request.headers["upload-offset"]) + len(
            request.post_data_buffer or b""
        ) == len(clip)
        if last and not seen["lost"]:
            route.fetch()  # the server gets the last piece and puts the file together...
            seen["lost"] += 1
            route.abort("connectionreset")  # ...but its answer never reaches the page
        elif request.method == "GET" and seen["lost"] and not seen["early"]:
            # The page asks before the server is done: the answer it gets then.
            seen["early"] += 1
            body = {"offset": len(clip), "length": len(clip), "outcome": None}
            route.fulfill(status=200, content_type="application/json", body=json.dumps(body))
        else:
            route.continue_()

    page.route("**/photos/uploads/*", network)
    choose_files_to_upload(
        page, owner, [{"name": "long.mp4", "mimeType": "video/mp4", "buffer": clip}]
    )
    row = page.locator(".upload-item.pending, .upload-item.ready, .upload-item.rejected")
    row.wait_for(timeout=60_000)
    assert seen == {"lost": 1, "early": 1}
    text = row.inner_text()
    assert "rejected" not in row.get_attribute("class"), text
    assert "null" not in text and "Not uploaded" not in text
    assert Photo.objects.get().kind == "video"
    page.vault_problems[:] = [p for p in page.vault_problems if "ERR_CONNECTION_RESET" not in p]


def test_a_session_that_ends_mid_upload_says_so_and_resumes_after_signing_in(page, owner, settings):
    from django.contrib.sessions.models import Session

    from vault.photos.models import ResumableUpload

    settings.VAULT_RESUMABLE_FROM_BYTES = 1024
    settings.VAULT_RESUMABLE_PIECE_BYTES = 16 * 1024
    clip = videos.clip(seconds=3.0)
    assert len(clip) > 3 * 16 * 1024
    ended = []

    def sign_out_at_the_second_piece(route):
        request = route.request
        if request.method == "PATCH" and not ended and request.headers["upload-offset"] != "0":
            Session.objects.all().delete()  # the session ends (expired, signed out elsewhere)
            ended.append(True)
        route.continue_()

    page.route("**/photos/uploads/*", sign_out_at_the_second_piece)
    choose_files_to_upload(
        page, owner, [{"name": "long.mp4", "mimeType": "video/mp4", "buffer": clip}]
    )
    row = page.locator(".upload-item.rejected")
    row.wait_for(timeout=20_000)  # at once, not after a minute of retries
    assert "Your session has ended. Sign in again" in row.inner_text()
    # Signed in again in another tab, "Send again" resumes the same upload.
    other = page.context.new_page()
    sign_in_browser(other, email=owner.email, password=PASSWORD)
    other.close()
    row.get_by_role("button", name="Send again").click()
    page.locator(".upload-item.pending, .upload-item.ready").wait_for(timeout=60_000)
    assert ResumableUpload.objects.get().outcome["status"] == "stored"
    video = Photo.objects.get(kind="video")
    assert video.size == len(clip)
    # The piece sent after the session ended was led to the login page, which takes no PATCH:
    # the browser logs that answer, as it should.
    page.vault_problems[:] = [p for p in page.vault_problems if "/accounts/login/" not in p]


def test_a_video_the_browser_cannot_play_says_so(page, owner, owner_client, worker_key):
    from django.urls import reverse

    from tests.photos.conftest import run_jobs
    from tests.photos.uploads import upload

    # HEVC, which this Chromium does not decode, and no rendition (the worker could not make
    # one): the player stays empty, so the page says why and where the video is.
    upload(owner_client, ("walk.mp4", videos.clip(seconds=1.0, codec="libx265")))
    assert run_jobs() == ["ready"]
    video = Photo.objects.get()
    video.blobs.filter(variant="rendition").delete()
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.goto(page.url.split("/photos/")[0] + reverse("photos:detail", args=[video.id]))
    note = page.locator(".video-unplayable")
    note.wait_for(state="visible", timeout=20_000)
    assert "cannot play this video" in note.inner_text()
    # A video it plays says nothing of the kind.
    upload(owner_client, ("bike.mp4", videos.clip(seconds=1.0)))
    assert run_jobs() == ["ready"]
    playable = Photo.objects.exclude(pk=video.pk).get()
    page.goto(page.url.split("/photos/")[0] + reverse("photos:detail", args=[playable.id]))
    page.wait_for_function("() => document.querySelector('video').readyState >= 1")
    assert page.locator(".video-unplayable").is_hidden()
    page.vault_problems[:] = [p for p in page.vault_problems if "MEDIA" not in p.upper()]
