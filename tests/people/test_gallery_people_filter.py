"""The gallery's filters offer people as chips with counts, like tags (issue 24), and a
`?person=` that is mangled, unknown or merged away says so (or follows the merge) instead of
silently showing every photo."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from tests.people import synthetic
from vault.people import services
from vault.photos.models import Tag

pytestmark = pytest.mark.django_db


def _chips(page: str) -> str:
    start = page.index('data-options="person"')
    return page[start : page.index("</ul>", start)]


def test_people_chips_with_counts_under_the_other_filters(owner_client, owner, mk):
    ana, ana_faces = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Ana Lima")
    bea, _ = synthetic.person_with_faces(owner, mk, seed=2, count=1, name="Bea")
    group, _ = synthetic.person_with_faces(owner, mk, seed=3, count=4)  # unnamed: no chip
    Tag.objects.create(photo=ana_faces[0].photo, label="animal", score=1.0, source="user")

    page = owner_client.get(reverse("photos:gallery")).content.decode()
    chips = _chips(page)
    assert "Ana Lima" in chips and "Bea" in chips and str(group.id) not in chips
    assert f"?person={ana.id}" in chips
    assert chips.index("Ana Lima") < chips.index("Bea")  # most photos first
    assert 'Ana Lima <span class="chip-count">3</span>' in chips

    page = owner_client.get(reverse("photos:gallery") + "?tag=animal").content.decode()
    chips = _chips(page)
    assert 'Ana Lima <span class="chip-count">1</span>' in chips
    assert 'Bea <span class="chip-count">0</span>' in chips

    page = owner_client.get(reverse("photos:gallery") + f"?person={bea.id}").content.decode()
    assert f'data-person="{bea.id}" href="/photos/" aria-current="true"' in _chips(page)


def test_a_mangled_person_link_says_so(owner_client, owner, mk):
    synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Ana")
    response = owner_client.get(reverse("photos:gallery") + "?person=not-an-id")
    assert response.status_code == 200
    page = response.content.decode()
    assert "The person in this link is not valid: it is ignored." in page


def test_an_unknown_person_link_says_so_and_shows_no_photo(
    owner_client, owner, mk, other_user, other_mk
):
    synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Ana")
    theirs, _ = synthetic.person_with_faces(other_user, other_mk, seed=2, count=1, name="Tom")
    for unknown in (uuid.uuid4(), theirs.id):
        page = owner_client.get(reverse("photos:gallery") + f"?person={unknown}").content.decode()
        assert "No person of yours has this id, so no photo matches." in page
        assert "Tom" not in page
        assert "No photos match these filters" in page


def test_a_merged_persons_link_shows_the_person_it_became(owner_client, owner, mk):
    kit, kit_faces = synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Kit")
    group, group_faces = synthetic.person_with_faces(owner, mk, seed=1, count=1)
    services.person_merge(user=owner, metadata_key=mk, target_id=kit.id, source_ids=[group.id])
    page = owner_client.get(reverse("photos:gallery") + f"?person={group.id}").content.decode()
    assert "No person of yours" not in page
    for face in kit_faces + group_faces:
        assert str(face.photo_id) in page
