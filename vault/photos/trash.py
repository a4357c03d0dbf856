"""The trash (docs/sharing.md): a deleted photo waits here TRASH_DAYS days, out of the gallery,
every album and every share, until its owner restores it or it is deleted for good (emptying
the trash, or the daily `manage.py vault_trash_expire`). Deleting for good is
`services.photos_delete`: rows and key wraps in one transaction, then the blobs whose headers
hold the only other copies of the data key (crypto-shredding).

Other apps hear of trashing and restoring through the signals below, so photos never imports
them (DESIGN §3): the albums app takes the photos out of their albums and puts them back."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from vault.photos.models import Photo
from vault.photos.services import photos_delete

log = logging.getLogger(__name__)

TRASH_DAYS = 30

# photos_trashed.send(sender=Photo, user=..., photo_ids=[...]) inside the trashing transaction
photos_trashed = Signal()
# photos_restored.send(sender=Photo, user=..., keyring=..., photo_ids=[...]) after the restore
photos_restored = Signal()


def photos_trash(*, user, photo_ids) -> int:
    """Move the owner's photos to the trash; return how many moved (those already there are
    left as they are). The caller has checked ownership."""
    with transaction.atomic():
        ids = list(
            Photo.objects.select_for_update()
            .filter(owner=user, id__in=photo_ids, trashed_at__isnull=True)
            .values_list("id", flat=True)
        )
        Photo.objects.filter(id__in=ids).update(trashed_at=timezone.now())
        if ids:
            photos_trashed.send(sender=Photo, user=user, photo_ids=ids)
    log.info("user %s moved %d photo(s) to the trash", user.pk, len(ids))
    return len(ids)


def photos_restore(*, user, keyring, photo_ids) -> int:
    """Bring photos back from the trash (into the albums they were in, where the owner still
    may add); return how many."""
    with transaction.atomic():
        ids = list(
            Photo.objects.select_for_update()
            .filter(owner=user, id__in=photo_ids, trashed_at__isnull=False)
            .values_list("id", flat=True)
        )
        Photo.objects.filter(id__in=ids).update(trashed_at=None)
    if ids:
        photos_restored.send(sender=Photo, user=user, keyring=keyring, photo_ids=ids)
    log.info("user %s restored %d photo(s) from the trash", user.pk, len(ids))
    return len(ids)


def trashed_photos(*, user):
    """The owner's photos in the trash, most recently trashed first."""
    return Photo.objects.filter(owner=user, trashed_at__isnull=False).order_by("-trashed_at", "-id")


def trash_delete(*, user, photo_ids) -> int:
    """Delete for good photos that are in the trash (never one that is not)."""
    ids = list(trashed_photos(user=user).filter(id__in=photo_ids).values_list("id", flat=True))
    return photos_delete(user=user, photo_ids=ids) if ids else 0


def trash_empty(*, user) -> int:
    return photos_delete(
        user=user, photo_ids=list(trashed_photos(user=user).values_list("id", flat=True))
    )


def trash_expire(*, now: dt.datetime | None = None) -> int:
    """Delete for good every photo (of every user) trashed TRASH_DAYS days ago or earlier; no
    key is needed to destroy. Returns how many."""
    cutoff = (now or timezone.now()) - dt.timedelta(days=TRASH_DAYS)
    expired = Photo.objects.filter(trashed_at__lte=cutoff).values_list("owner", "id")
    by_owner: dict = {}
    for owner_id, photo_id in expired:
        by_owner.setdefault(owner_id, []).append(photo_id)
    from django.contrib.auth import get_user_model

    total = 0
    for owner in get_user_model().objects.filter(pk__in=by_owner):
        total += photos_delete(user=owner, photo_ids=by_owner[owner.pk])
    log.info("trash expiry deleted %d photo(s) for good", total)
    return total
