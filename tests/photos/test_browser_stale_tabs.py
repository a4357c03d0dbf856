"""Stale tabs and forms sent again say what happened, in real Chromium (issue 24.6, photos):
tagging a photo another tab deleted, and "Move to the trash" pressed again, answer "Already
deleted" in the gallery instead of a bare "Page not found"; the single-photo confirmation
says "Keep it" and leads back to the photo (24.7)."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.photos.models import Photo
from vaultdev.signin import sign_in, sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def no_models(settings, tmp_path):
    """No tagger or face models: processing here makes thumbnails only, fast."""
    settings.VAULT_MODELS_DIR = tmp_path / "models"
    settings.VAULT_MODELS_DIR.mkdir()


def test_a_stale_tab_hears_already_deleted(page, owner, worker_key, no_models):
    # Ready photos: a page of a photo still processing polls and reloads by itself.
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    uploader = Client()
    sign_in(uploader, owner, PASSWORD)
    [first, second] = upload(
        uploader,
        ("one.jpg", support.jpeg(support.picture(seed=1))),
        ("two.jpg", support.jpeg(support.picture(seed=2))),
    )
    assert run_jobs() == ["ready", "ready"]
    photo_url = reverse("photos:detail", args=[first["photo"]])

    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.goto(photo_url)
    other_tab = page.context.new_page()
    other_tab.goto(photo_url)
    stale_tab = page.context.new_page()
    stale_tab.goto(photo_url)

    # Both tabs open the confirmation; it offers to keep the one photo and go back to it.
    for tab in (page, other_tab):
        tab.get_by_role("button", name="Delete", exact=True).click()
        tab.get_by_role("heading", name="Delete 1 photo?").wait_for()
    keep = page.get_by_role("link", name="Keep it")
    assert keep.get_attribute("href") == photo_url
    assert page.get_by_role("link", name="Keep them").count() == 0

    other_tab.get_by_role("button", name="Move to the trash").click()
    other_tab.get_by_text("Moved 1 photo to the trash").wait_for()

    # The first tab still shows the confirmation: pressing it again is no "Page not found".
    page.get_by_role("button", name="Move to the trash").click()
    page.get_by_text("Already deleted").wait_for()
    page.get_by_role("heading", name="Gallery").wait_for()
    assert Photo.objects.filter(owner=owner, trashed_at=None).count() == 1

    # A tab still showing the photo's page: adding a tag says the same.
    stale_tab.locator("#id_add_label").select_option("vehicle")
    stale_tab.get_by_role("button", name="Add", exact=True).click()
    stale_tab.get_by_text("Already deleted").wait_for()
    stale_tab.get_by_role("heading", name="Gallery").wait_for()
    assert not Photo.objects.filter(pk=second["photo"], tags__label="vehicle").exists()
    assert problems == []
