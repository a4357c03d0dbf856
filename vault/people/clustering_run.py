"""Services the clustering job calls (worker/people.py computes, these read and write; DESIGN
§8): what a full run of one owner needs (`clustering_input`), writing its result
(`clustering_run_apply`) and calling the run done (`clustering_run_finish`).

Changes the owner makes while the run computes win: a face whose person or assignment changed
meanwhile is left as the owner left it, and a person the owner merged away meanwhile gains no
face. Locks: vault/people/locks.py.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from vault.people import sealing
from vault.people.embeddings import (
    Clustering,
    FaceItem,
    PersonItem,
    embeddings_open,
    embeddings_seal,
    exemplars,
)
from vault.people.locks import faces_locked, people_locked
from vault.people.models import Face, FaceVeto, PeopleState, Person

log = logging.getLogger(__name__)


@dataclass
class ClusteringInput:
    """One owner's faces and people as a run read them."""

    owner_id: int
    started: dt.datetime  # before anything was read
    faces: list[FaceItem]  # the clusterable faces whose embeddings open
    people: list[PersonItem]
    seen: dict[str, tuple[str | None, str]]  # face id -> (person, assigned_by) as read

    @property
    def vectors(self) -> dict[str, np.ndarray]:
        return {item.face_id: item.embedding for item in self.faces}


def clustering_input(*, owner_id: int, metadata_key: bytes) -> ClusteringInput:
    """The owner's clusterable faces (embeddings opened with the metadata key, vetoes, where the
    owner put them) and people (protected or not), for worker.clustering.cluster_faces. A face
    whose embedding does not open is left out (and logged)."""
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
    seen: dict[str, tuple[str | None, str]] = {}
    for face_id, photo_id, sealed, person_id, assigned_by in rows:
        vector = embeddings_open(metadata_key, sealed, sealing.embedding_aad(face_id))
        if vector is None:
            log.warning("face %s: its embedding does not open; left out", face_id)
            continue
        key = str(face_id)
        person = str(person_id) if person_id else None
        seen[key] = (person, assigned_by)
        items.append(
            FaceItem(
                face_id=key,
                photo_id=str(photo_id),
                embedding=vector[0],
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
    return ClusteringInput(owner_id, started, items, people, seen)


def clustering_run_apply(*, run: ClusteringInput, result: Clustering, metadata_key: bytes) -> int:
    """Write the run's assignments (new people made, emptied groups dropped), skipping faces
    the owner changed while it computed; then seal each person's exemplars afresh from the
    run's vectors. Returns how many faces moved."""
    changed = _assignments_write(run, result)
    _exemplars_refresh(run.owner_id, metadata_key, run.vectors)
    return changed


def clustering_run_finish(*, run: ClusteringInput) -> None:
    """The run is done, unless faces were found or people changed since it read them (then
    another run stays due)."""
    PeopleState.objects.filter(owner_id=run.owner_id, changed_at__lte=run.started).update(
        needs_clustering=False
    )
    PeopleState.objects.filter(owner_id=run.owner_id).update(clustered_at=timezone.now())


def _assignments_write(run: ClusteringInput, result: Clustering) -> int:
    owner_id, seen, started = run.owner_id, run.seen, run.started
    changed = 0
    with transaction.atomic():
        existing_people = {
            str(pid)
            for pid in people_locked(Person.objects.filter(owner_id=owner_id)).values_list(
                "id", flat=True
            )
        }
        current = {
            str(face_id): (str(person_id) if person_id else None, assigned_by)
            for face_id, person_id, assigned_by in faces_locked(
                Face.objects.filter(owner_id=owner_id, pk__in=list(result.assignments))
            ).values_list("id", "person_id", "assigned_by")
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


def _exemplars_refresh(owner_id: int, metadata_key: bytes, vectors: dict) -> None:
    """Each person's representative embeddings, sealed, for the incremental assignment."""
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
            exemplars_sealed=embeddings_seal(metadata_key, chosen, sealing.exemplars_aad(person.id))
        )
