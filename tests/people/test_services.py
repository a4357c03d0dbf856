"""The owner's corrections to people, on real rows with sealed synthetic embeddings: each one
changes what the owner sees and holds as a constraint; another user's ids change nothing."""

from __future__ import annotations

import numpy as np
import pytest
from django.http import Http404

from tests.people import synthetic
from vault.people import services, suggestions
from vault.people.embeddings import MAX_EXEMPLARS, REVIEW_THRESHOLD
from vault.people.models import Face, FaceVeto, PeopleState, Person
from vault.people.sealing import name_open
from vault.photos.models import Tag

pytestmark = pytest.mark.django_db


def _due(user) -> bool:
    return PeopleState.objects.filter(owner=user, needs_clustering=True).exists()


# -- rename ------------------------------------------------------------------------------


def test_rename_seals_the_name_and_protects_the_person(owner, mk):
    person, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2)
    assert not person.protected
    services.person_rename(user=owner, metadata_key=mk, person_id=person.id, name="  Ana   Lima ")
    person.refresh_from_db()
    assert name_open(mk, person) == "Ana Lima"
    assert b"Ana" not in bytes(person.name_sealed)
    assert person.protected
    assert _due(owner)


def test_an_empty_name_unnames_but_keeps_the_person_protected(owner, mk):
    person, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Ana")
    services.person_rename(user=owner, metadata_key=mk, person_id=person.id, name="   ")
    person.refresh_from_db()
    assert person.name_sealed is None and person.protected


def test_a_name_too_long_is_refused_and_the_old_name_kept(owner, mk):
    person, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Ana")
    with pytest.raises(services.PeopleChangeRefused, match="at most 100"):
        services.person_rename(user=owner, metadata_key=mk, person_id=person.id, name="x" * 200)
    person.refresh_from_db()
    assert name_open(mk, person) == "Ana"


def test_another_users_person_cannot_be_renamed(owner, mk, other_user, other_mk):
    person, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Ana")
    with pytest.raises(Http404):
        services.person_rename(
            user=other_user, metadata_key=other_mk, person_id=person.id, name="X"
        )
    person.refresh_from_db()
    assert name_open(mk, person) == "Ana"


# -- merge -------------------------------------------------------------------------------


def test_merge_moves_faces_and_vetoes_keeps_the_name_and_deletes_the_source(owner, mk):
    ana, ana_faces = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Ana")
    group, group_faces = synthetic.person_with_faces(owner, mk, seed=1, count=2)
    stranger = synthetic.face_row(owner, synthetic.photo_row(owner, mk), mk, synthetic.look(9, 0))
    FaceVeto.objects.create(face=stranger, person=group)

    merged = services.person_merge(
        user=owner, metadata_key=mk, target_id=ana.id, source_ids=[group.id]
    )

    assert merged.id == ana.id
    assert not Person.objects.filter(pk=group.pk).exists()
    assert set(ana.faces.values_list("id", flat=True)) == {f.id for f in ana_faces + group_faces}
    assert FaceVeto.objects.filter(face=stranger, person=ana).exists()  # the veto holds on
    ana.refresh_from_db()
    assert ana.protected and name_open(mk, ana) == "Ana"
    # Exemplars of both parts, interleaved: 3 + 2 rows, each part represented.
    rows = synthetic.exemplar_rows(ana, mk)
    assert len(rows) == 5
    assert np.allclose(rows[1], synthetic.look(1, 0))  # the group's first came second
    assert _due(owner)


def test_merging_an_unnamed_target_takes_the_sources_name(owner, mk):
    group, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2)
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Ana")
    services.person_merge(user=owner, metadata_key=mk, target_id=group.id, source_ids=[ana.id])
    group.refresh_from_db()
    assert name_open(mk, group) == "Ana" and group.protected


def test_merged_exemplars_stop_at_32_and_keep_every_part(owner, mk):
    big = synthetic.person_row(
        owner, mk, exemplars=np.stack([synthetic.look(1, n) for n in range(40)])
    )
    small = synthetic.person_row(
        owner, mk, exemplars=np.stack([synthetic.look(2, n) for n in range(3)])
    )
    services.person_merge(user=owner, metadata_key=mk, target_id=big.id, source_ids=[small.id])
    rows = synthetic.exemplar_rows(big, mk)
    assert len(rows) == MAX_EXEMPLARS == 32
    assert sum(np.allclose(row, synthetic.look(2, n)) for row in rows for n in range(3)) == 3


