"""The gallery: newest first, grouped by month, filters in the URL, paging, the photo page,
decrypted thumbnails and downloads, and deleting with confirmation."""

import datetime as dt
import io
import re

import hypothesis
import pytest
from django.urls import reverse
from hypothesis import strategies as st
from PIL import Image

from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from vault.photos import selectors, storage
from vault.photos.models import GALLERY_ORDER, Photo
from vault.photos.tagging import tags_store_from_model

pytestmark = pytest.mark.django_db

MODEL = "test-tagger@0123456789ab"


def when(year, month, day):
    return dt.datetime(year, month, day, 12, tzinfo=dt.UTC)


@pytest.fixture
def album(owner_client, worker_key, settings, tmp_path):
    """Four processed photos with known dates and tags."""
    settings.VAULT_MODELS_DIR = tmp_path / "no-models"  # the tags below, not a real tagger's
    specs = [
        ("beach.jpg", "2023:07:02 10:00:00", ["landscape", "human"]),
        ("cat.jpg", "2023:07:20 10:00:00", ["animal"]),
        ("car.jpg", "2024:01:05 10:00:00", ["vehicle"]),
        ("apple.jpg", "2024:03:11 10:00:00", ["fruit", "other"]),
    ]
    photos = {}
    for seed, (name, taken, labels) in enumerate(specs):
        [outcome] = upload(
            owner_client, (name, support.jpeg(support.picture(seed=seed), taken=taken))
        )
        photos[name] = (outcome["photo"], labels)
    assert run_jobs() == ["ready"] * 4
    for pk, labels in photos.values():
        tags_store_from_model(
            photo=Photo.objects.get(pk=pk),
            model_id=MODEL,
            labels=[(label, 0.9) for label in labels],
        )
    return {name: Photo.objects.get(pk=pk) for name, (pk, _labels) in photos.items()}


def tile_ids(response) -> list[str]:
    import re

    return re.findall(r'data-photo="([0-9a-f-]{36})"', response.content.decode())


def test_gallery_shows_newest_first_grouped_by_month(owner_client, album):
    response = owner_client.get(reverse("photos:gallery"))
    html = response.content.decode()
    names = ["apple.jpg", "car.jpg", "cat.jpg", "beach.jpg"]
    assert tile_ids(response) == [str(album[n].id) for n in names]
    months = [html.index(m) for m in ("March 2024", "January 2024", "July 2023")]
    assert months == sorted(months)
    assert html.count(">July 2023</h2>") == 1  # both July photos under one heading


def test_filters_by_tag_and_date_combine_and_live_in_the_url(owner_client, album):
    by_tag = owner_client.get(reverse("photos:gallery"), {"tag": "animal"})
    assert tile_ids(by_tag) == [str(album["cat.jpg"].id)]
    in_2024 = owner_client.get(
        reverse("photos:gallery"), {"date_from": "2024-01-01", "date_to": "2024-12-31"}
    )
    assert tile_ids(in_2024) == [str(album["apple.jpg"].id), str(album["car.jpg"].id)]
    both = owner_client.get(
        reverse("photos:gallery"),
        {"tag": "human", "date_from": "2023-07-01", "date_to": "2023-07-31"},
    )
    assert tile_ids(both) == [str(album["beach.jpg"].id)]
    # The photo links carry the filter, so the preview's next/previous stays inside it.
    assert "?tag=human&amp;date_from=2023-07-01&amp;date_to=2023-07-31" in both.content.decode()
    none = owner_client.get(reverse("photos:gallery"), {"tag": "fruit", "date_to": "2023-12-31"})
    assert tile_ids(none) == [] and "No photos match these filters" in none.content.decode()


