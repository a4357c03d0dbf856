"""Faces of photos in the trash leave the people pages, the search and the clustering until
the photo is restored (the photo stays the owner's, so do its faces' assignments)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.people import synthetic
from vault.people.clustering_run import clustering_input

pytestmark = pytest.mark.django_db


def _trash(client, *photos):
    ids = [str(p.id) for p in photos]
    response = client.post(reverse("photos:delete"), {"photo": ids, "confirm": "yes"})
    assert response.status_code == 302
    for photo in photos:
        photo.refresh_from_db()
        assert photo.trashed_at is not None


def _restore(client, *photos):
    ids = [str(p.id) for p in photos]
    assert client.post(reverse("photos:trash_restore"), {"photo": ids}).status_code == 302
    for photo in photos:
        photo.refresh_from_db()
        assert photo.trashed_at is None


def _search(client, query: str) -> list[str]:
    found = client.get(reverse("people:search"), {"q": query}).json()["people"]
    return [row["label"] for row in found]


def test_trashed_photos_leave_the_people_pages_and_come_back_restored(owner_client, owner, mk):
    ana, ana_faces = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Ana Lima")
    zed, [zed_face] = synthetic.person_with_faces(owner, mk, seed=2, count=1, name="Zed Quill")
    best = synthetic.face_row(
        owner, synthetic.photo_row(owner, mk), mk, synthetic.look(1, 9), person=ana, score=0.999
    )
    loose = synthetic.face_row(owner, synthetic.photo_row(owner, mk), mk, synthetic.look(3, 0))
    trashed = [best.photo, zed_face.photo, loose.photo]
    people, ana_page = reverse("people:list"), reverse("people:detail", args=[ana.id])
    crop = lambda face: reverse("people:crop", args=[face.id])  # noqa: E731
    thumb = lambda face: reverse("photos:thumb", args=[face.photo_id])  # noqa: E731

    before = owner_client.get(people).content.decode()
    assert "4 photos" in before and "Zed Quill" in before
    assert crop(best) in before  # the best face is Ana's cover
    assert crop(loose) in before

    _trash(owner_client, *trashed)
    page = owner_client.get(people).content.decode()
    assert "Ana Lima" in page and "3 photos" in page and "4 photos" not in page
    assert crop(best) not in page and any(crop(f) in page for f in ana_faces)  # another cover
    assert "Zed Quill" not in page  # every face of Zed is in the trash
    assert crop(loose) not in page
    page = owner_client.get(ana_page).content.decode()
    assert crop(best) not in page and thumb(best) not in page
    assert all(crop(f) in page and thumb(f) in page for f in ana_faces)
    assert owner_client.get(reverse("people:detail", args=[zed.id])).status_code == 200
    assert _search(owner_client, "zed") == [] and _search(owner_client, "ana") == ["Ana Lima"]
    read = {item.face_id for item in clustering_input(owner_id=owner.pk, metadata_key=mk).faces}
    assert read == {str(f.id) for f in ana_faces}

    _restore(owner_client, *trashed)
    page = owner_client.get(people).content.decode()
    assert "4 photos" in page and "Zed Quill" in page
    assert crop(best) in page and crop(loose) in page
    page = owner_client.get(ana_page).content.decode()
    assert crop(best) in page and thumb(best) in page
    assert _search(owner_client, "zed") == ["Zed Quill"]
    read = {item.face_id for item in clustering_input(owner_id=owner.pk, metadata_key=mk).faces}
    assert read == {str(f.id) for f in [*ana_faces, best, zed_face, loose]}
    best.refresh_from_db()
    assert best.person_id == ana.id  # its assignment kept through the trash


def test_a_trashed_photo_is_not_offered_for_review(owner_client, owner, mk):
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Ana")
    candidate = synthetic.face_row(owner, synthetic.photo_row(owner, mk), mk, synthetic.look(1, 10))
    synthetic.suggestions_computed(owner, mk)
    page_url = reverse("people:detail", args=[ana.id])
    assert f'value="{candidate.id}"' in owner_client.get(page_url).content.decode()
    _trash(owner_client, candidate.photo)
    assert f'value="{candidate.id}"' not in owner_client.get(page_url).content.decode()
    synthetic.suggestions_computed(owner, mk)  # the worker's next run does not store it either
    assert f'value="{candidate.id}"' not in owner_client.get(page_url).content.decode()


def test_a_trashed_photos_faces_leave_its_face_list_and_the_same_name_offer(
    owner_client, owner, mk
):
    from vault.people.selectors import faces_of_photo, people_named_alike

    kit, [kit_face] = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Kit")
    group, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2)
    assert people_named_alike(user=owner, metadata_key=mk, name="kit", exclude=group.id) == [kit]
    assert [f.face.id for f in faces_of_photo(user=owner, photo=kit_face.photo, metadata_key=mk)]

    _trash(owner_client, kit_face.photo)
    assert people_named_alike(user=owner, metadata_key=mk, name="kit", exclude=group.id) == []
    assert faces_of_photo(user=owner, photo=kit_face.photo, metadata_key=mk) == []
    page = owner_client.post(
        reverse("people:rename", args=[group.id]), {"name": "Kit"}, follow=True
    ).content.decode()
    assert 'id="same-name"' not in page  # no offer to merge into a person only in the trash

    _restore(owner_client, kit_face.photo)
    assert people_named_alike(user=owner, metadata_key=mk, name="kit", exclude=None) != []
    assert [f.face.id for f in faces_of_photo(user=owner, photo=kit_face.photo, metadata_key=mk)]


def test_trashing_or_restoring_a_photo_with_faces_makes_a_clustering_run_due(
    owner_client, owner, mk
):
    from vault.people.models import PeopleState

    _, [face] = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Ana")
    bare = synthetic.photo_row(owner, mk)
    PeopleState.objects.update_or_create(owner=owner, defaults={"needs_clustering": False})
    due = lambda: PeopleState.objects.get(owner=owner).needs_clustering  # noqa: E731

    _trash(owner_client, bare)
    assert not due()  # no faces: nothing to regroup
    _trash(owner_client, face.photo)
    assert due()
    PeopleState.objects.filter(owner=owner).update(needs_clustering=False)
    _restore(owner_client, face.photo)
    assert due()
