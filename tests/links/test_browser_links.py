"""A share link in real Chromium: the owner makes it from an album page; a visitor without an
account (a phone-sized window) sees the thumbnails decrypted in the browser, browses the
previews with the keyboard and a slideshow, downloads an original and a zip of all; then the
scans (every request the browser sent, the application log, pg_dump, Valkey) hold no link key;
a tampered blob shows an error, not a picture; and a revoke ends the link at the next load."""

from __future__ import annotations

import base64
import hashlib
import logging
import zipfile
from pathlib import Path

import pytest

from tests.albums.conftest import keyring_for
from tests.dump import database_dump
from tests.users import PASSWORD
from vault.crypto import link_keys
from vault.photos import blobs, storage
from vault.photos.models import Blob
from vaultdev.pytest_plugin import wait_until
from vaultdev.signin import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOADED = "i => i.complete && i.naturalWidth > 0 && i.src.startsWith('blob:')"
EXPECTED_HTTP_ERRORS = ("status of 410", "status of 404", "status of 403")


# Headless Chromium has showSaveFilePicker but answers it with AbortError at once (no dialog
# to drive): the Playwright-download tests take the in-memory path that other browsers use, and
# the streaming path gets a save "dialog" that collects what the page writes to the file.
NO_PICKER = "Object.defineProperty(window, 'showSaveFilePicker', {value: undefined})"
COLLECTING_PICKER = """
window.__saved = [];
window.__writes = 0;
window.__aborted = 0;
window.showSaveFilePicker = async ({suggestedName}) => ({
  createWritable: async () => {
    const parts = [];
    return {
      write: async (bytes) => { parts.push(new Uint8Array(bytes)); window.__writes += 1; },
      abort: async () => { parts.length = 0; window.__aborted += 1; },
      close: async () => {
        const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const p of parts) { all.set(p, at); at += p.length; }
        let text = "";
        for (let i = 0; i < all.length; i += 0x8000)
          text += String.fromCharCode(...all.subarray(i, i + 0x8000));
        window.__saved.push({name: suggestedName, b64: btoa(text), writes: parts.length});
      },
    };
  },
});
"""


def _visitor(browser, live_server, *, picker=NO_PICKER):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, accept_downloads=True
    )
    context.add_init_script(picker)
    sent: list[str] = []
    problems: list[str] = []

    def on_request(request) -> None:
        sent.append(request.url)
        sent.extend(f"{k}: {v}" for k, v in request.headers.items())
        sent.append(request.post_data or "")

    def on_console(message) -> None:
        if message.type == "error" and not any(e in message.text for e in EXPECTED_HTTP_ERRORS):
            problems.append(message.text)

    context.on("request", on_request)
    context.on("console", on_console)
    context.on("weberror", lambda error: problems.append(str(error.error)))
    page = context.new_page()
    page.set_default_timeout(30_000)
    return context, page, sent, problems


def _original(photo, ring) -> bytes:
    with blobs.blob_open(
        Blob.objects.get(photo=photo, variant="original"), private_key=ring.private_key
    ) as reader:
        return reader.read_all()


def _secret_forms(secret: bytes) -> list[str]:
    return [
        secret.hex(),
        base64.b64encode(secret).decode(),
        base64.urlsafe_b64encode(secret).rstrip(b"=").decode(),
    ]


def _access_log(monkeypatch) -> list[str]:
    """The live server's access log: its request handler is Django's quiet one, which drops
    the lines http.server writes for every request ("GET /path HTTP/1.1" 200 …); keep them."""
    from django.test.testcases import QuietWSGIRequestHandler

    lines: list[str] = []
    monkeypatch.setattr(
        QuietWSGIRequestHandler,
        "log_message",
        lambda self, format, *args: lines.append(format % args),
    )
    return lines