def test_merging_a_group_of_faces_taken_out_brings_them_back(owner, mk):
    """Issue 24, item 1: three faces taken out of Barack with "Not this person" were regrouped
    and offered as "Merge into Barack"; the merge said so but moved nothing (their vetoes
    threw them out again). The merge is the owner's latest word: they join, vetoes cleared."""
    barack, kept = synthetic.person_with_faces(owner, mk, seed=1, count=5, name="Barack Obama")
    group, taken_out = synthetic.person_with_faces(owner, mk, seed=1, count=3)
    for face in taken_out:
        FaceVeto.objects.create(face=face, person=barack)

    merged = services.person_merge(
        user=owner, metadata_key=mk, target_id=barack.id, source_ids=[group.id]
    )

    assert set(barack.faces.values_list("pk", flat=True)) == {f.pk for f in kept + taken_out}
    assert merged.moved_faces == 3
    assert not FaceVeto.objects.filter(person=barack).exists()
    assert not Person.objects.filter(pk=group.pk).exists()


def test_merge_into_itself_or_another_users_person_is_refused(owner, mk, other_user, other_mk):
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Ana")
    theirs, _ = synthetic.person_with_faces(other_user, other_mk, seed=2, count=2, name="Tom")
    with pytest.raises(services.PeopleChangeRefused):
        services.person_merge(user=owner, metadata_key=mk, target_id=ana.id, source_ids=[ana.id])
    with pytest.raises(Http404):
        services.person_merge(user=owner, metadata_key=mk, target_id=ana.id, source_ids=[theirs.id])
    assert Person.objects.filter(pk=theirs.pk, owner=other_user).exists()
    assert theirs.faces.count() == 2 and ana.faces.count() == 2


# -- moving, removing, not a face --------------------------------------------------------


def test_move_locks_the_face_vetoes_the_old_person_and_drops_an_emptied_group(owner, mk):
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Ana")
    group, [face] = synthetic.person_with_faces(owner, mk, seed=1, count=1)
    services.face_move(user=owner, face_ids=[face.id], person_id=ana.id)
    face.refresh_from_db()
    assert face.person_id == ana.id and face.assigned_by == Face.AssignedBy.USER
    assert not Person.objects.filter(pk=group.pk).exists()  # unprotected and empty: gone
    assert _due(owner)


def test_a_named_person_left_with_no_face_goes(owner, mk):
    ana, [face] = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Ana")
    bea, _ = synthetic.person_with_faces(owner, mk, seed=2, count=1, name="Bea")
    services.face_move(user=owner, face_ids=[face.id], person_id=bea.id)
    # An empty person would only linger in every "Move to" list.
    assert not Person.objects.filter(pk=ana.pk).exists()
    assert Face.objects.get(pk=face.pk).person_id == bea.id


def test_new_person_submitted_twice_leaves_no_empty_person(owner, mk):
    photo = synthetic.photo_row(owner, mk)
    face = synthetic.face_row(owner, photo, mk, synthetic.look(3, 0))
    for _ in range(2):  # a double click
        services.person_create_from_faces(
            user=owner, metadata_key=mk, face_ids=[face.id], name="Seq"
        )
    [person] = Person.objects.filter(owner=owner)
    assert list(person.faces.all()) == [Face.objects.get(pk=face.pk)]


def test_a_face_moved_out_and_merged_back_comes_back(owner, mk):
    grace, faces = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Grace")
    split = services.person_create_from_faces(user=owner, metadata_key=mk, face_ids=[faces[0].id])
    assert FaceVeto.objects.filter(face=faces[0], person=grace).exists()
    services.person_merge(user=owner, metadata_key=mk, target_id=grace.id, source_ids=[split.id])
    assert set(grace.faces.values_list("pk", flat=True)) == {f.pk for f in faces}
    assert not FaceVeto.objects.filter(face=faces[0], person=grace).exists()


def test_the_owner_may_put_two_faces_of_one_photo_into_one_person(owner, mk):
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Ana")
    photo = synthetic.photo_row(owner, mk)
    mirror = [synthetic.face_row(owner, photo, mk, synthetic.look(1, n)) for n in (5, 6)]
    services.face_move(user=owner, face_ids=[f.id for f in mirror], person_id=ana.id)
    assert ana.faces.filter(photo=photo).count() == 2


