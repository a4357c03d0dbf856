"""Tags in the pages: the photo page shows the tagger's tags (score, model) and takes the owner's
corrections, which no re-run of the tagger undoes; the gallery filters by tag chips (AND) with
dates in a bookmarkable URL, tags the selection in bulk, and says how far tagging has come.
Another user's photo ids get 404 from every tag view and change nothing."""

import hashlib
import re

import pytest
from django.urls import reverse

from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from vault import modelcards
from vault.photos import selectors
from vault.photos.models import Photo, Tag
from vault.photos.tagging import tags_set_by_user, tags_store_from_model

pytestmark = pytest.mark.django_db

MODEL = "efficientnet-lite0-imagenet@1a2b3c4d5e6f"


@pytest.fixture(autouse=True)
def models_dir(settings, tmp_path):
    """No usable tagger unless a test installs one: the in-process worker then tags nothing,
    and each test sets the tags it is about with the service the worker step calls."""
    settings.VAULT_MODELS_DIR = tmp_path / "models"
    settings.VAULT_MODELS_DIR.mkdir()
    return settings.VAULT_MODELS_DIR


def tagger_install(models_dir) -> str:
    """An active tagger card (with a stand-in file) in models_dir; returns its model id. Only
    the pages read it: no test runs the worker after installing it."""
    weights = models_dir / "tagger.keras"
    weights.write_bytes(b"stand-in weights")
    card = modelcards.card_write(
        models_dir / "tagger.json",
        {
            "name": "test-tagger",
            "task": "tagger",
            "file": weights.name,
            "sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
            "format": "keras",
            "source": "tests",
            "licence": "MIT",
            "date": "2026-01-01",
            "active": True,
            "outputs": ["cat", "car"],
            "output_activation": "softmax",
            "input": {"size": [224, 224]},
            "label_map": {"animal": [0], "vehicle": [1]},
            "thresholds": {"animal": 0.5, "vehicle": 0.5},
        },
    )
    return card.model_id


def album_make(client, specs) -> dict[str, Photo]:
    """Upload and process photos [(name, EXIF date, {label: score})]; tag them as the tagger
    `MODEL` would. Returns the photos by name."""
    ids = {}
    for seed, (name, taken, _labels) in enumerate(specs):
        [outcome] = upload(client, (name, support.jpeg(support.picture(seed=seed), taken=taken)))
        ids[name] = outcome["photo"]
    assert run_jobs() == ["ready"] * len(specs)
    photos = {}
    for name, _taken, labels in specs:
        photo = Photo.objects.get(pk=ids[name])
        tags_store_from_model(photo=photo, model_id=MODEL, labels=list(labels.items()))
        photos[name] = photo
    return photos


@pytest.fixture
def album(owner_client, worker_key):
    return album_make(
        owner_client,
        [
            ("beach.jpg", "2023:07:02 10:00:00", {"landscape": 0.81, "human": 0.64}),
            ("dog.jpg", "2023:07:20 10:00:00", {"animal": 0.93, "landscape": 0.55}),
            ("cat.jpg", "2024:01:05 10:00:00", {"animal": 0.876}),
            ("car.jpg", "2024:03:11 10:00:00", {"vehicle": 0.7, "landscape": 0.52}),
        ],
    )


def tile_ids(response) -> list[str]:
    return re.findall(r'data-photo="([0-9a-f-]{36})"', response.content.decode())


def ids_of(album, *names) -> list[str]:
    return [str(album[name].id) for name in names]


def visible(photo) -> set[str]:
    return set(photo.tags.filter(rejected=False).values_list("label", flat=True))


def shown_tags(html: str) -> list[str]:
    """The labels listed as the photo's tags on its page (not those offered to add)."""
    return re.findall(r'class="tag-item" data-tag="(\w+)"', html)


def chip(html: str, label: str) -> str:
    [found] = re.findall(rf'<a class="chip[^"]*" data-tag="{label}"[^>]*>.*?</a>', html)
    return found


# The photo page


