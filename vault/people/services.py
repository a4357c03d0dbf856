"""Services: the owner's corrections to people (DESIGN §8). Each is a constraint the clustering
keeps: a face the owner placed is locked (assigned_by USER), a face removed from a person gets
a veto and never returns to it, a named or merged person is protected (never renamed, split,
merged or dropped by a run; it only gains faces).

Every change runs in one transaction that locks the rows it changes (select_for_update, the
owner in every query; ids that are not the owner's raise Http404 and change nothing), then
marks a clustering run as due. A person left with no face is deleted. Locks are taken in the
order vault/people/locks.py gives (people, then faces, each in id order), the order the worker
keeps too, so that two changes never wait on each other.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
from django.db import transaction
from django.db.models import Max
from django.http import Http404

from vault.people.clustering_state import people_mark_changed
from vault.people.embeddings import (
    MAX_EXEMPLARS,
    embeddings_open,
    embeddings_seal,
    exemplars_interleave,
)
from vault.people.locks import faces_locked, people_locked
from vault.people.models import Face, FaceVeto, Person
from vault.people.sealing import EMBEDDING_DIM, embedding_aad, exemplars_aad, name_open, name_seal
from vault.photos.models import Photo
from vault.photos.tagging import tags_set_from_faces

log = logging.getLogger(__name__)

NAME_MAX = 100  # characters; a name, not a biography


class PeopleChangeRefused(Exception):
    """A change that cannot be made as asked; str() is the message for the owner."""


def _locked_people(user, person_ids: Iterable) -> list[Person]:
    """The owner's people, locked in id order (two requests never lock them crosswise); 404
    if any id is not theirs."""
    ids = set(person_ids)
    people = list(people_locked(Person.objects.filter(owner=user, pk__in=ids)))
    if len(people) != len(ids):
        raise Http404("No such person")
    return people


def _locked_faces(user, face_ids: Iterable) -> list[Face]:
    ids = set(face_ids)
    if not ids:
        raise PeopleChangeRefused("Select one or more faces first.")
    faces = list(faces_locked(Face.objects.filter(owner=user, pk__in=ids)))
    if len(faces) != len(ids):
        raise Http404("No such face")
    return faces


def _drop_if_empty(person_ids: Iterable) -> int:
    """Delete the people among these that the owner's change left without a face, named or
    not: a person is a set of faces, and an empty one would only linger in every "Move to"
    list (a double-submitted "New person" would leave one behind). Their vetoes go with them:
    nobody can join a person that is gone."""
    gone, _ = Person.objects.filter(pk__in=set(person_ids), faces__isnull=True).distinct().delete()
    return gone


def _veto(face: Face, person_id) -> None:
    FaceVeto.objects.get_or_create(face=face, person_id=person_id)


def _human_tags_refresh(photo_ids: Iterable) -> None:
    """The "human" tag that faces give follows the faces that are left (after the commit: the
    tag service locks the photo, which the worker locks before faces)."""
    for photo in Photo.objects.filter(pk__in=set(photo_ids)):
        best = Face.objects.filter(photo=photo, not_a_face=False).aggregate(best=Max("score"))
        tags_set_from_faces(photo=photo, score=best["best"])


def _open_rows(metadata_key: bytes, sealed, aad: bytes) -> np.ndarray:
    """The sealed rows; none when absent or not opening."""
    rows = embeddings_open(metadata_key, sealed, aad)
    return rows if rows is not None else np.empty((0, EMBEDDING_DIM), dtype="<f4")


def _exemplars_seal(metadata_key: bytes, person: Person, rows: np.ndarray) -> bytes | None:
    if not len(rows):
        return None
    return embeddings_seal(metadata_key, rows, exemplars_aad(person.id))


def person_rename(*, user, metadata_key: bytes, person_id, name: str) -> Person:
    """Name the person (sealed under the metadata key) or, with an empty name, unname it. Either
    way it stays protected: the owner has looked at it, so no run may split or merge it."""
    name = " ".join(name.split())
    if len(name) > NAME_MAX:
        raise PeopleChangeRefused(f"Names are at most {NAME_MAX} characters.")
    with transaction.atomic():
        [person] = _locked_people(user, [person_id])
        person.name_sealed = name_seal(metadata_key, person.id, name) if name else None
        person.protected = True
        person.save(update_fields=["name_sealed", "protected"])
    people_mark_changed(user=user)
    return person


def person_hide(*, user, person_id, hidden: bool) -> Person:
    """Hide the person from the people list (and its suggestions), or show it again."""
    with transaction.atomic():
        [person] = _locked_people(user, [person_id])
        person.hidden = hidden
        person.save(update_fields=["hidden"])
    return person


def person_merge(*, user, metadata_key: bytes, target_id, source_ids: Iterable) -> Person:
    """Merge the sources into the target: all their faces move to it, their exemplars join its
    own (interleaved, at most MAX_EXEMPLARS), the target keeps its name or takes the first
    source's, and becomes protected; the sources are deleted, their ids forward to the target
    and the merge can be undone (vault/people/merges.py).

    The merge is the owner's latest word (issue 24, item 1): every face of the merged people
    stays in the merged person, and a veto one of those faces had on any of them is cleared
    (three faces taken out with "Not this person" and merged back come back). A face outside
    them vetoed for any of them is vetoed for the merged person. The returned person carries
    `moved_faces` (how many faces joined it) and `merge` (the PersonMerge, for the undo)."""
    from vault.people.merges import MergeLog, merge_record

    source_ids = {s for s in source_ids if str(s) != str(target_id)}
    if not source_ids:
        raise PeopleChangeRefused("Choose another person to merge with.")
    with transaction.atomic():
        people = _locked_people(user, {target_id, *source_ids})
        target = next(p for p in people if str(p.pk) == str(target_id))
        sources = sorted((p for p in people if p is not target), key=lambda p: p.created_at)
        merged = [target, *sources]
        merged_ids = [p.pk for p in merged]
        # The target as it was (name, exemplars, protected), for the undo.
        before = Person(
            **{f.attname: getattr(target, f.attname) for f in Person._meta.concrete_fields}
        )
        changes = MergeLog(target=before, sources=sources)
        faces = Face.objects.select_for_update().filter(owner=user, person_id__in=merged_ids)
        for face_id, person_id in faces.order_by("pk").values_list("pk", "person_id"):
            if person_id != target.pk:
                changes.source_faces.setdefault(person_id, []).append(face_id)
        inside = FaceVeto.objects.filter(face__in=faces.values("pk"), person_id__in=merged_ids)
        changes.vetoes_cleared = list(inside.values_list("face_id", "person_id"))
        inside.delete()
        vetoed = set(
            FaceVeto.objects.filter(person_id__in=[s.pk for s in sources]).values_list(
                "face_id", flat=True
            )
        )
        moved = faces.filter(person_id__in=[s.pk for s in sources]).update(person=target)
        # Vetoes against any merged person now hold against the target (once per face).
        for face_id in vetoed:
            _, created = FaceVeto.objects.get_or_create(face_id=face_id, person=target)
            if created:
                changes.vetoes_added.append(face_id)
        parts = [_open_rows(metadata_key, p.exemplars_sealed, exemplars_aad(p.id)) for p in merged]
        target.exemplars_sealed = _exemplars_seal(
            metadata_key, target, exemplars_interleave(parts, MAX_EXEMPLARS)
        )
        if target.name_sealed is None:
            named = next((s for s in sources if s.name_sealed is not None), None)
            if named is not None:
                name = name_open(metadata_key, named)
                if name is not None:
                    target.name_sealed = name_seal(metadata_key, target.id, name)
        target.protected = True
        target.save(update_fields=["exemplars_sealed", "name_sealed", "protected"])
        merge = merge_record(user=user, metadata_key=metadata_key, log=changes)
        Person.objects.filter(pk__in=[s.pk for s in sources]).delete()
    people_mark_changed(user=user)
    log.info("user %s merged %d people into one (%d faces moved)", user.pk, len(sources), moved)
    target.moved_faces = moved
    target.merge = merge
    return target


def _assign(user, faces: list[Face], target: Person) -> set:
    """Put the faces into `target` as the owner's placement. A face taken from another person
    gets a veto on that one ("not that person"); a veto on the target goes, since the owner
    now says it is the target. Returns the people the faces came from."""
    previous = set()
    for face in faces:
        if face.person_id is not None and face.person_id != target.pk:
            previous.add(face.person_id)
            _veto(face, face.person_id)
    FaceVeto.objects.filter(face__in=faces, person=target).delete()
    Face.objects.filter(pk__in=[f.pk for f in faces]).update(
        person=target, assigned_by=Face.AssignedBy.USER, not_a_face=False
    )
    return previous


def face_move(*, user, face_ids: Iterable, person_id) -> Person:
    """Move faces to one of the owner's people, locked there (the clustering never moves them
    again); the people they left get a veto. Two faces of one photo may go to one person: the
    owner knows about mirrors and photos of photos."""
    with transaction.atomic():
        [target] = _locked_people(user, [person_id])
        faces = _locked_faces(user, face_ids)
        was_not_a_face = {f.photo_id for f in faces if f.not_a_face}
        previous = _assign(user, faces, target)
        _drop_if_empty(previous)
    people_mark_changed(user=user)
    if was_not_a_face:
        _human_tags_refresh(was_not_a_face)
    return target


def person_create_from_faces(
    *, user, metadata_key: bytes, face_ids: Iterable, name: str = ""
) -> Person:
    """A new person made by the owner from faces (usually unassigned ones), optionally named.
    It is protected, and its faces' embeddings are its first exemplars, so new photos of that
    person join it before the next clustering run."""
    name = " ".join(name.split())
    if len(name) > NAME_MAX:
        raise PeopleChangeRefused(f"Names are at most {NAME_MAX} characters.")
    with transaction.atomic():
        faces = _locked_faces(user, face_ids)
        person = Person.objects.create(owner=user, protected=True)
        was_not_a_face = {f.photo_id for f in faces if f.not_a_face}
        previous = _assign(user, faces, person)
        rows = [
            _open_rows(metadata_key, f.embedding_sealed, embedding_aad(f.id))[:1] for f in faces
        ]
        person.exemplars_sealed = _exemplars_seal(
            metadata_key, person, exemplars_interleave([np.concatenate(rows)], MAX_EXEMPLARS)
        )
        person.name_sealed = name_seal(metadata_key, person.id, name) if name else None
        person.save(update_fields=["exemplars_sealed", "name_sealed"])
        _drop_if_empty(previous)
    people_mark_changed(user=user)
    if was_not_a_face:
        _human_tags_refresh(was_not_a_face)
    return person


def faces_remove(*, user, person_id, face_ids: Iterable) -> int:
    """ "Not this person": the faces leave the person with a veto, so that no clustering run
    puts them back; they are free to join someone else. Returns how many left."""
    with transaction.atomic():
        [person] = _locked_people(user, [person_id])
        faces = _locked_faces(user, face_ids)
        for face in faces:
            _veto(face, person.pk)
        moved = Face.objects.filter(pk__in=[f.pk for f in faces], person=person).update(
            person=None, assigned_by=Face.AssignedBy.NONE, clustered=False
        )
        _drop_if_empty([person.pk])
    people_mark_changed(user=user)
    return moved


def faces_not_a_face(*, user, face_ids: Iterable) -> int:
    """The detections are not faces: out of their people, never clustered or offered again;
    a photo left with no face loses the "human" tag that faces gave it."""
    with transaction.atomic():
        faces = _locked_faces(user, face_ids)
        people = {f.person_id for f in faces if f.person_id}
        Face.objects.filter(pk__in=[f.pk for f in faces]).update(
            not_a_face=True, person=None, assigned_by=Face.AssignedBy.NONE
        )
        _drop_if_empty(people)
    people_mark_changed(user=user)
    _human_tags_refresh({f.photo_id for f in faces})
    return len(faces)


def review_confirm(*, user, person_id, face_ids: Iterable) -> Person:
    """ "Yes, this is NAME" for one face or many: they move to the person, locked."""
    return face_move(user=user, face_ids=face_ids, person_id=person_id)


def review_reject(*, user, person_id, face_ids: Iterable) -> int:
    """ "No, not NAME": a veto on the person for each face; they are not offered again."""
    return faces_remove(user=user, person_id=person_id, face_ids=face_ids)
