"""Which model has seen a photo (DESIGN §6): `Photo.tagged_by` and `Photo.faces_by` hold the id
of the model that processed the photo, `failed(id)` when that model could not, or "" when none
has. A ready photo that the active model has not seen is brought up to date on its owner's visit
(vault/photos/scheduling.py); one it failed on is not granted again for it, and a newer model
tries afresh. The active models are read from their cards (the web never loads a model)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db.models import Q

from vault import modelcards

FAILED = "failed:"
TAGS = "tagged_by"  # the Photo field each kind of model stamps
FACES = "faces_by"
FACE_TASKS = ("face_detector", "face_embedder")


def failed(model_id: str) -> str:
    """The stamp of a photo that `model_id` could not process."""
    return FAILED + model_id


def stamps(model_id: str) -> list[str]:
    """The stamps that say `model_id` has seen a photo: it processed it, or failed on it."""
    return [model_id, failed(model_id)]


def has_seen(stamp: str, model_id: str) -> bool:
    """Whether a photo stamped `stamp` (its tagged_by or faces_by) was seen by `model_id`."""
    return stamp in stamps(model_id)


def not_seen(field: str, model_id: str) -> Q:
    """Photos whose `field` (TAGS or FACES) says `model_id` has not seen them."""
    return ~Q(**{f"{field}__in": stamps(model_id)})


def active_tagger_id() -> tuple[str | None, str]:
    """(model id, "") of the usable active tagger — what Photo.tagged_by records — or (None,
    the reason there is none)."""
    try:
        return modelcards.active_card(Path(settings.VAULT_MODELS_DIR), "tagger").model_id, ""
    except modelcards.CardError as error:
        return None, str(error)


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


def active_models() -> dict[str, tuple[str | None, str]]:
    """{TAGS: active_tagger_id(), FACES: active_faces_id()}: per Photo field, the model that
    should have seen every ready photo, or (None, why there is none)."""
    return {TAGS: active_tagger_id(), FACES: active_faces_id()}
