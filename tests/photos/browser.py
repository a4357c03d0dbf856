"""Steps the photo browser tests share, in real Chromium: choosing files on the upload page of
a new vault, playing and seeking a video, downloading through a link."""

from __future__ import annotations

from tests.users import PASSWORD
from vaultdev.signin import sign_in_browser


def choose_files_to_upload(page, owner, files: list[dict]) -> None:
    """Sign `owner` (password tests.users.PASSWORD, an empty vault) in, open the upload page and
    choose `files` (Playwright's {"name", "mimeType", "buffer"}): the page starts sending."""
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.get_by_text("Your vault is empty").wait_for()
    page.get_by_role("link", name="Upload", exact=True).click()
    page.locator("#id_photos").set_input_files(files)


def play_then_seek_to_middle(page) -> None:
    """On a video's page: play it muted until its time passes 0.5 s, pause, seek to the middle
    (a range request) and wait until it is there; asserts the player shows no error."""
    player = page.locator("video.video-player")
    player.wait_for()
    player.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('video').currentTime > 0.5")
    player.evaluate("v => v.pause()")
    player.evaluate("v => { v.currentTime = v.duration / 2; }")
    page.wait_for_function(
        "() => { const v = document.querySelector('video');"
        " return !v.seeking && Math.abs(v.currentTime - v.duration / 2) < 0.6; }"
    )
    assert player.evaluate("v => v.error") is None


def downloaded(page, link_name: str) -> bytes:
    """The bytes the browser downloads when the link named exactly `link_name` is clicked."""
    with page.expect_download() as download_info:
        page.get_by_role("link", name=link_name, exact=True).click()
    with open(download_info.value.path(), "rb") as file:
        return file.read()