def test_photo_page_shows_each_tag_with_its_score_and_model(owner_client, album):
    cat = album["cat.jpg"]
    tags_set_by_user(user=cat.owner, photo_ids=[cat.id], label="fruit", present=True)
    html = owner_client.get(reverse("photos:detail", args=[cat.id])).content.decode()
    assert shown_tags(html) == ["fruit", "animal"]  # the user's (score 1) first, then by score
    animal = html[html.index('data-tag="animal"') :]
    assert "88%" in animal[:600] and MODEL in animal[:600]
    assert "added by you" in html
    assert f'href="{reverse("photos:gallery")}?tag=animal"' in html  # the tag opens the gallery
    # Each tag has its remove button; "Add a tag" offers only what the photo does not show.
    assert html.count('name="action" value="remove"') == 2
    add = html[html.index('id="id_add_label"') :]
    add = add[: add.index("</select>")]
    assert re.findall(r'option value="(\w+)"', add) == ["human", "landscape", "vehicle", "other"]
    assert "csrfmiddlewaretoken" in html


def test_removing_a_model_tag_rejects_it_for_good(owner_client, album, owner):
    dog = album["dog.jpg"]
    url = reverse("photos:tags", args=[dog.id])
    response = owner_client.post(url, {"label": "animal", "action": "remove"})
    assert response.status_code == 302
    assert response["Location"] == reverse("photos:detail", args=[dog.id])
    rejected = Tag.objects.get(photo=dog, label="animal")
    assert rejected.rejected and rejected.source == Tag.USER
    html = owner_client.get(response["Location"]).content.decode()
    assert shown_tags(html) == ["landscape"] and "Removed Animal." in html

    # The tagger runs again (a new model, a re-tag) and says "animal" again: it stays gone.
    again = [("animal", 0.99), ("landscape", 0.6)]
    tags_store_from_model(photo=dog, model_id="newer@abcdefabcdef", labels=again)
    assert visible(dog) == {"landscape"}
    assert Tag.objects.get(photo=dog, label="animal").rejected
    by_animal = owner_client.get(reverse("photos:gallery"), {"tag": "animal"})
    assert tile_ids(by_animal) == ids_of(album, "cat.jpg")
    assert selectors.tag_counts(user=owner)["animal"] == 1


def test_a_tag_the_user_added_survives_a_rerun(owner_client, album):
    car = album["car.jpg"]
    url = reverse("photos:tags", args=[car.id])
    response = owner_client.post(url, {"label": "human", "action": "add"}, follow=True)
    assert "Added Human." in response.content.decode()
    assert "human" in shown_tags(response.content.decode())
    tags_store_from_model(photo=car, model_id="newer@abcdefabcdef", labels=[("vehicle", 0.8)])
    assert visible(car) == {"human", "vehicle"}
    human = Tag.objects.get(photo=car, label="human")
    assert human.source == Tag.USER and not human.rejected
    assert Tag.objects.get(photo=car, label="vehicle").source == "newer@abcdefabcdef"


def test_other_from_the_model_never_sits_beside_what_the_user_confirmed(owner_client, album):
    car = album["car.jpg"]
    owner_client.post(reverse("photos:tags", args=[car.id]), {"label": "human", "action": "add"})
    tags_store_from_model(photo=car, model_id="newer@abcdefabcdef", labels=[("other", 0.9)])
    assert visible(car) == {"human"}


def test_when_the_user_rejected_all_the_model_said_the_photo_is_other(owner_client, album):
    cat = album["cat.jpg"]
    owner_client.post(
        reverse("photos:tags", args=[cat.id]), {"label": "animal", "action": "remove"}
    )
    tags_store_from_model(photo=cat, model_id="newer@abcdefabcdef", labels=[("animal", 0.95)])
    assert visible(cat) == {"other"}
    assert Tag.objects.get(photo=cat, label="other").score == pytest.approx(0.05)


def test_a_correction_keeps_the_gallery_filter_and_refuses_junk(owner_client, album):
    cat = album["cat.jpg"]
    url = reverse("photos:tags", args=[cat.id])
    nasty = "tag=animal&tag=vehicle&next=//evil.example/&date_from=2024-01-01"
    response = owner_client.post(url, {"label": "vehicle", "action": "add", "query": nasty})
    detail = reverse("photos:detail", args=[cat.id])
    assert response["Location"] == f"{detail}?tag=animal&tag=vehicle&date_from=2024-01-01"
    for junk in ({"label": "dragons", "action": "add"}, {"label": "animal", "action": "eat"}, {}):
        response = owner_client.post(url, junk, follow=True)
        assert response.status_code == 200
        assert "Choose a tag from the list." in response.content.decode()
    assert visible(cat) == {"animal", "vehicle"}
    assert owner_client.get(url).status_code == 405


