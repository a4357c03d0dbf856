"""What the pages say about automatic tagging: which model tags photos on this server (from its
model card; the web process never loads the model), or why none can, and how far re-tagging
the photos already in the vault has come."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db.models import Count, Q

from vault import modelcards
from vault.photos import library_counts
from vault.photos.models import Photo
from vault.photos.tagging import TAGGING_FAILED_PREFIX


@dataclass(frozen=True)
class TaggingStatus:
    model_id: str | None  # the usable active tagger, or None
    problem: str  # why there is none ("" when there is one)
    to_update: int  # the user's ready photos not yet tagged by the active model
    total: int  # the user's ready photos
    faces_model_id: str | None = None  # the usable face models, or None
    faces_to_update: int = 0  # ready photos the active face models have not looked at yet

    @property
    def updating(self) -> bool:
        return self.tags_updating or self.faces_updating

    @property
    def tags_updating(self) -> bool:
        return self.model_id is not None and self.to_update > 0

    @property
    def faces_updating(self) -> bool:
        return self.faces_model_id is not None and self.faces_to_update > 0

    @property
    def done(self) -> int:
        return self.total - self.to_update

    @property
    def faces_done(self) -> int:
        return self.total - self.faces_to_update


def active_tagger_id() -> tuple[str | None, str]:
    """(model id, "") of the usable active tagger, or (None, the reason there is none)."""
    try:
        return modelcards.active_card(Path(settings.VAULT_MODELS_DIR), "tagger").model_id, ""
    except modelcards.CardError as error:
        return None, str(error)


def tagging_status(*, user) -> TaggingStatus:
    model_id, problem = active_tagger_id()
    faces_id, _faces_problem = active_faces_id()
    total, to_update, faces_to_update = library_counts.library_cached(
        user=user,
        name="tagging-status",
        parts=(model_id, faces_id),
        compute=lambda: _ready_counts(user=user, model_id=model_id, faces_id=faces_id),
    )
    return TaggingStatus(
        model_id=model_id,
        problem=problem,
        to_update=to_update,
        total=total,
        faces_model_id=faces_id,
        faces_to_update=faces_to_update,
    )


def _ready_counts(*, user, model_id: str | None, faces_id: str | None) -> tuple[int, int, int]:
    """(ready photos, of which the active tagger has not seen, the face models have not seen),
    in one pass over the owner's ready photos."""
    counts = {"total": Count("pk")}
    if model_id:
        done = [model_id, TAGGING_FAILED_PREFIX + model_id]
        counts["to_update"] = Count("pk", filter=~Q(tagged_by__in=done))
    if faces_id:
        faces_done = [faces_id, TAGGING_FAILED_PREFIX + faces_id]
        counts["faces_to_update"] = Count("pk", filter=~Q(faces_by__in=faces_done))
    row = Photo.objects.filter(owner=user, state=Photo.State.READY).aggregate(**counts)
    return row["total"], row.get("to_update", 0), row.get("faces_to_update", 0)


FACE_TASKS = ("face_detector", "face_embedder")


def active_faces_id() -> tuple[str | None, str]:
    """("<detector id>+<embedder id>", "") of the usable face models — what Photo.faces_by
    records — or (None, why faces cannot be found on this server)."""
    ids = []
    for task in FACE_TASKS:
        try:
            ids.append(modelcards.active_card(Path(settings.VAULT_MODELS_DIR), task).model_id)
        except modelcards.CardError as error:
            return None, str(error)
    return "+".join(ids), ""
