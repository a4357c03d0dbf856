"""The upload page and the gallery as a first-time user meets them, in real Chromium with a real
worker: 45 files chosen at once on a phone, counted in a summary that stays in sight, each row
in words of its own (not uploaded yet, uploading, waiting to be processed, processing, ready,
failed, not uploaded); the rows being uploaded kept in view unless the user scrolls away; no
drop zone on a phone; the gallery's filters folded there so that photos start on the first
screen; a welcome in an empty vault; a 1×1 picture and a thin panorama as tiles one can see.
Any CSP violation or console error fails the test (as with the `page` fixture). Without a
browser: when the gallery's filters start open, and the empty pages' words."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.photos import support
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.photos.models import Photo
from vaultdev.pytest_plugin import _CSP_LISTENER
from vaultdev.signin import sign_in_browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PHOTOS = 40  # small generated JPEGs, besides the odd files below
LET_THROUGH = 30  # uploads the test lets through before it holds the rest
SLOW = 60_000  # ms, for what waits on the server or the worker on a busy machine
LOADED = "i => i && i.complete && i.naturalWidth > 0"  # an <img> that decoded a real picture


def batch() -> list[dict]:
    """45 files: a 1×1 PNG, a thin panorama, a text file posing as a JPEG (refused), a JPEG
    only decoding finds broken (fails), 40 small JPEGs, and the first of them again."""
    files = [
        ("one-pixel.png", support.png(support.picture(1, 1, seed=1))),
        ("panorama.png", support.png(support.picture(2400, 8, seed=2))),
        ("notes.jpg", b"These are notes, not a photo.\n" * 20),
        ("broken.jpg", support.undecodable_jpeg()),
    ]
    jpegs = [
        (f"photo-{n:02}.jpg", support.jpeg(support.picture(48, 36, seed=10 + n), quality=70))
        for n in range(1, PHOTOS + 1)
    ]
    files += [*jpegs, ("photo-01 copy.jpg", jpegs[0][1])]
    return [{"name": name, "mimeType": "image/*", "buffer": data} for name, data in files]


@pytest.fixture
def phone(browser, live_server):
    """A page in a phone-sized, touch-only browser context, watched like the `page` fixture."""
    context = browser.new_context(base_url=live_server.url, **PHONE)
    problems: list[str] = []
    context.expose_binding(
        "__vaultCspViolation", lambda source, text: problems.append(f"CSP violation: {text}")
    )
    context.add_init_script(_CSP_LISTENER)
    context.on(
        "console",
        lambda message: (
            problems.append(f"console error: {message.text}") if message.type == "error" else None
        ),
    )
    context.on("weberror", lambda error: problems.append(f"uncaught error: {error.error}"))
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not problems, "the browser reported problems:\n" + "\n".join(problems)


class HeldUploads:
    """Lets the first `allowed` upload requests through and holds the rest until released, so
    that the test sees the page mid-batch without waiting for a lucky moment."""

    def __init__(self, page, allowed: int) -> None:
        self.allowed = allowed
        self.passed = 0
        self.held: list = []
        page.route("**" + reverse("photos:upload"), self._route)

    def _route(self, route) -> None:
        if route.request.method != "POST" or self.passed < self.allowed:
            self.passed += route.request.method == "POST"
            route.continue_()
        else:
            self.held.append(route)

    def release(self, count: int | None = None) -> None:
        if count is None:
            self.allowed = 10**6
        for route in self.held[: len(self.held) if count is None else count]:
            self.passed += 1
            route.continue_()
        self.held = self.held[len(self.held) if count is None else count :]


def box_in_sight(page, locator) -> bool:
    """The element is whole on the screen, below the sticky summary."""
    return page.evaluate(
        """el => {
          const box = el.getBoundingClientRect();
          const summary = document.getElementById("upload-summary").getBoundingClientRect();
          const top = Math.max(0, summary.bottom);
          return box.top >= top - 1 && box.bottom <= window.innerHeight + 1;
        }""",
        locator.element_handle(),
    )


def after_scroll(page) -> None:
    """Wait until the page has seen the scroll: scroll events run before the next frame."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_first_batch_on_a_phone(phone, owner, start_worker, settings, tmp_path):
    settings.VAULT_MODELS_DIR = tmp_path / "no-models"  # thumbnails only: no TensorFlow
    hold = tmp_path / "hold"
    hold.write_text("metadata")  # every job waits after reading metadata until this goes
    start_worker(
        VAULT_MODELS_DIR=str(settings.VAULT_MODELS_DIR), VAULT_PIPELINE_HOLD_FILE=str(hold)
    )
    files = batch()
    total = len(files)

    # An empty vault: a welcome and the upload button, no filters that cannot match.
    sign_in_browser(phone, email=owner.email, password=PASSWORD)
    welcome = phone.locator(".welcome")
    expect(welcome.get_by_role("heading")).to_have_text("Welcome! Your vault is empty")
    assert phone.locator(".filter-box, .filters").count() == 0
    welcome.get_by_role("link", name="Upload your first photos").click()
    phone.wait_for_url(lambda url: url.endswith(reverse("photos:upload")))  # and its script ran

    # No drop zone on a phone: the picker button alone.
    expect(phone.get_by_text("Drop photos here")).to_have_count(1)
    expect(phone.get_by_text("Drop photos here")).to_be_hidden()
    expect(phone.locator("label", has_text="Choose photos")).to_be_visible()

    held = HeldUploads(phone, LET_THROUGH)
    phone.locator("#id_photos").set_input_files(files)
    rows = phone.locator(".upload-item")
    counts = phone.locator("#upload-counts")
    expect(rows).to_have_count(total)
    # Mid-batch: 30 sent (one refused), two uploading, the rest not sent yet; the worker holds
    # the first photo half-way and the others wait their turn.
    expect(counts).to_have_text(f"{LET_THROUGH - 1} of {total} uploaded, 0 processed", timeout=SLOW)
    results = rows.locator(".upload-result")
    for n in (LET_THROUGH, LET_THROUGH + 1):
        expect(results.nth(n)).to_have_text(re.compile(r"Uploading \d+%"))
    expect(results.last).to_have_text("Not uploaded yet")
    # (The first two files are sent together: either may be the first one processed.)
    expect(
        rows.filter(has=phone.locator(".upload-result", has_text=re.compile(r"^Processing \d+%$")))
    ).to_have_count(1, timeout=SLOW)
    expect(results.filter(has_text=re.compile("^Queued for processing$"))).to_have_count(
        LET_THROUGH - 2
    )
    expect(results.nth(2)).to_have_text(re.compile(r"^Not uploaded: .+"))
    expect(phone.locator("#upload-details")).to_have_text("1 not uploaded.")

    # The rows being uploaded are in view, under the summary, which stays at the top.
    summary = phone.locator("#upload-summary")
    assert phone.evaluate("window.scrollY") > 0
    assert abs(summary.bounding_box()["y"]) < 1
    assert box_in_sight(phone, rows.nth(LET_THROUGH)) and box_in_sight(
        phone, rows.nth(LET_THROUGH + 1)
    )

    # The user scrolls up to read something: the page leaves them there as uploads go on...
    phone.evaluate("window.scrollTo(0, 0)")
    after_scroll(phone)
    held.release(1)
    expect(results.nth(LET_THROUGH + 2)).to_have_text(re.compile(r"Uploading \d+%"), timeout=SLOW)
    assert phone.evaluate("window.scrollY") == 0
    # ...until they come back to the uploads, which the page then follows again.
    rows.nth(LET_THROUGH + 2).scroll_into_view_if_needed()
    after_scroll(phone)
    held.release()
    expect(counts).to_have_text(f"{total - 1} of {total} uploaded, 0 processed", timeout=SLOW)
    assert box_in_sight(phone, rows.last)
    expect(phone.locator("#upload-details")).to_have_text(
        "All sent: processing goes on in the vault even if you leave this page. "
        "1 not uploaded, 1 already in your vault."
    )

    hold.unlink()
    expect(counts).to_have_text(
        f"{total - 1} of {total} uploaded, {total - 1} processed", timeout=180_000
    )
    expect(phone.locator("#upload-details")).to_have_text(
        "Done. 1 not uploaded, 1 failed, 1 already in your vault: see below."
    )
    assert phone.locator("#upload-total").evaluate("bar => bar.value") == 100
    expect(phone.locator(".upload-item.ready")).to_have_count(total - 3)
    expect(rows.filter(has_text="broken.jpg").locator(".upload-result")).to_have_text(
        re.compile(r"^Failed: .*damaged or incomplete")
    )
    expect(rows.last.locator(".upload-result")).to_have_text("Already in your vault.")

    # The gallery: filters folded behind a button, photos from the first screen on.
    phone.get_by_role("link", name="See them in the gallery").click()
    phone.wait_for_url(lambda url: url.endswith(reverse("photos:gallery")))
    toggle = phone.locator("#filter-box > summary")
    expect(toggle).to_have_text(re.compile(r"^Filter"))
    expect(phone.locator("form.filters")).to_be_hidden()
    first = phone.locator(".tile").first
    phone.wait_for_function(f"() => [document.querySelector('.tile img')].every({LOADED})")
    tile_box = first.bounding_box()
    assert tile_box["y"] + tile_box["height"] <= PHONE["viewport"]["height"]

    # The 1×1 picture and the panorama: tiles as large as the others, not slivers.
    for width, height in ((2400, 8), (1, 1)):
        photo = Photo.objects.get(owner=owner, width=width, height=height)
        picture = phone.locator(f'.tile[data-photo="{photo.id}"] img')
        picture.scroll_into_view_if_needed()
        phone.wait_for_function(f"i => ({LOADED})(i)", arg=picture.element_handle())
        shown = picture.bounding_box()
        assert shown["width"] >= 100 and shown["height"] >= 100, (width, height, shown)
    # The 1×1 picture's own page shows it in a box one can see too, not as a dot.
    picture.click()
    phone.wait_for_url(lambda url: url.endswith(reverse("photos:detail", args=[photo.id])))
    phone.wait_for_function(f"() => [document.querySelector('.preview img')].every({LOADED})")
    shown = phone.locator(".preview > img").bounding_box()
    assert shown["width"] >= 150 and shown["height"] >= 150, shown
    phone.goto(reverse("photos:gallery"))

    # A filter that matches nothing keeps the filters open, says so, and offers the way back.
    phone.evaluate("window.scrollTo(0, 0)")
    toggle.click()
    phone.locator("#id_date_to").fill("2001-01-01")
    phone.get_by_role("button", name="Apply dates").click()
    expect(phone.get_by_role("heading", name="No photos match these filters")).to_be_visible()
    expect(phone.locator("form.filters")).to_be_visible()
    expect(toggle).to_have_text(re.compile(r"Filter \(1 in use\)"))
    phone.get_by_role("link", name="Clear the filters").click()
    expect(phone.locator(".tile")).to_have_count(total - 2, timeout=SLOW)
    expect(phone.locator("form.filters")).to_be_hidden()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_desktop_the_drop_zone_and_the_filters_show(page, owner):
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    expect(page.locator(".welcome")).to_be_visible()
    assert page.locator(".filter-box, .filters").count() == 0
    page.goto(reverse("photos:upload"))
    expect(page.get_by_text("Drop photos here")).to_be_visible()

    # A file dropped on the zone is sent once; the connection breaks the first time, and the
    # row offers to send it again. No worker runs, so it then waits to be processed.
    broken = []

    def break_first(route):
        if route.request.method == "POST" and not broken:
            broken.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**" + reverse("photos:upload"), break_first)
    data = list(support.jpeg(support.picture(64, 48, seed=3)))
    dropped = page.evaluate_handle(
        """bytes => {
          const transfer = new DataTransfer();
          const file = new File([new Uint8Array(bytes)], "dropped.jpg", { type: "image/jpeg" });
          transfer.items.add(file);
          return transfer;
        }""",
        data,
    )
    page.locator("#dropzone").dispatch_event("drop", {"dataTransfer": dropped})
    row = page.locator(".upload-item")
    expect(row.locator(".upload-result")).to_have_text(
        "Not uploaded: The connection broke during the upload."
    )
    expect(page.locator("#upload-counts")).to_have_text("0 of 1 uploaded, 0 processed")
    row.get_by_role("button", name="Send again").click()
    # Chromium logs the broken request; that error was provoked on purpose.
    page.vault_problems[:] = [p for p in page.vault_problems if "ERR_CONNECTION_RESET" not in p]
    expect(page.locator("#upload-counts")).to_have_text("1 of 1 uploaded, 0 processed")
    expect(page.locator(".upload-item .upload-result")).to_have_text("Queued for processing")
    expect(page.locator(".upload-item")).to_have_count(1)

    # The gallery: the filters show without a click, and the tile says the same words.
    page.goto(reverse("photos:gallery"))
    expect(page.locator("form.filters")).to_be_visible()
    expect(page.locator("#filter-box > summary")).to_be_hidden()
    expect(page.locator(".tile .tile-label")).to_have_text("Queued for processing")