def test_a_ready_photo_without_tags_says_not_tagged_yet_and_why(owner_client, worker_key):
    [outcome] = upload(owner_client, ("plain.jpg", support.jpeg()))
    run_jobs()
    photo = Photo.objects.get(pk=outcome["photo"])
    assert photo.state == Photo.State.READY and photo.tagged_by == ""
    html = owner_client.get(reverse("photos:detail", args=[photo.id])).content.decode()
    assert "Not tagged yet." in html
    assert "Automatic tagging is not available on this server: no active tagger model" in html
    assert 'id="id_add_label"' in html  # tagging by hand still works
    # Tagged by a model that found nothing it knows: no tags, but not "not tagged yet".
    tags_store_from_model(photo=photo, model_id=MODEL, labels=[])
    photo.tags.all().delete()
    html = owner_client.get(reverse("photos:detail", args=[photo.id])).content.decode()
    assert "Not tagged yet." not in html and "No tags." in html


def test_the_photo_page_says_nothing_about_availability_with_a_tagger(
    owner_client, album, models_dir
):
    tagger_install(models_dir)
    html = owner_client.get(reverse("photos:detail", args=[album["cat.jpg"].id])).content.decode()
    assert "not available" not in html


# The gallery's tag chips


def test_two_chips_show_the_photos_carrying_both(owner_client, album):
    gallery = reverse("photos:gallery")
    one = owner_client.get(gallery, {"tag": "landscape"})
    assert tile_ids(one) == ids_of(album, "car.jpg", "dog.jpg", "beach.jpg")
    both = owner_client.get(gallery, {"tag": ["landscape", "animal"]})
    assert tile_ids(both) == ids_of(album, "dog.jpg")
    html = both.content.decode()
    assert "photos must carry every selected tag" in html
    # Selected chips say so, and each chip toggles its own tag in the current query.
    assert 'aria-current="true"' in chip(html, "animal")
    assert 'aria-current="true"' in chip(html, "landscape")
    assert "aria-current" not in chip(html, "human")
    assert 'href="/photos/?tag=landscape"' in chip(html, "animal")
    assert 'href="/photos/?tag=landscape&amp;tag=animal&amp;tag=fruit"' in chip(html, "fruit")
    # The photo links carry both tags, in one canonical order whatever the URL's.
    assert "?tag=landscape&amp;tag=animal" in html
    assert tile_ids(owner_client.get(gallery, {"tag": ["vehicle", "animal"]})) == []


def test_chips_combine_with_a_date_range_in_a_bookmarkable_url(owner_client, album):
    gallery = reverse("photos:gallery")
    query = {"tag": ["landscape"], "date_from": "2023-07-01", "date_to": "2023-12-31"}
    response = owner_client.get(gallery, query)
    assert tile_ids(response) == ids_of(album, "dog.jpg", "beach.jpg")
    html = response.content.decode()
    # Adding a chip keeps the dates; the date form keeps the chips.
    human = chip(html, "human")
    assert "tag=human&amp;tag=landscape&amp;date_from=2023-07-01&amp;date_to=2023-12-31" in human
    assert '<input type="hidden" name="tag" value="landscape">' in html
    # A chip's count is what the gallery would show with it selected too.
    assert re.search(r'class="chip-count">1<', human)
    assert re.search(r'class="chip-count">0<', chip(html, "vehicle"))
    # The photo page steps through the same filtered list.
    dog = album["dog.jpg"]
    page = owner_client.get(reverse("photos:detail", args=[dog.id]), query).content.decode()
    assert reverse("photos:detail", args=[album["beach.jpg"].id]) in page
    assert reverse("photos:detail", args=[album["cat.jpg"].id]) not in page