def test_remove_vetoes_and_the_face_is_not_offered_again_in_review(owner, mk):
    ana, faces = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Ana")
    moved = services.faces_remove(user=owner, person_id=ana.id, face_ids=[faces[0].id])
    assert moved == 1
    face = Face.objects.get(pk=faces[0].pk)
    assert face.person is None and face.assigned_by == "" and not face.clustered
    assert FaceVeto.objects.filter(face=face, person=ana).exists()
    # It is as close to Ana as ever, yet review never offers it for her again.
    offered = [c.face.id for c in _offered(owner, mk, ana)]
    assert face.id not in offered


def test_not_a_face_removes_the_human_tag_when_no_face_is_left(owner, mk):
    ana, faces = synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Ana")
    lonely = faces[0].photo
    crowded = faces[1].photo
    other = synthetic.face_row(owner, crowded, mk, synthetic.look(5, 0), score=0.7)
    count = services.faces_not_a_face(user=owner, face_ids=[faces[0].id, faces[1].id])
    assert count == 2
    assert not Tag.objects.filter(photo=lonely, label="human").exists()
    human = Tag.objects.get(photo=crowded, label="human")
    assert human.source == "faces" and human.score == pytest.approx(other.score)
    assert Face.objects.filter(pk=faces[0].pk, not_a_face=True, person=None).exists()
    assert not Person.objects.filter(pk=ana.pk).exists()  # no face left in her


def test_not_a_face_leaves_the_users_own_human_tag(owner, mk):
    _, [face] = synthetic.person_with_faces(owner, mk, seed=1, count=1)
    Tag.objects.filter(photo=face.photo, label="human").update(source=Tag.USER)
    services.faces_not_a_face(user=owner, face_ids=[face.id])
    assert Tag.objects.filter(photo=face.photo, label="human", source=Tag.USER).exists()


def test_a_batch_with_another_users_face_changes_nothing(owner, mk, other_user, other_mk):
    ana, [mine] = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Ana")
    _, [theirs] = synthetic.person_with_faces(other_user, other_mk, seed=2, count=1)
    for change in (
        lambda: services.faces_not_a_face(user=owner, face_ids=[mine.id, theirs.id]),
        lambda: services.face_move(user=owner, face_ids=[mine.id, theirs.id], person_id=ana.id),
        lambda: services.faces_remove(user=owner, person_id=ana.id, face_ids=[theirs.id]),
        lambda: services.person_create_from_faces(
            user=owner, metadata_key=mk, face_ids=[theirs.id]
        ),
    ):
        with pytest.raises(Http404):
            change()
    assert Face.objects.get(pk=mine.pk).person_id == ana.id
    theirs_now = Face.objects.get(pk=theirs.pk)
    assert theirs_now.person.owner == other_user and not theirs_now.not_a_face
    assert not FaceVeto.objects.exists()


def test_an_empty_selection_is_refused_with_a_message(owner, mk):
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Ana")
    with pytest.raises(services.PeopleChangeRefused, match="Select"):
        services.faces_remove(user=owner, person_id=ana.id, face_ids=[])


def test_hide_and_show(owner, mk):
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Ana")
    services.person_hide(user=owner, person_id=ana.id, hidden=True)
    assert Person.objects.get(pk=ana.pk).hidden
    services.person_hide(user=owner, person_id=ana.id, hidden=False)
    assert not Person.objects.get(pk=ana.pk).hidden


def test_a_person_made_from_unassigned_faces_is_named_protected_and_locked(owner, mk):
    faces = [
        synthetic.face_row(owner, synthetic.photo_row(owner, mk), mk, synthetic.look(3, n))
        for n in range(3)
    ]
    person = services.person_create_from_faces(
        user=owner, metadata_key=mk, face_ids=[f.id for f in faces], name="Caio"
    )
    assert name_open(mk, person) == "Caio" and person.protected
    assert set(person.faces.values_list("assigned_by", flat=True)) == {"user"}
    assert len(synthetic.exemplar_rows(person, mk)) == 3


# -- review ------------------------------------------------------------------------------


def _offered(owner, mk, person):
    """The person's review candidates as the page shows them after the worker's next run."""
    synthetic.suggestions_computed(owner, mk)
    return suggestions.person_review_candidates(person=person, metadata_key=mk)


def _merges(owner, mk, person):
    synthetic.suggestions_computed(owner, mk)
    return suggestions.person_merge_suggestions(person=person, metadata_key=mk)


def _unassigned(owner, mk, vector):
    return synthetic.face_row(owner, synthetic.photo_row(owner, mk), mk, vector)


