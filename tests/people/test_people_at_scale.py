"""Issue 25's people pages: the list is paginated with named people first, pickers search as
you type (a JSON endpoint) instead of listing everyone, exemplars and embeddings are never read
by the pages, the queries do not grow with the number of people, and review candidates and
merge suggestions are computed by the worker's step and stored sealed, not per view."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.people import synthetic
from vault.people import selectors, services, suggestions
from vault.people.models import PersonSuggestions

pytestmark = pytest.mark.django_db


def _people(owner, mk, count: int, *, named: bool, start: int = 0):
    made = []
    for n in range(start, start + count):
        name = f"Person {n:03d}" if named else None
        made.append(synthetic.person_with_faces(owner, mk, seed=100 + n, count=1, name=name)[0])
    return made


def test_the_people_list_is_paginated_with_named_people_first(owner_client, owner, mk):
    named = _people(owner, mk, selectors.PEOPLE_PAGE + 5, named=True)
    groups = _people(owner, mk, 3, named=False, start=500)
    first = owner_client.get(reverse("people:list")).content.decode()
    assert first.count('class="person-card"') == selectors.PEOPLE_PAGE
    assert "More people</a>" in first and "Not named yet" not in first
    second = owner_client.get(reverse("people:list") + "?page=2").content.decode()
    assert second.count('class="person-card"') == 5 + 3
    assert "Named" in second and second.index("Named") < second.index("Not named yet")
    for person in named[:1] + groups:
        assert (f'data-person="{person.id}"' in first) != (f'data-person="{person.id}"' in second)
    assert "More people</a>" not in second


def test_pickers_list_a_few_people_and_search_the_rest_as_you_type(
    owner_client, owner, mk, other_user, other_mk
):
    _people(owner, mk, selectors.PICKER_NAMED + 10, named=True)
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Ana Lima")
    synthetic.person_with_faces(owner, mk, seed=2, count=1, name="Joana")
    synthetic.person_with_faces(other_user, other_mk, seed=3, count=1, name="Anabel Theirs")
    page = owner_client.get(reverse("people:detail", args=[ana.id])).content.decode()
    picker = page[page.index('id="id_into"') :]
    picker = picker[: picker.index("</select>")]
    assert picker.count("<option") <= selectors.PICKER_NAMED + selectors.PICKER_UNNAMED + 1
    assert f'data-person-search="{reverse("people:search")}"' in page

    found = owner_client.get(reverse("people:search"), {"q": "ANA"}).json()["people"]
    assert [p["label"] for p in found] == ["Ana Lima", "Joana"]  # starts-with first, any case
    found = owner_client.get(reverse("people:search"), {"q": "ana", "exclude": str(ana.id)})
    assert [p["label"] for p in found.json()["people"]] == ["Joana"]
    assert owner_client.get(reverse("people:search"), {"q": "Theirs"}).json() == {"people": []}


def test_the_people_pages_never_read_exemplars_or_embeddings(owner_client, owner, mk):
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Ana")
    group, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2)
    synthetic.face_row(owner, synthetic.photo_row(owner, mk), mk, synthetic.look(1, 10))
    synthetic.suggestions_computed(owner, mk)
    for url in (
        reverse("people:list"),
        reverse("people:detail", args=[ana.id]),
        reverse("people:detail", args=[group.id]),
        reverse("people:search") + "?q=a",
    ):
        with CaptureQueriesContext(connection) as queries:
            assert owner_client.get(url).status_code == 200
        sql = " ".join(q["sql"] for q in queries.captured_queries)
        assert "exemplars_sealed" not in sql, url
        assert "embedding_sealed" not in sql, url


def test_page_queries_do_not_grow_with_the_number_of_people(owner_client, owner, mk):
    _people(owner, mk, 3, named=True)
    _people(owner, mk, 3, named=False, start=50)
    with CaptureQueriesContext(connection) as few:
        owner_client.get(reverse("people:list"))
    _people(owner, mk, 30, named=True, start=100)
    _people(owner, mk, 30, named=False, start=200)
    with CaptureQueriesContext(connection) as many:
        owner_client.get(reverse("people:list"))
    assert len(many.captured_queries) == len(few.captured_queries)


def test_the_worker_step_stores_suggestions_sealed_and_the_page_drops_stale_ones(
    owner_client, owner, mk
):
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Ana")
    group, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2)
    far, _ = synthetic.person_with_faces(owner, mk, seed=7, count=2)
    candidate = synthetic.face_row(owner, synthetic.photo_row(owner, mk), mk, synthetic.look(1, 10))

    assert synthetic.suggestions_computed(owner, mk) == 1
    sealed = bytes(PersonSuggestions.objects.get(person=ana).sealed)
    for clear in (str(group.id), str(candidate.id), group.id.hex):
        assert clear.encode() not in sealed
    stored = suggestions.suggestions_of(person=ana, metadata_key=mk)
    assert [fid for fid, _ in stored.review] == [str(candidate.id)]
    assert [gid for gid, _ in stored.merge] == [str(group.id)]
    assert str(far.id) not in [gid for gid, _ in stored.merge]

    # The owner answers; the stored lists are not recomputed, the page drops what changed.
    services.review_reject(user=owner, person_id=ana.id, face_ids=[candidate.id])
    services.person_rename(user=owner, metadata_key=mk, person_id=group.id, name="Bea")
    page = owner_client.get(reverse("people:detail", args=[ana.id])).content.decode()
    assert "Is this Ana?" not in page and "These groups look like Ana" not in page


def test_a_newly_named_person_says_suggestions_come_with_the_next_grouping(owner_client, owner, mk):
    group, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2)
    services.person_rename(user=owner, metadata_key=mk, person_id=group.id, name="Ana")
    page = owner_client.get(reverse("people:detail", args=[group.id])).content.decode()
    assert 'id="suggestions-pending"' in page
