"""While regrouping runs after a correction, faces just taken out of a person are shown as
"being regrouped", not as if the change did not stick (issue 24)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.people import synthetic
from vault.people import services
from vault.people.models import PeopleState

pytestmark = pytest.mark.django_db


def test_faces_taken_out_show_as_being_regrouped_until_the_run(owner_client, owner, mk):
    ana, faces = synthetic.person_with_faces(owner, mk, seed=1, count=4, name="Ana")
    out = faces[:2]
    services.faces_remove(user=owner, person_id=ana.id, face_ids=[f.id for f in out])

    page = owner_client.get(reverse("people:detail", args=[ana.id])).content.decode()
    section = page[page.index('id="regrouping-faces"') :]
    section = section[: section.index("</ul>")]
    assert "You took 2 faces out of Ana" in page
    assert all(str(f.id) in section for f in out)
    kept = page[page.index('id="person-faces"') :]
    assert not any(f'value="{f.id}"' in kept for f in out)
    listed = owner_client.get(reverse("people:list")).content.decode()
    assert listed.count("Being regrouped") == 2

    # The run is done (as the worker marks it): nothing waits, no badge.
    PeopleState.objects.filter(owner=owner).update(needs_clustering=False)
    page = owner_client.get(reverse("people:detail", args=[ana.id])).content.decode()
    assert "Being regrouped" not in page
    assert "Being regrouped" not in owner_client.get(reverse("people:list")).content.decode()