def test_review_offers_near_faces_nearest_first_and_never_far_ones(owner, mk):
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Ana")
    near = _unassigned(owner, mk, synthetic.look(1, 20, spread=0.01))
    nearer = _unassigned(owner, mk, synthetic.look(1, 21, spread=0.002))
    far = _unassigned(owner, mk, synthetic.look(2, 0))
    candidates = _offered(owner, mk, ana)
    assert [c.face.id for c in candidates] == [nearer.id, near.id]
    assert all(c.distance <= REVIEW_THRESHOLD for c in candidates)
    assert far.id not in [c.face.id for c in candidates]


def test_review_skips_a_face_that_does_not_open_and_a_face_of_a_photo_with_ana(owner, mk):
    ana, faces = synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Ana")
    broken = _unassigned(owner, mk, synthetic.look(1, 30))
    Face.objects.filter(pk=broken.pk).update(embedding_sealed=b"\x01" + b"\x00" * 60)
    beside_ana = synthetic.face_row(owner, faces[0].photo, mk, synthetic.look(1, 31))
    good = _unassigned(owner, mk, synthetic.look(1, 32))
    offered = [c.face.id for c in _offered(owner, mk, ana)]
    assert offered == [good.id]
    assert beside_ana.id not in offered


def test_review_works_for_a_person_named_by_hand_without_exemplars(owner, mk):
    ana = synthetic.person_row(owner, mk, name="Ana")
    mine = _unassigned(owner, mk, synthetic.look(1, 0))
    services.face_move(user=owner, face_ids=[mine.id], person_id=ana.id)
    near = _unassigned(owner, mk, synthetic.look(1, 1))
    assert [c.face.id for c in _offered(owner, mk, ana)] == [near.id]


def test_confirm_and_reject_many_at_once(owner, mk):
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2, name="Ana")
    yes = [_unassigned(owner, mk, synthetic.look(1, 40 + n)) for n in range(2)]
    no = [_unassigned(owner, mk, synthetic.look(1, 50 + n)) for n in range(2)]
    services.review_confirm(user=owner, person_id=ana.id, face_ids=[f.id for f in yes])
    services.review_reject(user=owner, person_id=ana.id, face_ids=[f.id for f in no])
    assert set(ana.faces.filter(assigned_by="user").values_list("id", flat=True)) == {
        f.id for f in yes
    }
    assert FaceVeto.objects.filter(person=ana).count() == 2
    assert _offered(owner, mk, ana) == []


def test_merge_suggestions_name_the_close_group_not_the_far_one(owner, mk):
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Ana")
    close, _ = synthetic.person_with_faces(owner, mk, seed=1, count=2)
    synthetic.person_with_faces(owner, mk, seed=2, count=2)  # far: a look of its own
    offered = _merges(owner, mk, ana)
    assert [(s.group.id, s.person.id) for s in offered] == [(close.id, ana.id)]


def test_faces_of_a_photo_come_in_detection_order_with_names(owner, mk, other_user, other_mk):
    from vault.people.selectors import faces_of_photo

    _, [face] = synthetic.person_with_faces(owner, mk, seed=1, count=1, name="Ana")
    photo = face.photo
    loose = synthetic.face_row(owner, photo, mk, synthetic.look(2, 0))
    wrong = synthetic.face_row(owner, photo, mk, synthetic.look(3, 0))
    services.faces_not_a_face(user=owner, face_ids=[wrong.id])
    shown = faces_of_photo(user=owner, photo=photo, metadata_key=mk)
    assert [(f.face.id, f.name) for f in shown] == [(face.id, "Ana"), (loose.id, None)]
    assert faces_of_photo(user=other_user, photo=photo, metadata_key=other_mk) == []


def test_a_group_without_exemplars_is_compared_by_its_faces(owner, mk):
    ana, _ = synthetic.person_with_faces(owner, mk, seed=1, count=3, name="Ana")
    group = synthetic.person_row(owner, mk)
    for n in range(3):
        synthetic.face_row(
            owner, synthetic.photo_row(owner, mk), mk, synthetic.look(1, 60 + n), person=group
        )
    stray = synthetic.person_row(owner, mk)
    synthetic.face_row(
        owner, synthetic.photo_row(owner, mk), mk, synthetic.look(7, 0), person=stray
    )
    offered = _merges(owner, mk, ana)
    assert [s.group.id for s in offered] == [group.id]
