"""A photo moved to the trash leaves every album at once (its DK wraps and sealed copies are
deleted); restoring it puts it back into the albums where its owner may still add."""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import receiver

from vault.albums.models import Album, AlbumMember, AlbumPhoto, TrashedAlbumEntry
from vault.photos.services import photos_stored
from vault.photos.trash import photos_restored, photos_trashed

log = logging.getLogger(__name__)


@receiver(photos_trashed)
def _leave_albums(sender, user, photo_ids, **kwargs):
    entries = AlbumPhoto.objects.filter(photo_id__in=photo_ids).select_related("album")
    TrashedAlbumEntry.objects.bulk_create(
        [
            TrashedAlbumEntry(
                album_id=e.album_id,
                photo_id=e.photo_id,
                added_by_id=e.added_by_id,
                was_cover=e.album.cover_id == e.photo_id,
            )
            for e in entries
        ],
        ignore_conflicts=True,
    )
    Album.objects.filter(cover_id__in=photo_ids).update(cover=None)
    entries.delete()


@receiver(photos_restored)
def _back_into_albums(sender, user, keyring, photo_ids, **kwargs):
    from vault.albums import keys, services

    for entry in TrashedAlbumEntry.objects.filter(photo_id__in=photo_ids).select_related("album"):
        allowed = AlbumMember.objects.filter(
            album=entry.album,
            user=user,
            role__in=[AlbumMember.Role.OWNER, AlbumMember.Role.CONTRIBUTOR],
        ).exists()
        if allowed:
            try:
                with transaction.atomic():
                    services.album_photos_add(
                        album=entry.album, keyring=keyring, user=user, photo_ids=[entry.photo_id]
                    )
                    if entry.was_cover:
                        Album.objects.filter(pk=entry.album_id, cover=None).update(
                            cover_id=entry.photo_id
                        )
            except keys.AlbumKeyUnavailable:
                log.info("photo %s not put back into album %s", entry.photo_id, entry.album_id)
        entry.delete()


@receiver(photos_stored)
def _into_the_partner_album(sender, user, keyring, photo_ids, **kwargs):
    """New uploads join the owner's partner share while the uploader's keys are at hand. A
    failure must not fail the upload (the photos are stored): it is logged, and the next
    visit of the owner's album page or partner settings syncs again."""
    from vault.albums.partner import partner_sync

    try:
        partner_sync(owner=user, keyring=keyring, photo_ids=photo_ids)
    except Exception:
        log.exception("user %s: new photos not added to the partner share", user.pk)