FILTER_BOX = re.compile(r'<details class="filter-box" id="filter-box"( open)?>')


@pytest.mark.django_db
def test_the_filters_fold_unless_in_use(owner_client):
    gallery = reverse("photos:gallery")
    empty = owner_client.get(gallery).content.decode()
    assert "Welcome! Your vault is empty" in empty
    assert not FILTER_BOX.search(empty) and 'class="filters' not in empty

    upload(owner_client, ("a.jpg", support.jpeg(support.picture(64, 48))))
    folded = FILTER_BOX.search(owner_client.get(gallery).content.decode())
    assert folded and not folded.group(1)
    for query, in_use in [
        ({"tag": ["human", "animal"]}, "(2 in use)"),
        ({"date_from": "2020-01-01"}, "(1 in use)"),
        ({"date_from": "yesterday"}, None),  # a mistyped date stays in sight with its message
        ({"tag": "dragons"}, None),
    ]:
        html = owner_client.get(gallery, query).content.decode()
        assert FILTER_BOX.search(html).group(1) == " open", query
        assert (in_use in html) if in_use else "in use)" not in html


@pytest.mark.django_db
def test_past_the_last_page_is_not_called_a_filter_that_matches_nothing(owner_client):
    upload(owner_client, ("a.jpg", support.jpeg(support.picture(64, 48))))
    html = owner_client.get(reverse("photos:gallery"), {"page": 5}).content.decode()
    assert "No more photos" in html and "No photos match" not in html
    html = owner_client.get(reverse("photos:gallery"), {"date_to": "2001-01-01"}).content.decode()
    assert "No photos match these filters" in html and "Clear the filters" in html
