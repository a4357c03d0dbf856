"""The `tags` pipeline step: the active tagger (worker/ai/tagger.py, loaded once per process)
labels the image the earlier steps decoded, and the labels are stored as the model's tags.
Without a usable tagger the step tags nothing and says why; it never makes labels up."""

from __future__ import annotations

import logging

from django.conf import settings

from vault.photos import seen_by
from vault.photos.models import Photo
from vault.photos.tagging import tags_store_from_model
from worker.ai import loader

log = logging.getLogger(__name__)


def tagger_or_reason():
    """(the loaded active Tagger, "") or (None, why there is none)."""
    from worker.ai.tagger import load_tagger

    try:
        return load_tagger(settings.VAULT_MODELS_DIR, threads=settings.VAULT_ML_THREADS), ""
    except loader.ModelUnavailable as error:
        log.warning("tagging is unavailable: %s", error)
        return None, str(error)


def tag_photo(work) -> None:
    """Tag the decoded image. A tagger problem costs the photo its tags, never the photo: it
    stays ready, untagged (tagged_by seen_by.failed(model) so that it is not granted again for that
    model), and the log says why."""
    tagger, _reason = tagger_or_reason()
    if tagger is None:
        return  # the photo keeps tagged_by "", and is tagged once a usable model is active
    try:
        labels = tagger.tag(work.image)
    except Exception:
        log.exception("photo %s: the tagger failed", work.photo.id)
        Photo.objects.filter(pk=work.photo.pk).update(tagged_by=seen_by.failed(tagger.model_id))
        return
    stored = tags_store_from_model(
        photo=work.photo,
        model_id=tagger.model_id,
        labels=[(item.label, item.score) for item in labels],
    )
    log.info("photo %s: %d tag(s) by %s", work.photo.id, len(stored), tagger.model_id)
