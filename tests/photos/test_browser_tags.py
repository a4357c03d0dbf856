"""Tags in real Chromium, tagged by a real worker process with the shipped tagger: the owner
removes a wrong tag and adds a right one on a photo's page, filters the gallery with the tag
chips, and watches the banner while old photos are re-tagged. Any error in the browser console
fails the test."""

import re
from pathlib import Path

import pytest
from django.urls import reverse

from tests.users import PASSWORD
from vault.photos.models import Photo, Tag
from vault.photos.seen_by import active_tagger_id
from vaultdev.pytest_plugin import wait_until
from vaultdev.signin import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHOTOS = ["astronaut.png", "chelsea.png", "motorcycle_left.png"]


def visible_labels(photo_id) -> set[str]:
    return set(
        Tag.objects.filter(photo_id=photo_id, rejected=False).values_list("label", flat=True)
    )


def tiles_shown(page) -> set[str]:
    return set(page.locator(".tile").evaluate_all("tiles => tiles.map(t => t.dataset.photo)"))


@pytest.fixture
def tagger_worker(start_worker, settings, tmp_path):
    """A worker with the tagger alone: a face found in the astronaut would tag her "human" by
    itself and leave out the tagger's wrong guess that this test corrects."""
    models = tmp_path / "tagger-only"
    models.mkdir()
    for path in Path(settings.VAULT_MODELS_DIR).glob("tagger-*"):
        (models / path.name).symlink_to(path)
    settings.VAULT_MODELS_DIR = models
    return start_worker(VAULT_MODELS_DIR=str(models))


def test_correct_tags_then_filter_the_gallery_by_chips(page, owner, tagger_worker):
    from tests.photos import support

    model_id = active_tagger_id()[0]
    if model_id is None:
        pytest.skip("no usable tagger in VAULT_MODELS_DIR")
    problems = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))

    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.goto(reverse("photos:upload"))
    page.locator("#id_photos").set_input_files(
        [
            {"name": name, "mimeType": "image/*", "buffer": support.real_photo(name)}
            for name in PHOTOS
        ]
    )
    page.locator(".upload-item.ready").nth(2).wait_for(timeout=120_000)
    wait_until(
        lambda: Photo.objects.filter(owner=owner, tagged_by=model_id).count() == 3, timeout=60
    )
    by_name = {}
    for name in PHOTOS:
        href = page.locator(".upload-item", has_text=name).locator("a").get_attribute("href")
        by_name[name] = Photo.objects.get(pk=href.strip("/").rsplit("/", 1)[-1])
    astronaut, motorbike = by_name["astronaut.png"], by_name["motorcycle_left.png"]
    assert "vehicle" in visible_labels(motorbike.id)
    # The shipped model's wrong guess for the astronaut: whatever it said that is not "human".
    wrong = sorted(visible_labels(astronaut.id) - {"human"})
    assert wrong, "the tagger called the astronaut human and nothing else: choose another photo"
    wrong_tag = Tag.objects.get(photo=astronaut, label=wrong[0])
    wrong_name = wrong_tag.get_label_display()

    # The astronaut's page: each tag with its score and the model that made it.
    page.goto(reverse("photos:gallery"))
    page.locator(f'.tile[data-photo="{astronaut.id}"] .tile-link').click()
    page.wait_for_url(f"**{reverse('photos:detail', args=[astronaut.id])}")
    item = page.locator(f'.tag-item[data-tag="{wrong_tag.label}"]')
    assert f"{round(wrong_tag.score * 100)}%" in item.inner_text()
    assert model_id in item.inner_text()
    assert page.locator("script:not([src])").count() == 0  # ready for a strict CSP

    item.get_by_role("button", name=f"Remove {wrong_name}").click()
    page.get_by_text(f"Removed {wrong_name}.").wait_for()
    assert page.locator(f'.tag-item[data-tag="{wrong_tag.label}"]').count() == 0
    if "human" not in visible_labels(astronaut.id):
        page.get_by_label("Add a tag").select_option("human")
        page.get_by_role("button", name="Add", exact=True).click()
        page.get_by_text("Added Human.").wait_for()
    human = page.locator('.tag-item[data-tag="human"]')
    assert "added by you" in human.inner_text() or model_id in human.inner_text()
    assert "human" in visible_labels(astronaut.id)
    assert wrong_tag.label not in visible_labels(astronaut.id)
    assert Tag.objects.get(photo=astronaut, label=wrong_tag.label).rejected

    # The gallery by chips: each a link that toggles its tag, kept in the URL.
    page.get_by_role("link", name="← Gallery").click()
    page.wait_for_url(lambda url: url.endswith(reverse("photos:gallery")))
    page.locator('.chip[data-tag="vehicle"]').click()
    page.wait_for_url(re.compile(r"\?tag=vehicle$"))
    assert page.locator('.chip[data-tag="vehicle"]').get_attribute("aria-current") == "true"
    with_vehicle = set(
        str(pk)
        for pk in Photo.objects.filter(
            owner=owner, tags__label="vehicle", tags__rejected=False
        ).values_list("pk", flat=True)
    )
    assert str(motorbike.id) in with_vehicle
    assert tiles_shown(page) == with_vehicle
    if wrong_tag.label == "vehicle":
        assert str(astronaut.id) not in tiles_shown(page)  # the removed tag is gone

    page.locator('.chip[data-tag="vehicle"]').click()  # off again
    page.wait_for_url(lambda url: url.endswith(reverse("photos:gallery")))
    page.locator('.chip[data-tag="human"]').click()
    page.wait_for_url(re.compile(r"\?tag=human$"))
    assert str(astronaut.id) in tiles_shown(page)
    assert str(motorbike.id) not in tiles_shown(page) or "human" in visible_labels(motorbike.id)

    # As if tagged by an older model: the visit re-tags them, the banner follows to the end,
    # and the user's corrections outlive the re-run.
    Photo.objects.filter(owner=owner).update(tagged_by="")
    page.goto(reverse("photos:gallery"))
    banner = page.locator("#tagging-status")
    # The worker may have finished one already: the page counts what is done when it renders.
    assert re.fullmatch(
        rf"Tagging your photos with {re.escape(model_id)}: [0-2] of 3 done", banner.inner_text()
    )
    page.get_by_text(f"All 3 photos are tagged with {model_id}.").wait_for(timeout=60_000)
    assert visible_labels(astronaut.id) >= {"human"}
    assert wrong_tag.label not in visible_labels(astronaut.id)
    assert problems == []