def test_visitor_sees_and_downloads_what_was_shared_and_the_server_never_holds_the_key(
    page, browser, live_server, owner, album, owner_photos, redis_conn, caplog, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    access_log = _access_log(monkeypatch)
    ring = keyring_for(owner, PASSWORD)
    # The owner makes a link from the album page.
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.goto(f"/albums/{album.id}/")
    page.get_by_role("link", name="Share link").click()
    page.get_by_label("Allow downloads").check()
    page.get_by_role("button", name="Create link").click()
    url = page.locator("#link-url").input_value()
    fragment = url.split("#", 1)[1]
    lk = base64.urlsafe_b64decode(fragment + "=")
    assert len(lk) == 32

    context, visitor, sent, problems = _visitor(browser, live_server)
    visitor.goto(url)
    visitor.locator("#link-visit[data-ready=true]").wait_for()
    tiles = visitor.locator(".link-tile img")
    assert tiles.count() == 2
    visitor.wait_for_function(
        f"() => [...document.querySelectorAll('.link-tile img')].every({LOADED})"
    )
    # Phone width: nothing wider than the window.
    assert visitor.evaluate("document.documentElement.scrollWidth") <= 390
    assert visitor.get_by_text("Holiday at Lake").count() == 0  # the album's name stays sealed
    assert visitor.get_by_text(owner.email).count() == 0

    # Preview, Older/Newer with the arrow keys and buttons.
    tiles.first.click()
    visitor.wait_for_function(f"() => ({LOADED})(document.getElementById('link-preview'))")
    first = wait_until(lambda: visitor.locator("#link-caption").inner_text())
    visitor.keyboard.press("ArrowRight")
    wait_until(lambda: visitor.locator("#link-caption").inner_text() not in ("", first))
    second = visitor.locator("#link-caption").inner_text()
    visitor.get_by_role("button", name="Newer").click()
    wait_until(lambda: visitor.locator("#link-caption").inner_text() == first)
    names = {first.split(" · ")[0], second.split(" · ")[0]}
    assert names == {"beach.jpg", "lake.jpg"}

    # Download the original shown: the owner's bytes exactly.
    with visitor.expect_download() as download:
        visitor.get_by_role("button", name="Download original").click()
    by_name = {"beach.jpg": owner_photos[0], "lake.jpg": owner_photos[1]}
    shown = by_name[first.split(" · ")[0]]
    assert download.value.suggested_filename == first.split(" · ")[0]
    assert Path(download.value.path()).read_bytes() == _original(shown, ring)

    # Slideshow: it moves on by itself.
    visitor.get_by_role("button", name="Close").click()
    visitor.get_by_role("button", name="Slideshow").click()
    before = wait_until(lambda: visitor.locator("#link-caption").inner_text())
    wait_until(lambda: visitor.locator("#link-caption").inner_text() != before, timeout=20)
    visitor.get_by_role("button", name="Close").click()

    # The whole selection as one zip.
    with visitor.expect_download() as download:
        visitor.get_by_role("button", name="Download all (zip)").click()
    with zipfile.ZipFile(download.value.path()) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["beach.jpg", "lake.jpg"]
        for photo, name in zip(owner_photos[:2], ["beach.jpg", "lake.jpg"], strict=True):
            assert archive.read(name) == _original(photo, ring)
    assert problems == []

    # Scans: the key and the key it derives never reached the server.
    secrets = [lk, link_keys.wrapping_key(lk)]
    forms = [form for s in secrets for form in _secret_forms(s)]
    for line in sent:
        for form in forms:
            assert form not in line, line
    app_log = caplog.text
    assert any(f"/l/{url.split('/l/')[1].split('#')[0]}/manifest" in x for x in access_log)
    for line in access_log:
        for form in forms:
            assert form not in line, line
    dump = database_dump()
    valkey = []
    for key in redis_conn.scan_iter("*"):
        valkey.append(key.hex())
        value = redis_conn.dump(key)
        if value is not None:
            valkey.append(value.hex())
    valkey_text = " ".join(valkey)
    for form in forms:
        assert form not in app_log
        assert form not in dump
    for secret in secrets:
        assert secret.hex() not in valkey_text
    # The fragment was what the visitor's address bar held; a request never carried it.
    assert any(live_server.url in line and "/manifest" in line for line in sent)

    # A tampered thumbnail: an error in its tile, never a wrong picture.
    photo = owner_photos[1]
    path = storage.blob_path(photo.owner_id, photo.id, "thumb")
    good = path.read_bytes()
    bad = bytearray(good)
    bad[-20] ^= 0x01
    path.write_bytes(bytes(bad))
    try:
        visitor.reload()
        visitor.locator("#link-visit[data-ready=true]").wait_for()
        assert visitor.locator(".link-tile.link-error").count() == 1
        assert visitor.locator(".link-tile img").count() == 1
        assert "could not be decrypted" in visitor.locator(".link-tile.link-error").inner_text()
    finally:
        path.write_bytes(good)

    # Revoke: the very next load says the link no longer works.
    page.goto("/links/")
    assert page.locator(".link-opens").first.inner_text() == "2"
    page.get_by_role("button", name="Revoke").click()
    visitor.reload()
    visitor.get_by_role("heading", name="This link no longer works").wait_for()
    context.close()
    assert hashlib.sha256(lk).hexdigest() not in database_dump()


def test_password_link_in_the_browser_and_a_url_without_its_key(
    browser, live_server, owner, owner_photos, redis_conn
):
    from vault.links import services

    ring = keyring_for(owner, PASSWORD)
    link, key = services.link_create(
        owner=owner, keyring=ring, photo_ids=[owner_photos[0].id], password="grandma 1942"
    )
    context, visitor, _sent, problems = _visitor(browser, live_server)
    visitor.goto(f"/l/{link.id}")  # the path alone: no key, nothing to decrypt
    visitor.get_by_text("This link is incomplete").wait_for()
    visitor.goto(f"/l/{link.id}#{key}")
    visitor.get_by_label("This link needs a password").fill("grandpa")
    visitor.get_by_role("button", name="Open").click()
    visitor.get_by_text("That password is not right.").wait_for()
    assert visitor.locator(".link-tile").count() == 0
    visitor.get_by_label("This link needs a password").fill("grandma 1942")
    visitor.get_by_role("button", name="Open").click()
    visitor.locator("#link-visit[data-ready=true]").wait_for()
    visitor.wait_for_function(
        f"() => [...document.querySelectorAll('.link-tile img')].every({LOADED})"
    )
    assert visitor.locator(".link-tile img").count() == 1
    context.close()
    assert problems == []


def test_downloads_stream_to_the_picked_file_byte_for_byte(
    browser, live_server, owner, owner_photos, data_dir
):
    """Where showSaveFilePicker exists, the original and the zip go to the picked file chunk
    by chunk (several writes), and what was written is the owner's bytes exactly."""
    import base64 as b64
    import io

    from tests.links.conftest import write_photo
    from vault.links import services

    ring = keyring_for(owner, PASSWORD)
    big = write_photo(owner, ring, "wide.jpg", size=(1600, 1200))  # several 64 KiB chunks
    link, key = services.link_create(
        owner=owner, keyring=ring, photo_ids=[big.id, owner_photos[0].id], allow_downloads=True
    )
    context, visitor, _sent, problems = _visitor(browser, live_server, picker=COLLECTING_PICKER)
    visitor.goto(f"/l/{link.id}#{key}")
    visitor.locator("#link-visit[data-ready=true]").wait_for()
    expected = {"wide.jpg": _original(big, ring), "beach.jpg": _original(owner_photos[0], ring)}
    assert len(expected["wide.jpg"]) > 3 * 65536

    visitor.get_by_role("button", name="Photo 1").click()
    visitor.wait_for_function(f"() => ({LOADED})(document.getElementById('link-preview'))")
    shown = visitor.locator("#link-caption").inner_text().split(" · ")[0]
    visitor.get_by_role("button", name="Download original").click()
    visitor.wait_for_function("() => window.__saved.length === 1")
    saved = visitor.evaluate("window.__saved[0]")
    assert saved["name"] == shown
    assert b64.b64decode(saved["b64"]) == expected[shown]
    if shown == "wide.jpg":
        assert saved["writes"] > 3  # written as verified, not as one whole

    visitor.get_by_role("button", name="Close").click()
    visitor.get_by_role("button", name="Download all (zip)").click()
    visitor.wait_for_function("() => window.__saved.length === 2")
    saved = visitor.evaluate("window.__saved[1]")
    assert saved["name"] == "shared-photos.zip"
    assert saved["writes"] > 6
    with zipfile.ZipFile(io.BytesIO(b64.b64decode(saved["b64"]))) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["beach.jpg", "wide.jpg"]
        for name, data in expected.items():
            assert archive.read(name) == data
    context.close()
    assert problems == []


def test_a_big_link_fetches_one_page_of_thumbnails_until_show_more(
    browser, live_server, owner, data_dir
):
    """62 photos: the page fetches and decrypts the first 60 thumbnails only; "Show more"
    fetches the last 2 and then goes away."""
    from tests.links.conftest import write_photo
    from vault.links import services

    ring = keyring_for(owner, PASSWORD)
    photos = [write_photo(owner, ring, f"p{i}.jpg", size=(32, 24)) for i in range(62)]
    link, key = services.link_create(owner=owner, keyring=ring, photo_ids=[p.id for p in photos])
    context, visitor, sent, problems = _visitor(browser, live_server)
    visitor.goto(f"/l/{link.id}#{key}")
    visitor.locator("#link-visit[data-ready=true]").wait_for()
    thumbs = lambda: [u for u in sent if u.startswith("http") and u.endswith("/thumb")]  # noqa: E731
    assert visitor.locator(".link-tile img").count() == 60
    assert len(thumbs()) == 60
    assert "62 photos" in visitor.locator("#link-status").inner_text()
    more = visitor.get_by_role("button", name="Show more")
    assert more.is_visible()
    # A link without "allow downloads" shows no zip button (hidden buttons stay hidden).
    assert not visitor.get_by_role("button", name="Download all (zip)").is_visible()

    more.click()
    visitor.wait_for_function(
        "() => document.querySelectorAll('.link-tile').length === 62"
        f" && [...document.querySelectorAll('.link-tile img')].every({LOADED})"
        " && document.querySelectorAll('.link-tile img').length === 62"
    )
    assert len(thumbs()) == 62
    assert len(set(thumbs())) == 62  # the first page was not fetched again
    assert not more.is_visible()
    # The viewer still walks every photo, the ones of the second page included.
    visitor.get_by_role("button", name="Photo 62").click()
    visitor.wait_for_function(f"() => ({LOADED})(document.getElementById('link-preview'))")
    context.close()
    assert problems == []


def test_a_tampered_original_leaves_no_partial_file_behind(browser, live_server, owner, data_dir):
    """A chunk past the first fails its check: the picked file is aborted (Chromium then
    discards what was written), nothing is kept, and the viewer says the photo could not be
    decrypted."""
    from tests.links.conftest import write_photo
    from vault.links import services

    ring = keyring_for(owner, PASSWORD)
    big = write_photo(owner, ring, "wide.jpg", size=(1600, 1200))
    link, key = services.link_create(
        owner=owner, keyring=ring, photo_ids=[big.id], allow_downloads=True
    )
    path = storage.blob_path(big.owner_id, big.id, "original")
    bad = bytearray(path.read_bytes())
    bad[-100] ^= 0x01  # in the last chunk: earlier chunks were already written
    path.write_bytes(bytes(bad))
    context, visitor, _sent, _problems = _visitor(browser, live_server, picker=COLLECTING_PICKER)
    visitor.goto(f"/l/{link.id}#{key}")
    visitor.locator("#link-visit[data-ready=true]").wait_for()
    visitor.get_by_role("button", name="Photo 1").click()
    visitor.get_by_role("button", name="Download original").click()
    visitor.get_by_text("This photo could not be decrypted.").wait_for()
    assert visitor.evaluate("window.__aborted") == 1
    assert visitor.evaluate("window.__writes") > 0  # it had started writing
    assert visitor.evaluate("window.__saved.length") == 0
    context.close()
