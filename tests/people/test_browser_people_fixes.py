"""Issue 24's people bugs in real Chromium, on rows made directly (no worker needed):
1. "Merge into NAME" from a suggestion merges for real (and asks first, and can be undone);
4. the photo page lists its people as small round crops with the name beside them, on a wide
   screen and on a phone;
6. a tab left open on a person another tab merged says where the person went.
Any console error or CSP violation fails the test (the `page` fixture)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from tests.people import synthetic
from tests.users import PASSWORD
from vault.crypto import keys as crypto_keys
from vault.people.models import Face, FaceVeto, Person
from vault.photos import blobs
from vault.photos.models import Blob
from vaultdev.signin import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def test_merge_into_a_suggested_person_moves_the_faces_and_stays_merged(page, owner, mk, data_dir):
    barack, kept = synthetic.person_with_faces(owner, mk, seed=1, count=5, name="Barack Obama")
    # Three of his faces the owner took out ("Not this person"); regrouping made them a group.
    group, taken_out = synthetic.person_with_faces(owner, mk, seed=1, count=3)
    for face in taken_out:
        FaceVeto.objects.create(face=face, person=barack)
    synthetic.pictures_for(kept + taken_out)
    synthetic.suggestions_computed(owner, mk)

    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.goto(reverse("people:detail", args=[barack.id]))
    page.get_by_text("These groups look like Barack Obama").wait_for()
    page.get_by_role("button", name="Merge into Barack Obama").click()
    page.get_by_role("heading", name="Merge into Barack Obama?").wait_for()
    page.get_by_role("button", name="Merge", exact=True).click()
    page.get_by_text("Merged into Barack Obama: 3 faces moved, 8 faces in all.").wait_for()
    assert page.locator("#person-faces input[name=face]").count() == 8
    assert page.get_by_text("These groups look like Barack Obama").count() == 0

    # The next clustering run's suggestions do not bring the group back.
    synthetic.suggestions_computed(owner, mk)
    page.reload()
    assert page.locator("#person-faces input[name=face]").count() == 8
    assert page.get_by_text("These groups look like").count() == 0
    assert set(Face.objects.filter(person=barack).values_list("pk", flat=True)) == {
        f.pk for f in kept + taken_out
    }

    page.get_by_role("button", name="Undo the merge").click()
    page.get_by_text("Merge undone").wait_for()
    assert Face.objects.filter(person_id=group.id).count() == 3


def _preview(photo) -> None:
    blobs.blob_write(
        photo=photo,
        variant=Blob.Variant.PREVIEW,
        data=synthetic.crop_jpeg((90, 120, 160)),
        data_key=crypto_keys.new_master_key(),
        owner_public_key=bytes(photo.owner.keys.public_key),
        media_type="image/jpeg",
        width=160,
        height=160,
    )


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_photo_pages_people_are_small_round_crops_with_names_beside(
    browser, live_server, owner, mk, data_dir, viewport
):
    _rose, [face] = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Rose Leslie")
    photo = face.photo
    others = [
        synthetic.face_row(owner, photo, mk, synthetic.look(2, 0), index=1, person=None),
        synthetic.face_row(owner, photo, mk, synthetic.look(3, 0), index=2),
    ]
    group = synthetic.person_row(owner, mk)
    Face.objects.filter(pk=others[0].pk).update(person=group)
    synthetic.pictures_for([face, *others])
    _preview(photo)
    context = browser.new_context(base_url=live_server.url, viewport=viewport)
    page = context.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        sign_in_browser(page, email=owner.email, password=PASSWORD)
        page.goto(reverse("photos:detail", args=[photo.id]))
        items = page.locator(".photo-face")
        assert items.count() == 3
        for n in range(3):
            item = items.nth(n)
            img = item.locator("img").bounding_box()
            name = item.locator("span").bounding_box()
            assert 32 <= img["width"] <= 64 and abs(img["width"] - img["height"]) < 1, img
            radius = item.locator("img").evaluate("e => getComputedStyle(e).borderRadius")
            assert radius == "50%", radius
            # Beside the crop, on one or two lines, never a column of single letters.
            assert name["x"] >= img["x"] + img["width"]
            assert name["y"] < img["y"] + img["height"] and img["y"] < name["y"] + name["height"]
            assert name["height"] <= 2.5 * 24 and name["width"] > 60, name
        assert page.get_by_text("Unnamed person").count() == 1
        assert page.get_by_text("Rose Leslie").count() >= 1
    finally:
        context.close()
    assert not errors, errors


def test_a_stale_tab_renaming_a_merged_person_is_told_where_it_went(page, owner, mk, data_dir):
    kit, kit_faces = synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Kit Harington")
    group, group_faces = synthetic.person_with_faces(owner, mk, seed=1, count=2)
    synthetic.pictures_for(kit_faces + group_faces)
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.goto(reverse("people:detail", args=[group.id]))

    other_tab = page.context.new_page()
    other_tab.goto(reverse("people:detail", args=[group.id]))
    # The picker searches as one types.
    other_tab.get_by_label("Search people for: Choose a person…").fill("kit")
    expect(other_tab.locator("#id_into")).to_have_value(str(kit.id))
    other_tab.get_by_role("button", name="Merge", exact=True).click()
    other_tab.get_by_role("button", name="Merge", exact=True).click()  # confirmed
    other_tab.get_by_text("Merged into Kit Harington").wait_for()
    other_tab.close()

    page.get_by_label("Who is this?").fill("Jon Snow")
    page.get_by_role("button", name="Save name").click()
    page.get_by_text("This person was merged into Kit Harington.").wait_for()
    assert page.url.endswith(reverse("people:detail", args=[kit.id]))
    assert not Person.objects.filter(pk=group.pk).exists()
    assert page.get_by_role("heading", name="Kit Harington").count() == 1