def test_bad_filter_values_get_a_message_not_an_error(owner_client, album):
    response = owner_client.get(
        reverse("photos:gallery"), {"date_from": "yesterday", "tag": "dragons"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enter a date like 2024-05-31." in html
    assert len(tile_ids(response)) == 4  # bad filters are ignored, not guessed at
    far = owner_client.get(reverse("photos:gallery"), {"date_to": "9999-12-31"})
    assert far.status_code == 200 and "before the year 9999" in far.content.decode()
    backwards = owner_client.get(
        reverse("photos:gallery"), {"date_from": "2024-05-01", "date_to": "2024-01-01"}
    )
    assert "The end date is before the start date." in backwards.content.decode()


def test_empty_vault_says_what_to_do(owner_client):
    html = owner_client.get(reverse("photos:gallery")).content.decode()
    assert "Your vault is empty" in html and reverse("photos:upload") in html


def more_link(response) -> str | None:
    """The "Load more" link's query, as the page gives it (None on the last page)."""
    found = re.search(r'data-more href="\?([^"]+)"', response.content.decode())
    return found and found.group(1).replace("&amp;", "&")


def newer_link(response) -> str | None:
    found = re.search(
        r'class="newer"><a class="button" href="\?([^"]+)"', response.content.decode()
    )
    return found and found.group(1).replace("&amp;", "&")


def test_paging_loads_the_next_photos_as_a_fragment(owner_client, owner, album, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 3)
    gallery = reverse("photos:gallery")
    first = owner_client.get(gallery)
    assert len(tile_ids(first)) == 3 and more_link(first).startswith("after=")
    second = owner_client.get(f"{gallery}?{more_link(first)}", HTTP_X_VAULT_PARTIAL="1")
    assert tile_ids(second) == [str(album["beach.jpg"].id)]
    assert "<html" not in second.content.decode() and more_link(second) is None
    # Old bookmarks by page number still work; mangled cursors and numbers show a page.
    assert tile_ids(owner_client.get(gallery, {"page": 2})) == [str(album["beach.jpg"].id)]
    for key, silly in [("page", v) for v in ("0", "-5", "x", "9" * 30, "9" * 5000)] + [
        (key, v)
        for key in ("after", "before")
        for v in ("", "x", "1.2", "1.2.3", "9" * 400 + ".1." + "a" * 32, "-1.-1." + "0" * 32)
    ]:
        response = owner_client.get(gallery, {key: silly})
        assert response.status_code == 200  # a page past the end is empty, never an error


def test_deep_pages_show_every_photo_once_older_and_newer(owner_client, owner, monkeypatch):
    """Keyset pages: following "Load more" (older) from the first page shows every photo
    exactly once in gallery order, and "Newer photos" walks back through the same pages —
    also with photos that share one capture time and upload time (bursts, imports)."""
    from django.utils import timezone

    monkeypatch.setattr(selectors, "PAGE_SIZE", 4)
    same = when(2020, 5, 1)
    uploaded = timezone.now()
    photos = [
        Photo.objects.create(
            owner=owner,
            state=Photo.State.READY,
            media_type="image/jpeg",
            size=1,
            content_mac=bytes([n]) * 32,
            name_sealed=b"x",
            shown_at=same if n % 3 else when(2019, 1, 1 + n),
            uploaded_at=uploaded,
        )
        for n in range(15)
    ]
    expected = [str(p.id) for p in Photo.objects.filter(owner=owner).order_by(*GALLERY_ORDER)]
    assert sorted(expected) == sorted(str(p.id) for p in photos)
    gallery = reverse("photos:gallery")
    pages, response = [], owner_client.get(gallery)
    assert newer_link(response) is None  # the first page has nothing newer
    while True:
        pages.append(tile_ids(response))
        link = more_link(response)
        if link is None:
            break
        response = owner_client.get(f"{gallery}?{link}")
        assert newer_link(response) is not None
    assert [photo for page in pages for photo in page] == expected
    assert [len(page) for page in pages] == [4, 4, 4, 3]
    # Back up with "Newer photos" from the last page: the same pages, in reverse.
    back = [pages[-1]]
    while (link := newer_link(response)) is not None:
        response = owner_client.get(f"{gallery}?{link}")
        back.append(tile_ids(response))
    assert back[::-1] == pages


def test_a_deleted_photo_does_not_break_its_cursor(owner_client, owner, album, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    gallery = reverse("photos:gallery")
    link = more_link(owner_client.get(gallery))
    album["car.jpg"].delete()  # the last photo of the first page: the cursor's own photo
    rest = owner_client.get(f"{gallery}?{link}")
    assert tile_ids(rest) == [str(album["cat.jpg"].id), str(album["beach.jpg"].id)]


def test_status_finds_photos_however_their_ids_are_written(owner_client, album):
    photo = album["cat.jpg"]
    asked = [str(photo.id).upper(), photo.id.hex, "not-an-id"]
    response = owner_client.get(reverse("photos:status"), {"id": asked})
    found = response.json()["photos"]
    assert [found[i]["state"] for i in asked] == ["ready", "ready", "missing"]
    assert "no-store" in response["Cache-Control"]


def test_photo_page_has_newer_and_older_within_the_filter(owner_client, album):
    car = album["car.jpg"]
    page = owner_client.get(reverse("photos:detail", args=[car.id])).content.decode()
    assert reverse("photos:detail", args=[album["apple.jpg"].id]) in page  # newer
    assert reverse("photos:detail", args=[album["cat.jpg"].id]) in page  # older
    assert "car.jpg" in page and "5 January 2024" in page
    filtered = owner_client.get(
        reverse("photos:detail", args=[car.id]), {"date_from": "2024-01-01"}
    ).content.decode()
    assert reverse("photos:detail", args=[album["cat.jpg"].id]) not in filtered


def test_thumbnail_and_preview_are_decrypted_and_never_cached(owner_client, album):
    photo = album["cat.jpg"]
    for name, long_side in (("photos:thumb", None), ("photos:preview", 640)):
        response = owner_client.get(reverse(name, args=[photo.id]))
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        assert response["Cache-Control"] == "private, no-store"
        image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
        assert image.format == "JPEG"
        if long_side:
            assert max(image.size) == long_side  # never upscaled past the original


def test_download_gives_the_original_bytes_under_the_original_name(owner_client, owner, worker_key):
    data = support.real_photo("rocket.jpg")
    [outcome] = upload(owner_client, ("Rocket launch (2).jpg", data))
    response = owner_client.get(reverse("photos:download", args=[outcome["photo"]]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == data
    assert response["Content-Disposition"] == 'attachment; filename="Rocket launch (2).jpg"'
    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize(
    ("name", "header"),
    [
        (
            "Été à Paris.jpg",
            'attachment; filename="Ete a Paris.jpg"; '
            "filename*=UTF-8''%C3%89t%C3%A9%20%C3%A0%20Paris.jpg",
        ),
        (
            "東京タワー.heic",
            'attachment; filename="photo.heic"; '
            "filename*=UTF-8''%E6%9D%B1%E4%BA%AC%E3%82%BF%E3%83%AF%E3%83%BC.heic",
        ),
        (
            "🎉 party.jpg",
            "attachment; filename=\"party.jpg\"; filename*=UTF-8''%F0%9F%8E%89%20party.jpg",
        ),
        (
            'say "cheese".jpg',
            "attachment; filename=\"say _cheese.jpg\"; filename*=UTF-8''say%20%22cheese%22.jpg",
        ),
        (
            "a; filename=evil.exe.jpg",
            'attachment; filename="a_ filename=evil.exe.jpg"; '
            "filename*=UTF-8''a%3B%20filename%3Devil.exe.jpg",
        ),
        (
            "back\\slash 100%.jpg",  # Django keeps only what follows a backslash...
            "attachment; filename=\"slash 100.jpg\"; filename*=UTF-8''slash%20100%25.jpg",
        ),
        (
            "写真",  # ...and the vault adds the extension of the stored type
            "attachment; filename=\"photo.jpg\"; filename*=UTF-8''%E5%86%99%E7%9C%9F.jpg",
        ),
        (
            "Ｆｕｌｌ ｗｉｄｔｈ.jpg",
            "attachment; filename=\"Full width.jpg\"; filename*=UTF-8''"
            "%EF%BC%A6%EF%BD%95%EF%BD%8C%EF%BD%8C%20%EF%BD%97%EF%BD%89%EF%BD%84%EF%BD%94%EF%BD%88.jpg",
        ),
    ],
)
def test_download_of_a_non_ascii_or_odd_name_sends_both_forms(owner_client, name, header):
    [outcome] = upload(owner_client, (name, support.jpeg()))
    response = owner_client.get(reverse("photos:download", args=[outcome["photo"]]))
    assert response.status_code == 200
    assert response["Content-Disposition"] == header


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.text(min_size=1, max_size=80))
def test_any_name_gives_a_safe_fallback_and_the_exact_name(name):
    from urllib.parse import unquote

    from vault.photos.views.content import attachment_disposition

    header = attachment_disposition(name)
    header.encode("ascii")  # nothing but ASCII on the wire
    match = re.fullmatch(r"attachment; filename=\"([^\"]*)\"(?:; filename\*=UTF-8''(\S+))?", header)
    assert match, header
    fallback, exact = match.groups()
    assert re.fullmatch(r"[A-Za-z0-9 !#$&'()+,\-.=@\[\]^_`{}~]+", fallback), fallback
    assert not fallback.startswith((".", " ")) or fallback == name
    assert unquote(exact, errors="strict") == name if exact else fallback == name


def test_download_can_resume_with_a_byte_range(owner_client, worker_key):
    data = support.real_photo("rocket.jpg")
    [outcome] = upload(owner_client, ("rocket.jpg", data))
    url = reverse("photos:download", args=[outcome["photo"]])
    for header, expected in [
        ("bytes=0-99", data[:100]),
        ("bytes=70000-", data[70000:]),  # across a 64 KiB chunk boundary
        ("bytes=-10", data[-10:]),
        (f"bytes=100-{len(data) + 50}", data[100:]),
    ]:
        response = owner_client.get(url, HTTP_RANGE=header)
        assert response.status_code == 206, header
        assert b"".join(response.streaming_content) == expected
        assert response["Content-Length"] == str(len(expected))
        assert response["Content-Range"].endswith(f"/{len(data)}")
    beyond = owner_client.get(url, HTTP_RANGE=f"bytes={len(data)}-")
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(data)}"
    ignored = owner_client.get(url, HTTP_RANGE="bytes=1-2,5-9")  # multiple ranges: whole file
    assert ignored.status_code == 200 and b"".join(ignored.streaming_content) == data


def test_delete_asks_first_then_moves_to_the_trash_and_emptying_removes_rows_and_blobs(
    owner_client, owner, album, django_capture_on_commit_callbacks
):
    doomed = [album["car.jpg"], album["cat.jpg"]]
    ids = [str(p.id) for p in doomed]
    confirm = owner_client.post(reverse("photos:delete"), {"photo": ids, "query": "tag=vehicle"})
    assert confirm.status_code == 200 and "Delete 2 photos?" in confirm.content.decode()
    assert "trash" in confirm.content.decode()
    assert Photo.objects.filter(pk__in=ids, trashed_at=None).count() == 2  # nothing yet

    done = owner_client.post(
        reverse("photos:delete"), {"photo": ids, "confirm": "yes", "query": "tag=vehicle"}
    )
    assert done.status_code == 302 and done["Location"].endswith("?tag=vehicle")
    assert Photo.objects.filter(pk__in=ids, trashed_at__isnull=False).count() == 2
    gallery = owner_client.get(reverse("photos:gallery")).content.decode()
    assert not any(f'data-photo="{pid}"' in gallery for pid in ids)

    with django_capture_on_commit_callbacks(execute=True):  # files go once the rows have
        owner_client.post(reverse("photos:trash_empty"), {"confirm": "yes"})
    assert not Photo.objects.filter(pk__in=ids).exists()
    for photo in doomed:
        assert not storage.photo_dir(owner.pk, photo.id).exists()
    assert Photo.objects.filter(owner=owner).count() == 2
    assert storage.photo_dir(owner.pk, album["beach.jpg"].id).exists()


def test_the_query_carried_through_delete_is_rebuilt_not_echoed(owner_client, album):
    photo = album["car.jpg"]
    nasty = "tag=vehicle&next=//evil.example/&x=\r\nSet-Cookie: a=b"
    confirm = owner_client.post(reverse("photos:delete"), {"photo": [photo.id], "query": nasty})
    assert "evil" not in confirm.content.decode()
    done = owner_client.post(
        reverse("photos:delete"), {"photo": [photo.id], "confirm": "yes", "query": nasty}
    )
    assert (
        done.status_code == 302 and done["Location"] == reverse("photos:gallery") + "?tag=vehicle"
    )


def test_delete_without_a_selection_says_so(owner_client, album):
    response = owner_client.post(reverse("photos:delete"), {}, follow=True)
    assert "Select the photos to delete first." in response.content.decode()
    assert Photo.objects.count() == 4


def test_a_burst_comes_out_in_capture_order_then_upload_order(
    owner_client, worker_key, monkeypatch
):
    """Six photos taken in the same second: three with sub-seconds, three at the very same
    instant. Newest first, the sub-seconds decide; where the capture time ties, the one
    uploaded last is the newer — never the random order of the photo ids."""
    from vaultdev.samples import camera_files as cf

    def shot(seed, subsec):
        tags = {cf.DATE_TIME_ORIGINAL: "2024:05:18 16:20:31", cf.OFFSET_TIME_ORIGINAL: "+02:00"}
        if subsec:
            tags[cf.SUB_SEC_TIME_ORIGINAL] = subsec
        return cf.jpeg(image=support.picture(64, 48, seed=seed), exif_data=cf.exif(sub=tags))

    uploaded = ["50", "10", "30", "30", "30", "90"]  # in this order, one request
    outcomes = upload(
        owner_client, *[(f"burst_{i}.jpg", shot(i, s)) for i, s in enumerate(uploaded)]
    )
    assert run_jobs() == ["ready"] * 6
    ids = [o["photo"] for o in outcomes]
    photos = {str(p.id): p for p in Photo.objects.all()}
    assert photos[ids[0]].taken_at == dt.datetime(2024, 5, 18, 14, 20, 31, 500_000, tzinfo=dt.UTC)
    expected = [ids[5], ids[0], ids[4], ids[3], ids[2], ids[1]]  # .9, .5, .3 ×3 (last first), .1
    assert tile_ids(owner_client.get(reverse("photos:gallery"))) == expected

    # Paging and the photo page's newer/older links follow the same order.
    monkeypatch.setattr(selectors, "PAGE_SIZE", 4)
    pages = [
        tile_ids(owner_client.get(reverse("photos:gallery"), {"page": n}, HTTP_X_VAULT_PARTIAL="1"))
        for n in (1, 2)
    ]
    assert pages[0] + pages[1] == expected
    for position, photo_id in enumerate(expected):
        page = owner_client.get(reverse("photos:detail", args=[photo_id])).content.decode()
        newer = re.search(r'rel="prev"[^>]*href="/photos/([0-9a-f-]{36})', page)
        older = re.search(r'rel="next"[^>]*href="/photos/([0-9a-f-]{36})', page)
        assert (newer.group(1) if newer else None) == (expected[position - 1] if position else None)
        assert (older.group(1) if older else None) == (
            expected[position + 1] if position + 1 < len(expected) else None
        )
