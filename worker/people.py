"""The `people_cluster` job (DESIGN §8): group all of an owner's faces into people, under the
clustering grant made on one of their visits (it cannot run while they are signed out).

The owner's corrections are constraints, not hints (worker/clustering.py): faces the owner
placed stay, vetoed faces never join the person, named or merged people are never renamed,
split, merged or dropped. Changes the owner makes while the run computes win: a face whose
person or assignment changed meanwhile is left as the owner left it.
"""

from __future__ import annotations

import logging

import numpy as np
from django.db import transaction
from django.utils import timezone

from vault.crypto import DecryptionError
from vault.people import sealing
from vault.people.grants import (
    GrantUnavailable,
    clustering_grant_open,
    clustering_grants_revoke,
)
from vault.people.models import Face, FaceVeto, PeopleState, Person
from worker import identity
from worker.locks import advisory_lock

log = logging.getLogger(__name__)

# PostgreSQL advisory-lock namespace of the clustering run (photo locks use the photo uuid).
_LOCK_NAMESPACE = 0x5350_5650  # "SPVP"


def _owner_lock(owner_id: int):
    """One clustering run per owner at a time (see worker.locks)."""
    return advisory_lock(_LOCK_NAMESPACE, int(owner_id))


def people_cluster_run(user_id) -> str:
    try:
        owner_id = int(user_id)
    except (TypeError, ValueError):
        return "bad id"
    with _owner_lock(owner_id) as acquired:
        if not acquired:
            return "busy"
        me = identity.current()
        try:
            metadata_key = clustering_grant_open(
                owner_id=owner_id, worker_key_id=me.key_id, private_key=me.private_key
            )
        except GrantUnavailable as error:
            log.info("user %s: %s", owner_id, error)
            return "no grant"
        try:
            return _cluster(owner_id, metadata_key)
        finally:
            clustering_grants_revoke(owner_id=owner_id)


def _embedding(metadata_key: bytes, face_id, sealed) -> np.ndarray | None:
    try:
        raw = sealing.vectors_open(metadata_key, sealed, sealing.embedding_aad(face_id))
    except DecryptionError:
        log.warning("face %s: its embedding does not open; left out", face_id)
        return None
    return np.frombuffer(raw, dtype="<f4")


def _cluster(owner_id: int, metadata_key: bytes) -> str:
    from vault.people.embeddings import FaceItem, PersonItem
    from worker.clustering import cluster_faces

    started = timezone.now()
    rows = list(
        Face.objects.filter(
            owner_id=owner_id,
            not_a_face=False,
            clusterable=True,
            embedding_sealed__isnull=False,
        ).values_list("id", "photo_id", "embedding_sealed", "person_id", "assigned_by")
    )
    vetoes: dict[str, set[str]] = {}
    for face_id, person_id in FaceVeto.objects.filter(face__owner_id=owner_id).values_list(
        "face_id", "person_id"
    ):
        vetoes.setdefault(str(face_id), set()).add(str(person_id))
    items = []
    seen: dict[str, tuple[str | None, str]] = {}  # face id -> (person, assigned_by) as read
    for face_id, photo_id, sealed, person_id, assigned_by in rows:
        vector = _embedding(metadata_key, face_id, sealed)
        if vector is None:
            continue
        key = str(face_id)
        person = str(person_id) if person_id else None
        seen[key] = (person, assigned_by)
        items.append(
            FaceItem(
                face_id=key,
                photo_id=str(photo_id),
                embedding=vector,
                person_id=person,
                locked=assigned_by == Face.AssignedBy.USER,
                vetoed=frozenset(vetoes.get(key, ())),
            )
        )
    people = [
        PersonItem(person_id=str(pid), protected=protected)
        for pid, protected in Person.objects.filter(owner_id=owner_id).values_list(
            "id", "protected"
        )
    ]
    result = cluster_faces(items, people)
    vectors = {item.face_id: item.embedding for item in items}
    changed = _apply(owner_id, result, seen, started)
    _refresh_exemplars(owner_id, metadata_key, vectors)
    # Done, unless faces were found or people changed since the run read them.
    PeopleState.objects.filter(owner_id=owner_id, changed_at__lte=started).update(
        needs_clustering=False
    )
    PeopleState.objects.filter(owner_id=owner_id).update(clustered_at=timezone.now())
    log.info(
        "user %s: clustered %d face(s) into %d new and existing people; %d face(s) moved",
        owner_id,
        len(items),
        len({p for p in result.assignments.values() if p}),
        changed,
    )
    return "clustered"


def _apply(owner_id: int, result, seen: dict, started) -> int:
    """Write the run's assignments, skipping faces the owner changed while it computed."""
    changed = 0
    with transaction.atomic():
        # People before faces, each in id order: the order the owner's corrections lock
        # them in (vault/people/services.py), so the two never deadlock.
        existing_people = {
            str(pid)
            for pid in Person.objects.select_for_update()
            .filter(owner_id=owner_id)
            .order_by("id")
            .values_list("id", flat=True)
        }
        current = {
            str(face_id): (str(person_id) if person_id else None, assigned_by)
            for face_id, person_id, assigned_by in Face.objects.select_for_update()
            .filter(owner_id=owner_id, pk__in=list(result.assignments))
            .order_by("id")
            .values_list("id", "person_id", "assigned_by")
        }
        new_people: dict[str, str] = {}
        for key in result.new_people:
            person = Person.objects.create(owner_id=owner_id)
            new_people[key] = str(person.id)
        for face_id, target in result.assignments.items():
            if face_id not in current or current[face_id] != seen.get(face_id):
                continue  # gone, or changed by the owner since the run read it
            person_now, assigned_by = current[face_id]
            if assigned_by == Face.AssignedBy.USER:
                continue
            target = new_people.get(target, target) if target else None
            if (
                target is not None
                and target not in existing_people
                and target not in (new_people.values())
            ):
                continue  # deleted (merged away) by the owner meanwhile
            if target == person_now:
                continue
            Face.objects.filter(pk=face_id).update(
                person_id=target,
                assigned_by=Face.AssignedBy.AUTO if target else Face.AssignedBy.NONE,
            )
            changed += 1
        Face.objects.filter(owner_id=owner_id, pk__in=list(current)).update(clustered=True)
        # Groups the clustering made and that no face is left in (never a protected person).
        Person.objects.filter(owner_id=owner_id, protected=False, faces__isnull=True).filter(
            created_at__lte=started
        ).delete()
        Person.objects.filter(pk__in=list(new_people.values()), faces__isnull=True).delete()
    return changed


def _refresh_exemplars(owner_id: int, metadata_key: bytes, vectors: dict) -> None:
    """Each person's representative embeddings, sealed, for the incremental assignment."""
    from vault.people.embeddings import exemplars

    members: dict[str, list[np.ndarray]] = {}
    for face_id, person_id in Face.objects.filter(
        owner_id=owner_id, person__isnull=False, not_a_face=False
    ).values_list("id", "person_id"):
        vector = vectors.get(str(face_id))
        if vector is not None:
            members.setdefault(str(person_id), []).append(vector)
    for person in Person.objects.filter(owner_id=owner_id):
        rows = members.get(str(person.id))
        if not rows:
            Person.objects.filter(pk=person.pk).update(exemplars_sealed=None)
            continue
        chosen = exemplars(np.stack(rows).astype("<f4"))
        Person.objects.filter(pk=person.pk).update(
            exemplars_sealed=sealing.vectors_seal(
                metadata_key,
                np.ascontiguousarray(chosen, dtype="<f4").tobytes(),
                sealing.exemplars_aad(person.id),
            )
        )
