"""The photo page says who is in the photo: each face's crop with its person's name, or a link
to say who it is; faces marked "not a face" are not listed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.people import synthetic
from tests.people.faces_support import keyring_of
from tests.users import PASSWORD
from vault.people.models import Face

pytestmark = pytest.mark.django_db


def test_the_photo_page_names_the_people_in_it(owner_client, owner):
    mk = keyring_of(owner, PASSWORD).metadata_key
    ana, [face] = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Ana Lima")
    stranger = synthetic.face_row(owner, face.photo, mk, synthetic.look(2, 0), index=1)
    wrong = synthetic.face_row(owner, face.photo, mk, synthetic.look(3, 0), index=2)
    Face.objects.filter(pk=wrong.pk).update(not_a_face=True)

    page = owner_client.get(reverse("photos:detail", args=[face.photo_id])).content.decode()
    assert "Ana Lima" in page
    assert reverse("people:detail", args=[ana.id]) in page
    assert reverse("people:crop", args=[face.id]) in page
    assert reverse("people:face", args=[stranger.id]) in page and "Who is this?" in page
    assert reverse("people:crop", args=[wrong.id]) not in page


def test_a_photo_without_faces_has_no_people_panel(owner_client, owner):
    mk = keyring_of(owner, PASSWORD).metadata_key
    photo = synthetic.photo_row(owner, mk)
    page = owner_client.get(reverse("photos:detail", args=[photo.id])).content.decode()
    assert 'class="photo-faces"' not in page


def test_the_gallery_says_while_faces_are_looked_for_in_photos_already_there(owner_client, owner):
    from vault.photos.models import Photo
    from vault.photos.seen_by import active_faces_id, active_tagger_id

    mk = keyring_of(owner, PASSWORD).metadata_key
    for _ in range(3):
        synthetic.photo_row(owner, mk)
    # Tagged by the active tagger, but from before faces were looked for (faces_by "").
    Photo.objects.filter(owner=owner).update(tagged_by=active_tagger_id()[0], faces_by="")
    Photo.objects.filter(pk=Photo.objects.filter(owner=owner).first().pk).update(
        faces_by=active_faces_id()[0]
    )
    page = owner_client.get(reverse("photos:gallery")).content.decode()
    assert "Looking for faces in your photos: 1 of 3 done" in page


def test_an_unnamed_group_whose_photos_were_all_deleted_is_not_listed(owner_client, owner):
    mk = keyring_of(owner, PASSWORD).metadata_key
    group, faces = synthetic.person_with_faces(owner, mk, seed=4, count=3)
    named, _ = synthetic.person_with_faces(owner, mk, seed=5, count=1, name="Bea")
    for face in faces:
        face.photo.delete()
    page = owner_client.get(reverse("people:list")).content.decode()
    assert f'data-person="{group.id}"' not in page
    assert f'data-person="{named.id}"' in page
