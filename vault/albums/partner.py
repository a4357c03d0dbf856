"""Partner sharing (docs/sharing.md): "share my whole library with …" is an implicit album of
kind PARTNER owned by the sharer, with the partner as its one viewer. Every photo of the owner
that is not in the trash is in it: the existing ones when sharing starts, each new upload in
the uploader's signed-in request (the `photos_stored` signal), and restored ones through the
trash's receivers. Stopping deletes the album: every wrap goes at once."""

from __future__ import annotations

import logging

from django.db import transaction

from vault.accounts.keyring import Keyring
from vault.accounts.models import User
from vault.albums import services
from vault.albums.models import Album, AlbumMember
from vault.photos.models import Photo

log = logging.getLogger(__name__)

BATCH = 500


def partner_album(*, owner: User) -> Album | None:
    return Album.objects.filter(owner=owner, kind=Album.Kind.PARTNER).first()


def partner_of(album: Album) -> User | None:
    member = (
        AlbumMember.objects.filter(album=album)
        .exclude(role=AlbumMember.Role.OWNER)
        .select_related("user")
        .first()
    )
    return member.user if member else None


def partner_start(*, owner: User, keyring: Keyring, email: str) -> Album:
    """Share the owner's whole library with the user of that email (one partner at a time).
    AlbumError for an unknown email, oneself, or when a partner share already runs."""
    if partner_album(owner=owner) is not None:
        raise services.AlbumError("You already share your library; stop that first.")
    if email.strip().lower() == owner.email.lower():
        raise services.AlbumError("That is your own address.")
    with transaction.atomic():
        album = services.album_create(owner=owner, keyring=keyring, name=f"{owner.name}'s library")
        Album.objects.filter(pk=album.pk).update(kind=Album.Kind.PARTNER)
        album.kind = Album.Kind.PARTNER
        services.album_member_add(
            album=album, keyring=keyring, email=email, role=AlbumMember.Role.VIEWER
        )
        partner_sync(owner=owner, keyring=keyring, album=album)
    log.info("user %s shares their library (album %s)", owner.pk, album.id)
    return album


def partner_sync(
    *, owner: User, keyring: Keyring, album: Album | None = None, photo_ids=None
) -> int:
    """Seal into the partner album the owner's photos not yet in it (all of them, or the
    given ones). Returns how many were added."""
    album = album or partner_album(owner=owner)
    if album is None:
        return 0
    photos = Photo.objects.filter(owner=owner, trashed_at__isnull=True).exclude(
        album_entries__album=album
    )
    if photo_ids is not None:
        photos = photos.filter(id__in=photo_ids)
    ids = list(photos.values_list("id", flat=True))
    added = 0
    for start in range(0, len(ids), BATCH):
        added += services.album_photos_add(
            album=album, keyring=keyring, user=owner, photo_ids=ids[start : start + BATCH]
        )
    return added


def partner_stop(*, owner: User) -> None:
    album = partner_album(owner=owner)
    if album is not None:
        services.album_delete(album=album)
        log.info("user %s stopped sharing their library", owner.pk)
