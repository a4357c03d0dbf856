"""Issue 24's people items, server side: a merge asks first and can be undone from the page
that follows, a stale tab naming a merged person is told where it went, names keep their case
in messages, and naming a person like another offers to merge them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.people import synthetic
from vault.people import merges, services
from vault.people.models import Face, FaceVeto, Person, PersonForward, PersonMerge
from vault.people.sealing import name_open

pytestmark = pytest.mark.django_db


def _said(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


def _merge_confirmed(client, source, target):
    return client.post(
        reverse("people:merge", args=[source.id]),
        {"into": str(target.id), "confirm": "1"},
        follow=True,
    )


def test_undo_brings_the_merged_group_back_as_it_was(owner, mk):
    kit, kit_faces = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Kit Harington")
    group, group_faces = synthetic.person_with_faces(owner, mk, seed=1, count=2, hidden=False)
    stranger = synthetic.face_row(owner, synthetic.photo_row(owner, mk), mk, synthetic.look(9, 0))
    FaceVeto.objects.create(face=stranger, person=group)
    FaceVeto.objects.create(face=group_faces[0], person=kit)  # once taken out of Kit
    merged = services.person_merge(
        user=owner, metadata_key=mk, target_id=kit.id, source_ids=[group.id]
    )
    assert kit.faces.count() == 5

    [restored] = merges.person_merge_undo(user=owner, metadata_key=mk, merge_id=merged.merge.id)

    assert restored.id == group.id
    assert set(group.faces.values_list("pk", flat=True)) == {f.pk for f in group_faces}
    assert set(kit.faces.values_list("pk", flat=True)) == {f.pk for f in kit_faces}
    assert FaceVeto.objects.filter(face=group_faces[0], person=kit).exists()
    assert not FaceVeto.objects.filter(face=stranger, person=kit).exists()
    kit.refresh_from_db()
    assert name_open(mk, kit) == "Kit Harington"
    assert not PersonMerge.objects.exists() and not PersonForward.objects.exists()
    with pytest.raises(merges.MergeUndoRefused):
        merges.person_merge_undo(user=owner, metadata_key=mk, merge_id=merged.merge.id)


def test_the_merge_record_holds_no_name_in_clear(owner, mk):
    kit, _ = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Kit Harington")
    emilia, _ = synthetic.person_with_faces(owner, mk, seed=2, count=1, name="Emilia Clarke")
    merge = services.person_merge(
        user=owner, metadata_key=mk, target_id=kit.id, source_ids=[emilia.id]
    ).merge
    merge.refresh_from_db()
    stored = bytes(merge.undo_sealed)
    for secret in (b"Emilia", b"Kit", b"Harington"):
        assert secret not in stored


def test_merge_asks_first_then_offers_the_undo_that_brings_the_group_back(owner_client, owner, mk):
    kit, _ = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Kit Harington")
    group, group_faces = synthetic.person_with_faces(owner, mk, seed=1, count=2)
    asked = owner_client.post(reverse("people:merge", args=[group.id]), {"into": str(kit.id)})
    assert "Merge into Kit Harington?" in asked.content.decode()
    assert Person.objects.filter(pk=group.pk).exists()

    response = _merge_confirmed(owner_client, group, kit)
    page = response.content.decode()
    assert "Merged into Kit Harington: 2 faces moved, 5 faces in all." in _said(response)
    merge = PersonMerge.objects.get(owner=owner)
    undo_url = reverse("people:merge_undo", args=[merge.id])
    assert undo_url in page and "Undo the merge" in page

    response = owner_client.post(undo_url, follow=True)
    assert "Merge undone" in _said(response)
    assert set(Face.objects.filter(person_id=group.id).values_list("pk", flat=True)) == {
        f.pk for f in group_faces
    }
    assert (
        "Undo the merge"
        not in owner_client.get(reverse("people:detail", args=[kit.id])).content.decode()
    )


def test_renaming_a_person_another_tab_merged_says_where_it_went(owner_client, owner, mk):
    kit, _ = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Kit Harington")
    group, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2)
    _merge_confirmed(owner_client, group, kit)  # in another tab

    response = owner_client.post(
        reverse("people:rename", args=[group.id]), {"name": "Jon Snow"}, follow=True
    )

    assert response.status_code == 200
    assert "This person was merged into Kit Harington." in _said(response)
    assert response.redirect_chain[-1][0] == reverse("people:detail", args=[kit.id])
    kit.refresh_from_db()
    assert name_open(mk, kit) == "Kit Harington"  # the stale form changed nothing
    # Its old page and its gallery link forward too.
    response = owner_client.get(reverse("people:detail", args=[group.id]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("people:detail", args=[kit.id])


def test_a_forward_follows_later_merges(owner, mk):
    a, _ = synthetic.person_with_faces(owner, mk, seed=1, count=1)
    b, _ = synthetic.person_with_faces(owner, mk, seed=1, count=1)
    c, _ = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Cat")
    services.person_merge(user=owner, metadata_key=mk, target_id=b.id, source_ids=[a.id])
    services.person_merge(user=owner, metadata_key=mk, target_id=c.id, source_ids=[b.id])
    assert merges.person_forwarded(user=owner, person_id=a.id).id == c.id


def test_a_new_persons_name_keeps_its_case_in_the_message(owner_client, owner, mk):
    faces = [
        synthetic.face_row(owner, synthetic.photo_row(owner, mk), mk, synthetic.look(4, n))
        for n in range(2)
    ]
    response = owner_client.post(
        reverse("people:faces_bulk"),
        {"face": [str(f.id) for f in faces], "action": "new", "name": "Rose Leslie"},
        follow=True,
    )
    assert "Rose Leslie now has 2 faces." in _said(response)
    assert "Rose leslie" not in response.content.decode()


def test_naming_a_person_like_another_offers_to_merge_them(owner_client, owner, mk):
    kit, _ = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Kit Harington")
    group, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2)
    response = owner_client.post(
        reverse("people:rename", args=[group.id]), {"name": "kit  harington"}, follow=True
    )
    page = response.content.decode()
    assert "Another person is also named Kit Harington" in page
    offer = page[page.index('id="same-name"') :]
    assert reverse("people:merge", args=[group.id]) in offer and f'value="{kit.id}"' in offer
    # A `same` that does not share the name offers nothing.
    other, _ = synthetic.person_with_faces(owner, mk, seed=3, count=1, name="Sansa")
    page = owner_client.get(
        reverse("people:detail", args=[group.id]) + f"?same={other.id}"
    ).content.decode()
    assert 'id="same-name"' not in page


def test_a_merge_older_than_a_day_cannot_be_undone(owner, mk):
    kit, _ = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Kit")
    group, _ = synthetic.person_with_faces(owner, mk, seed=1, count=1)
    merge = services.person_merge(
        user=owner, metadata_key=mk, target_id=kit.id, source_ids=[group.id]
    ).merge
    PersonMerge.objects.filter(pk=merge.pk).update(
        created_at=merge.created_at - merges.UNDO_FOR - merges.dt.timedelta(minutes=1)
    )
    with pytest.raises(merges.MergeUndoRefused):
        merges.person_merge_undo(user=owner, metadata_key=mk, merge_id=merge.id)
    assert merges.person_forwarded(user=owner, person_id=group.id).id == kit.id  # still forwards
