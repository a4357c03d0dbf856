"""Services that change tags: the tagger's labels stored by the worker step, and the user's
corrections (add, remove; one photo or many). A correction is a Tag row with source USER —
confirmed (`rejected=False`) or "not this label" (`rejected=True`) — that no re-run of a tagger
ever overwrites, and that `manage.py export_training_set` hands to the next fine-tune."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction

from vault.photos.models import Photo, Tag

log = logging.getLogger(__name__)

OTHER = Tag.Label.OTHER.value
HUMAN = Tag.Label.HUMAN.value
# source of the "human" tag a detected face gives (DESIGN §7); a tagger run never removes it.
FACES = "faces"


def tags_store_from_model(
    *, photo: Photo, model_id: str, labels: Iterable[tuple[str, float]]
) -> list[str]:
    """Replace the photo's model tags with `labels` [(label, score 0..1)] from `model_id`, and
    record the model on the photo. Labels the user confirmed or rejected are left as the user
    set them. Returns the labels stored."""
    stored = []
    with transaction.atomic():
        if Photo.objects.select_for_update().filter(pk=photo.pk).first() is None:
            return []  # deleted by its owner meanwhile
        photo.tags.exclude(source__in=[Tag.USER, FACES]).delete()
        by_user = set(photo.tags.filter(source=Tag.USER).values_list("label", flat=True))
        confirmed = set(
            photo.tags.filter(source=Tag.USER, rejected=False).values_list("label", flat=True)
        )
        # A face found in the photo is the better evidence for "human": the tagger leaves it.
        from_faces = set(photo.tags.filter(source=FACES).values_list("label", flat=True))
        by_user |= from_faces
        confirmed |= from_faces
        rows = []
        labels = list(labels)
        for label, score in labels:
            if label in by_user or label not in Tag.Label.values:
                continue
            if label == OTHER and confirmed:
                continue  # "none of the labels" beside a label the user confirmed is wrong
            rows.append(Tag(photo=photo, label=label, score=float(score), source=model_id))
            stored.append(label)
        if not rows and not confirmed and OTHER not in by_user:
            # Every label the model gave was one the user had rejected: as far as anyone
            # knows, none of the labels fits, which is what "other" says.
            best = max((score for _label, score in labels if _label != OTHER), default=0.0)
            rows.append(Tag(photo=photo, label=OTHER, score=round(1.0 - best, 4), source=model_id))
            stored.append(OTHER)
        Tag.objects.bulk_create(rows)
        Photo.objects.filter(pk=photo.pk).update(tagged_by=model_id)
        photo.tagged_by = model_id
    return stored


def tags_set_from_faces(*, photo: Photo, score: float | None) -> None:
    """A face was found in the photo (`score`: the best face's detector score) or none is left
    (None): set or remove the "human" tag with source FACES. The user's own word on "human"
    (confirmed or rejected) is left as it is."""
    with transaction.atomic():
        if Photo.objects.select_for_update().filter(pk=photo.pk).first() is None:
            return
        current = photo.tags.filter(label=HUMAN).first()
        if current is not None and current.source == Tag.USER:
            return
        if score is None:
            if current is not None and current.source == FACES:
                current.delete()
            return
        if current is None:
            Tag.objects.create(photo=photo, label=HUMAN, score=float(score), source=FACES)
        else:  # the tagger's "human": the face confirms it
            current.source = FACES
            current.score = max(float(score), current.score)
            current.save(update_fields=["source", "score"])
        # "other" says none of the labels fits, which a face disproves.
        photo.tags.filter(label=OTHER).exclude(source=Tag.USER).delete()


def tags_set_by_user(*, user, photo_ids: Iterable, label: str, present: bool) -> int:
    """The user says `label` is (present=True) or is not (False) on each of their photos in
    `photo_ids`; ids that are not theirs are ignored (the caller has already refused them).
    Every one of them gets the user's word (a confirmed or rejected tag, never overwritten);
    returns how many photos *changed*, i.e. now show the label and did not before (or the
    reverse), so that "Added Vehicle to 3 photos" does not count one that had it already.
    Raises ValueError for an unknown label."""
    if label not in Tag.Label.values:
        raise ValueError(f"unknown label {label!r}")
    with transaction.atomic():
        # Locked: a delete in another tab, or the worker storing its tags, waits its turn.
        photos = set(
            Photo.objects.select_for_update()
            .filter(owner=user, pk__in=list(photo_ids))
            .values_list("pk", flat=True)
        )
        shown_before = set(
            Tag.objects.filter(photo_id__in=photos, label=label, rejected=False).values_list(
                "photo_id", flat=True
            )
        )
        for photo_id in photos:
            Tag.objects.update_or_create(
                photo_id=photo_id,
                label=label,
                defaults={"source": Tag.USER, "rejected": not present, "score": 1.0},
            )
    changed = len(photos - shown_before) if present else len(photos & shown_before)
    log.info(
        "user %s %s tag %s on %d photo(s), %d changed",
        user.pk,
        "set" if present else "removed",
        label,
        len(photos),
        changed,
    )
    return changed