def test_unknown_tags_are_ignored_with_a_message(owner_client, album):
    gallery = reverse("photos:gallery")
    response = owner_client.get(gallery, {"tag": ["animal", "dragons", "<b>x</b>"]})
    assert response.status_code == 200
    assert tile_ids(response) == ids_of(album, "cat.jpg", "dog.jpg")
    html = response.content.decode()
    assert "Unknown tag ignored: dragons, &lt;b&gt;x&lt;/b&gt;." in html and "<b>x" not in html
    only_junk = owner_client.get(gallery, {"tag": "dragons" * 100})
    assert only_junk.status_code == 200 and len(tile_ids(only_junk)) == 4
    many = owner_client.get(gallery, {"tag": ["animal"] * 1000})
    assert many.status_code == 200 and tile_ids(many) == ids_of(album, "cat.jpg", "dog.jpg")


def test_counts_and_filters_leave_out_rejected_tags(owner_client, album, owner):
    assert selectors.tag_counts(user=owner) == {
        "landscape": 3,
        "human": 1,
        "animal": 2,
        "vehicle": 1,
    }
    beach, car = album["beach.jpg"], album["car.jpg"]
    tags_set_by_user(user=owner, photo_ids=[beach.id, car.id], label="landscape", present=False)
    assert selectors.tag_counts(user=owner)["landscape"] == 1
    html = owner_client.get(reverse("photos:gallery")).content.decode()
    assert re.search(r'class="chip-count">1<', chip(html, "landscape"))
    by_landscape = owner_client.get(reverse("photos:gallery"), {"tag": "landscape"})
    assert tile_ids(by_landscape) == ids_of(album, "dog.jpg")


def test_paging_carries_the_chips(owner_client, album, monkeypatch):
    monkeypatch.setattr(selectors, "PAGE_SIZE", 2)
    gallery = reverse("photos:gallery")
    first = owner_client.get(gallery, {"tag": "landscape"})
    assert tile_ids(first) == ids_of(album, "car.jpg", "dog.jpg")
    more = re.search(r'data-more href="\?(tag=landscape&amp;after=[^"]+)"', first.content.decode())
    rest = owner_client.get(
        f"{gallery}?{more.group(1).replace('&amp;', '&')}", HTTP_X_VAULT_PARTIAL="1"
    )
    assert tile_ids(rest) == ids_of(album, "beach.jpg")


# Bulk tagging from the gallery's select mode


def test_select_mode_offers_add_and_remove_tag(owner_client, album):
    html = owner_client.get(reverse("photos:gallery"), {"tag": "animal"}).content.decode()
    bulk = reverse("photos:tags_bulk")
    assert f'formaction="{bulk}" name="action" value="add"' in html
    assert f'formaction="{bulk}" name="action" value="remove"' in html
    assert '<input type="hidden" name="query" value="tag=animal">' in html


