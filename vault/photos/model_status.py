"""What the pages say about the models that organise photos: which tagger and which face models
serve on this server (from their model cards; the web process never loads a model), or why none
can, and how far bringing the photos already in the vault up to date with them has come."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from vault.photos import library_counts, seen_by
from vault.photos.models import Photo


@dataclass(frozen=True)
class ModelStatus:
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


def model_status(*, user) -> ModelStatus:
    """The active tagger and face models (or why there are none) and how many of the user's
    ready photos each has yet to see. The counts are computed once per change of the library
    and cached (vault.photos.library_counts), not recounted on every page and poll."""
    model_id, problem = seen_by.active_tagger_id()
    faces_id, _faces_problem = seen_by.active_faces_id()
    total, to_update, faces_to_update = library_counts.library_cached(
        user=user,
        name="model-status",
        parts=(model_id, faces_id),
        compute=lambda: _ready_counts(user=user, model_id=model_id, faces_id=faces_id),
    )
    return ModelStatus(
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
        counts["to_update"] = Count("pk", filter=seen_by.not_seen(seen_by.TAGS, model_id))
    if faces_id:
        counts["faces_to_update"] = Count("pk", filter=seen_by.not_seen(seen_by.FACES, faces_id))
    row = Photo.objects.filter(owner=user, state=Photo.State.READY).aggregate(**counts)
    return row["total"], row.get("to_update", 0), row.get("faces_to_update", 0)
