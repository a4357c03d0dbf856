"""People in real Chromium, found by a real worker process with the shipped face models: the
owner uploads photos of two people, sees people appear, names one, filters the gallery by her,
merges the other group into her, removes a face that is not her, lets the faces be grouped
again, and sees the removal and the name hold. Any console error or CSP violation fails it."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from tests.people import faces_support as faces
from tests.users import PASSWORD
from vault.people.models import Face, PeopleState, Person
from vault.photos.models import Photo
from vault.photos.seen_by import active_faces_id
from vaultdev.pytest_plugin import wait_until
from vaultdev.signin import sign_in_browser

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COPIES = 4  # photos per person: more than the clustering's minimum group size


def _files():
    files = []
    for who, image in (("eileen", faces.astronaut()), ("grace", faces.grace_hopper())):
        for number in range(COPIES):
            data = faces.jpeg_bytes(faces.variant(image, number))
            files.append({"name": f"{who}-{number}.jpg", "mimeType": "image/jpeg", "buffer": data})
    return files


def _faces_of(person_id) -> set[str]:
    return {str(pk) for pk in Face.objects.filter(person_id=person_id).values_list("pk", flat=True)}


def _clustered(owner) -> bool:
    state = PeopleState.objects.filter(owner=owner).first()
    return state is not None and not state.needs_clustering and state.clustered_at is not None


def test_people_appear_and_the_owners_corrections_hold(page, owner, rq_worker):
    if active_faces_id()[0] is None:
        pytest.skip("no usable face models in VAULT_MODELS_DIR")
    sign_in_browser(page, email=owner.email, password=PASSWORD)
    page.goto(reverse("photos:upload"))
    page.locator("#id_photos").set_input_files(_files())
    wait_until(
        lambda: Photo.objects.filter(owner=owner, state=Photo.State.READY).count() == 2 * COPIES,
        timeout=240,
    )
    by_who = {
        who: set(
            Face.objects.filter(owner=owner, photo__in=_photos_named(owner, who)).values_list(
                "pk", flat=True
            )
        )
        for who in ("eileen", "grace")
    }
    assert all(len(ids) == COPIES for ids in by_who.values()), by_who

    # The people page: the visit starts the grouping (the batch is done); people appear.
    page.goto(reverse("people:list"))
    wait_until(lambda: _clustered(owner), timeout=120)
    page.reload()
    cards = page.locator(".person-card")
    assert cards.count() == 2, page.locator("main").inner_text()
    eileen = Face.objects.get(pk=next(iter(by_who["eileen"]))).person
    grace = Face.objects.get(pk=next(iter(by_who["grace"]))).person
    assert eileen and grace and eileen != grace
    assert _faces_of(eileen.id) == {str(pk) for pk in by_who["eileen"]}

    # Name Eileen.
    page.locator(f'.person-card[data-person="{eileen.id}"] a').click()
    page.get_by_label("Who is this?").fill("Eileen Collins")
    page.get_by_role("button", name="Save name").click()
    page.get_by_role("heading", name="Eileen Collins").wait_for()

    # The gallery by person: her photos only, with her name on the filter's chip.
    page.get_by_role("link", name="Show in the gallery").click()
    page.wait_for_url(re.compile(rf"\?person={eileen.id}$"))
    shown = set(page.locator(".tile").evaluate_all("ts => ts.map(t => t.dataset.photo)"))
    assert shown == {str(p.id) for p in _photos_named(owner, "eileen")}
    assert "Eileen Collins" in page.locator('.chip[data-filter="person"]').inner_text()

    # Merge the other group into Eileen (the owner says so; the clustering never would).
    page.goto(reverse("people:detail", args=[grace.id]))
    page.get_by_label("Same person as…").select_option(label="Eileen Collins")
    page.get_by_role("button", name="Merge").click()
    page.get_by_role("heading", name="Merge into Eileen Collins?").wait_for()  # asks first
    page.get_by_role("button", name="Merge", exact=True).click()
    page.get_by_role("heading", name="Eileen Collins").wait_for()
    assert not Person.objects.filter(pk=grace.pk).exists()
    assert len(_faces_of(eileen.id)) == 2 * COPIES

    # Remove one of Grace's faces: "not this person".
    removed = str(next(iter(by_who["grace"])))
    page.locator(f'.face-tile[data-face="{removed}"] input[type=checkbox]').check()
    page.get_by_role("button", name="Not this person").click()
    page.locator(f'#person-faces .face-tile[data-face="{removed}"]').wait_for(state="detached")

    # The faces are grouped again on the next visit; the name, the merge and the removal hold.
    page.goto(reverse("people:list"))
    wait_until(lambda: _clustered(owner), timeout=120)
    page.goto(reverse("people:detail", args=[eileen.id]))
    page.get_by_role("heading", name="Eileen Collins").wait_for()
    assert removed not in _faces_of(eileen.id)
    assert page.locator(f'#person-faces .face-tile[data-face="{removed}"]').count() == 0
    assert len(_faces_of(eileen.id)) == 2 * COPIES - 1
    assert Person.objects.get(pk=eileen.pk).protected


def _photos_named(owner, who: str) -> list[Photo]:
    from tests.people.faces_support import keyring_of
    from vault.photos.selectors import photo_original_name

    keyring = keyring_of(owner, PASSWORD)
    return [
        photo
        for photo in Photo.objects.filter(owner=owner)
        if photo_original_name(photo, keyring).startswith(who)
    ]