def test_bulk_add_and_remove_a_tag(owner_client, album):
    url = reverse("photos:tags_bulk")
    chosen = ids_of(album, "beach.jpg", "dog.jpg", "cat.jpg")
    response = owner_client.post(
        url, {"photo": chosen, "label": "animal", "action": "add", "query": "tag=landscape"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("photos:gallery") + "?tag=landscape"
    page = owner_client.get(response["Location"]).content.decode()
    assert "Added Animal to 1 photo (2 had it already)." in page
    assert all("animal" in visible(album[n]) for n in ("beach.jpg", "dog.jpg", "cat.jpg"))
    # dog.jpg's and cat.jpg's model tag is now the user's own.
    assert set(Tag.objects.filter(label="animal").values_list("source", flat=True)) == {Tag.USER}

    two = ids_of(album, "beach.jpg", "dog.jpg")
    response = owner_client.post(
        url, {"photo": two, "label": "landscape", "action": "remove"}, follow=True
    )
    assert "Removed Landscape from 2 photos." in response.content.decode()
    assert visible(album["beach.jpg"]) == {"human", "animal"}
    assert visible(album["car.jpg"]) == {"vehicle", "landscape"}  # not selected, not touched
    tags_store_from_model(photo=album["dog.jpg"], model_id=MODEL, labels=[("landscape", 0.9)])
    assert visible(album["dog.jpg"]) == {"animal"}


def test_bulk_without_a_selection_or_a_tag_says_so(owner_client, album):
    url = reverse("photos:tags_bulk")
    response = owner_client.post(url, {"label": "fruit", "action": "add"}, follow=True)
    assert "Select the photos to tag first." in response.content.decode()
    chosen = ids_of(album, "cat.jpg")
    for data in (
        {"label": "", "action": "add"},
        {"label": "fruit"},
        {"label": "x", "action": "add"},
    ):
        response = owner_client.post(url, {"photo": chosen, **data}, follow=True)
        assert "Choose a tag to add or remove first." in response.content.decode()
    assert not Tag.objects.filter(label="fruit").exists()
    assert owner_client.post(url, {"photo": ["../etc"], "label": "fruit"}).status_code == 404
    assert owner_client.get(url).status_code == 405


# Tagging progress


def test_the_gallery_reports_tagging_progress_until_done(owner_client, album, models_dir):
    active = tagger_install(models_dir)
    for name in ("cat.jpg", "dog.jpg"):
        tags_store_from_model(photo=album[name], model_id=active, labels=[("animal", 0.9)])
    html = owner_client.get(reverse("photos:gallery")).content.decode()
    assert f"Tagging your photos with {active}: 2 of 4 done" in html
    assert f'data-url="{reverse("photos:tagging_status")}"' in html
    response = owner_client.get(reverse("photos:tagging_status"))
    assert "no-store" in response["Cache-Control"]
    assert response.json() == {
        "updating": True,
        "model": active,
        "done": 2,
        "total": 4,
        "text": f"Tagging your photos with {active}: 2 of 4 done",
    }
    for name in ("beach.jpg", "car.jpg"):
        tags_store_from_model(photo=album[name], model_id=active, labels=[])
    body = owner_client.get(reverse("photos:tagging_status")).json()
    assert body["updating"] is False and body["done"] == body["total"] == 4
    html = owner_client.get(reverse("photos:gallery")).content.decode()
    assert "tagging-status" not in html and "not available" not in html


def test_the_gallery_notes_when_no_tagger_is_usable(owner_client, album, models_dir):
    html = owner_client.get(reverse("photos:gallery")).content.decode()
    assert "Automatic tagging is not available on this server: no active tagger model" in html
    assert 'id="tagging-status"' not in html
    body = owner_client.get(reverse("photos:tagging_status")).json()
    assert body["updating"] is False and body["model"] is None
    assert body["text"].startswith("Automatic tagging is not available on this server:")


# Another user


def test_other_user_cannot_tag_or_untag_the_owners_photo(other_client, album):
    cat = album["cat.jpg"]
    before = list(Tag.objects.order_by("id").values_list("photo", "label", "source", "rejected"))
    url = reverse("photos:tags", args=[cat.id])
    for data in ({"label": "animal", "action": "remove"}, {"label": "fruit", "action": "add"}):
        assert other_client.post(url, data).status_code == 404
    assert other_client.get(url).status_code == 405
    after = list(Tag.objects.order_by("id").values_list("photo", "label", "source", "rejected"))
    assert after == before


def test_other_user_bulk_with_one_owners_photo_changes_nothing(other_client, album, other_user):
    [theirs] = upload(other_client, ("theirs.png", support.png()))
    url = reverse("photos:tags_bulk")
    mixed = [theirs["photo"], str(album["cat.jpg"].id)]
    before = list(Tag.objects.order_by("id").values_list("photo", "label", "source", "rejected"))
    for data in (
        {"photo": mixed, "label": "fruit", "action": "add"},
        {"photo": mixed, "label": "animal", "action": "remove"},
        {"photo": mixed, "label": "not-a-label", "action": "add"},  # 404 before the label
    ):
        assert other_client.post(url, data).status_code == 404
    after = list(Tag.objects.order_by("id").values_list("photo", "label", "source", "rejected"))
    assert after == before


def test_other_user_sees_only_their_own_counts_and_progress(other_client, album, models_dir):
    tagger_install(models_dir)
    body = other_client.get(reverse("photos:tagging_status")).json()
    assert body["total"] == 0 and body["updating"] is False
    # A photo of their own, so that their gallery has tag chips (an empty vault shows none).
    upload(other_client, ("mine.jpg", support.jpeg(support.picture(64, 48, seed=99))))
    html = other_client.get(reverse("photos:gallery"), {"tag": "animal"}).content.decode()
    assert tile_ids(other_client.get(reverse("photos:gallery"), {"tag": "animal"})) == []
    assert re.search(r'class="chip-count">0<', chip(html, "landscape"))
