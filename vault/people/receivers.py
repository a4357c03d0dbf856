"""Trashing or restoring a photo with faces changes which faces the people count (selectors.LIVE
leaves the trash out), so a clustering run becomes due: the persons' exemplars stop, or start
again, including those faces. One exists query, and one flag update only when faces are there."""

from __future__ import annotations

from django.dispatch import receiver

from vault.people.clustering_state import people_mark_changed
from vault.people.models import Face
from vault.photos.trash import photos_restored, photos_trashed


def _faces_changed(user, photo_ids) -> None:
    if Face.objects.filter(owner=user, photo_id__in=photo_ids, not_a_face=False).exists():
        people_mark_changed(user=user)


@receiver(photos_trashed)
def _trashed(sender, user, photo_ids, **kwargs):
    _faces_changed(user, photo_ids)


@receiver(photos_restored)
def _restored(sender, user, photo_ids, **kwargs):
    _faces_changed(user, photo_ids)
