"""The people pages' one script in real Chromium: select many faces at once and answer "Is this
Ana?" for all of them; the action buttons wait for a selection. Any console error or CSP
violation fails the test (the page fixture)."""

import pytest
from django.urls import reverse

from tests.people import synthetic
from tests.people.faces_support import keyring_of
from tests.users import PASSWORD
from vault.people.models import Face
from vaultdev.signin import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_confirm_many_faces_at_once(page, owner, data_dir):
    mk = keyring_of(owner, PASSWORD).metadata_key
    ana, faces = synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Ana")
    candidates = [
        synthetic.face_row(owner, synthetic.photo_row(owner, mk), mk, synthetic.look(1, 10 + n))
        for n in range(3)
    ]
    synthetic.pictures_for(faces + candidates)
    synthetic.suggestions_computed(owner, mk)

    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.goto(reverse("people:detail", args=[ana.id]))
    review = page.locator("form", has=page.locator("#review-faces"))
    assert review.locator("input[name=face]").count() == 3
    yes = review.get_by_role("button", name="Yes, Ana")
    assert yes.is_disabled()  # nothing selected yet
    review.get_by_role("button", name="Select all").click()
    assert review.locator(".selection-count").inner_text() == "3 selected"
    yes.click()
    page.get_by_text("Added 3 faces to Ana.").wait_for()
    assert page.locator("#review-faces").count() == 0  # nothing left to ask
    assert page.locator("#person-faces input[name=face]").count() == 5
    assert set(Face.objects.filter(person=ana).values_list("id", flat=True)) == {
        f.id for f in faces + candidates
    }
