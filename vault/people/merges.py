"""Merges the owner can undo, and where merged people went (issue 24: "Merging two people asks
for confirmation and can be undone"; a stale tab naming a merged person is told where it went).

A merge leaves a PersonMerge: the merged ids forward to the target (owner only: another user's
id stays a plain 404), and what an undo needs — the merged people's ids, their already-sealed
name and exemplars, which faces were theirs and which vetoes the merge changed — sealed under the
metadata key with the row id as associated data. No name, embedding or place is stored in clear.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from vault.crypto import DecryptionError, seal
from vault.people.clustering_state import people_mark_changed
from vault.people.models import Face, FaceVeto, Person, PersonForward, PersonMerge

# How long a merge can be undone; after that its undo data is dropped (the forward stays).
UNDO_FOR = dt.timedelta(days=1)
# Forwards followed from a merged id to a person that still exists (A into B, B into C…).
FORWARD_HOPS = 20


class MergeUndoRefused(Exception):
    """The merge cannot be undone any more; str() is the message for the owner."""


def _b64(value) -> str | None:
    return None if value is None else base64.b64encode(bytes(value)).decode()


def _unb64(value: str | None) -> bytes | None:
    return None if value is None else base64.b64decode(value)


def _undo_aad(merge_id) -> bytes:
    return seal.row_aad("people_personmerge", str(merge_id), "undo")


@dataclass
class MergeLog:
    """What a merge changed, gathered by services.person_merge while it holds the locks."""

    target: Person
    sources: list[Person]
    source_faces: dict = field(default_factory=dict)  # source id -> [face ids]
    vetoes_cleared: list = field(default_factory=list)  # (face id, person id) deleted
    vetoes_added: list = field(default_factory=list)  # face ids vetoed on the target anew

    def undo_data(self) -> dict:
        return {
            "target": {
                "name": _b64(self.target.name_sealed),
                "exemplars": _b64(self.target.exemplars_sealed),
                "protected": self.target.protected,
            },
            "sources": [
                {
                    "id": str(p.pk),
                    "name": _b64(p.name_sealed),
                    "exemplars": _b64(p.exemplars_sealed),
                    "protected": p.protected,
                    "hidden": p.hidden,
                    "created_at": p.created_at.isoformat(),
                    "faces": [str(f) for f in self.source_faces.get(p.pk, [])],
                }
                for p in self.sources
            ],
            "vetoes_cleared": [[str(f), str(p)] for f, p in self.vetoes_cleared],
            "vetoes_added": [str(f) for f in self.vetoes_added],
        }


def merge_record(*, user, metadata_key: bytes, log: MergeLog) -> PersonMerge:
    """Store the merge (inside the merge's transaction, before the sources are deleted)."""
    merge = PersonMerge(id=uuid.uuid4(), owner=user, target_id=log.target.pk)
    plain = json.dumps(log.undo_data(), separators=(",", ":")).encode()
    merge.undo_sealed = seal.seal(metadata_key, plain, _undo_aad(merge.id))
    merge.save()
    PersonMerge.objects.filter(
        owner=user, created_at__lt=timezone.now() - UNDO_FOR, undo_sealed__isnull=False
    ).update(undo_sealed=None)
    # A person merged before keeps pointing at whoever its merge target went to.
    PersonForward.objects.bulk_create(
        [PersonForward(source_id=p.pk, owner=user, merge=merge) for p in log.sources],
        update_conflicts=True,
        unique_fields=["source_id"],
        update_fields=["merge", "owner"],
    )
    return merge


def person_forwarded(*, user, person_id) -> Person | None:
    """The owner's person that `person_id` was merged into (following later merges), or None
    when the id was never one of the owner's merged people or leads nowhere any more."""
    seen = set()
    current = person_id
    for _ in range(FORWARD_HOPS):
        forward = (
            PersonForward.objects.filter(owner=user, source_id=current)
            .select_related("merge")
            .first()
        )
        if forward is None or current in seen:
            return None
        seen.add(current)
        current = forward.merge.target_id
        person = Person.objects.filter(owner=user, pk=current).defer("exemplars_sealed").first()
        if person is not None:
            return person
    return None


def merge_of_owner(*, user, merge_id) -> PersonMerge | None:
    return PersonMerge.objects.filter(owner=user, pk=merge_id).first()


def person_merge_undo(*, user, metadata_key: bytes, merge_id) -> list[Person]:
    """Undo one of the owner's merges: the merged people come back with their ids, names,
    exemplars and the faces of theirs that are still in the target (faces the owner moved
    since stay where they are), the vetoes the merge cleared come back and those it added go,
    and the target gets its own name back. Raises MergeUndoRefused when the merge is unknown,
    was undone already, or its target is gone. Returns the people brought back."""
    with transaction.atomic():
        merge = PersonMerge.objects.select_for_update().filter(owner=user, pk=merge_id).first()
        if (
            merge is None
            or merge.undo_sealed is None
            or merge.created_at < timezone.now() - UNDO_FOR
        ):
            raise MergeUndoRefused("This merge was undone already or cannot be undone.")
        target = Person.objects.select_for_update().filter(owner=user, pk=merge.target_id).first()
        if target is None:
            raise MergeUndoRefused(
                "This merge cannot be undone: the person it made was merged or deleted since."
            )
        try:
            data = json.loads(
                seal.open(metadata_key, bytes(merge.undo_sealed), _undo_aad(merge.id))
            )
        except (DecryptionError, ValueError):
            raise MergeUndoRefused("This merge cannot be undone.") from None
        restored = []
        for source in data["sources"]:
            if Person.objects.filter(pk=source["id"]).exists():
                continue
            person = Person.objects.create(
                id=uuid.UUID(source["id"]),
                owner=user,
                name_sealed=_unb64(source["name"]),
                exemplars_sealed=_unb64(source["exemplars"]),
                protected=source["protected"],
                hidden=source["hidden"],
                created_at=dt.datetime.fromisoformat(source["created_at"]),
            )
            faces = list(
                Face.objects.select_for_update()
                .filter(owner=user, person=target, pk__in=source["faces"])
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            Face.objects.filter(pk__in=faces).update(person=person)
            restored.append(person)
        FaceVeto.objects.filter(person=target, face_id__in=data["vetoes_added"]).delete()
        existing_people = set(
            Person.objects.filter(owner=user).values_list("pk", flat=True).order_by()
        )
        for face_id, person_id in data["vetoes_cleared"]:
            if uuid.UUID(person_id) not in existing_people:
                continue
            face = Face.objects.filter(owner=user, pk=face_id).first()
            if face is None:
                continue
            FaceVeto.objects.get_or_create(face=face, person_id=person_id)
            # A vetoed face may not stay in that person (it was there only by the merge).
            if str(face.person_id) == person_id and face.assigned_by != Face.AssignedBy.USER:
                Face.objects.filter(pk=face.pk).update(
                    person=None, assigned_by=Face.AssignedBy.NONE, clustered=False
                )
        target.name_sealed = _unb64(data["target"]["name"])
        target.exemplars_sealed = _unb64(data["target"]["exemplars"])
        target.protected = data["target"]["protected"]
        target.save(update_fields=["name_sealed", "exemplars_sealed", "protected"])
        merge.delete()  # its forwards go with it
        # Faces may have left everyone (a vetoed face); an emptied person goes.
        Person.objects.filter(
            pk__in=[target.pk, *[p.pk for p in restored]], faces__isnull=True
        ).delete()
    people_mark_changed(user=user)
    return restored
