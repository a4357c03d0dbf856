"""Creating and revoking share links, and counting a visit (docs/links.md)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from vault.albums import keys as album_keys
from vault.albums import selectors as album_selectors
from vault.albums.models import Album, AlbumPhoto
from vault.crypto import link_keys
from vault.links.models import Link, LinkPhoto
from vault.photos import blobs
from vault.photos import selectors as photo_selectors
from vault.photos.models import Photo

EXPIRY = {
    "day": dt.timedelta(days=1),
    "week": dt.timedelta(days=7),
    "month": dt.timedelta(days=30),
    "never": None,
}


class NothingToShare(Exception):
    """No photo of the owner's (outside the trash) among those asked for."""


@dataclass(frozen=True)
class SharedPhoto:
    photo: Photo
    data_key: bytes
    name: str
    place: dict | None


def _album_photos(album: Album, keyring, include_locations: bool) -> list[SharedPhoto]:
    """The album's photos (contributors' included) with their DKs opened with AK."""
    ak = album_keys.album_key_open(album, keyring)
    entries = {
        e.photo_id: e for e in AlbumPhoto.objects.filter(album=album).select_related("photo")
    }
    shared = []
    for photo in album_selectors.album_photos(album=album):
        entry = entries[photo.id]
        place = album_keys.entry_place(entry, ak) if include_locations else None
        dk = album_keys.entry_data_key(entry, ak)
        shared.append(SharedPhoto(photo, dk, album_keys.entry_name(entry, ak), place or None))
    return shared


def _own_photos(owner, keyring, photo_ids, include_locations: bool) -> list[SharedPhoto]:
    photos = Photo.objects.filter(owner=owner, id__in=photo_ids, trashed_at__isnull=True)
    shared = []
    for photo in photos.order_by("-shown_at", "id"):
        place = None
        if include_locations:
            exif = photo_selectors.photo_private_exif(photo, keyring)
            if exif.get("latitude") is not None and exif.get("longitude") is not None:
                place = {"latitude": exif["latitude"], "longitude": exif["longitude"]}
        dk = blobs.original_data_key(photo, private_key=keyring.private_key)
        name = photo_selectors.photo_original_name(photo, keyring)
        shared.append(SharedPhoto(photo, dk, name, place))
    return shared


def link_create(
    *,
    owner,
    keyring,
    album: Album | None = None,
    photo_ids=(),
    expiry: str = "never",
    password: str = "",
    allow_downloads: bool = False,
    include_locations: bool = False,
) -> tuple[Link, str]:
    """Make a link to the owner's album (a snapshot of its photos now) or to a selection of
    the owner's photos. Returns the link and the fragment key (base64url LK), which the caller
    shows once and keeps nowhere. Raises NothingToShare; KeyError for an unknown expiry."""
    lifetime = EXPIRY[expiry]
    if album is not None:
        shared = _album_photos(album, keyring, include_locations)
    else:
        shared = _own_photos(owner, keyring, photo_ids, include_locations)
    if not shared:
        raise NothingToShare()
    lk = link_keys.new_link_key()
    kl = link_keys.wrapping_key(lk)
    with transaction.atomic():
        link = Link.objects.create(
            owner=owner,
            album=album,
            token_hash=link_keys.token_hash(link_keys.access_token(lk)),
            expires_at=timezone.now() + lifetime if lifetime else None,
            allow_downloads=allow_downloads,
            include_locations=include_locations,
            password_hash=make_password(password) if password else "",
        )
        rows = []
        for position, item in enumerate(shared):
            ids = {"link_id": link.id, "photo_id": item.photo.id}
            rows.append(
                LinkPhoto(
                    link=link,
                    photo=item.photo,
                    position=position,
                    wrapped_data_key=link_keys.data_key_wrap(kl, item.data_key, **ids),
                    name_sealed=link_keys.field_seal(kl, item.name.encode(), field="name", **ids),
                    place_sealed=link_keys.field_seal(
                        kl, json.dumps(item.place).encode(), field="place", **ids
                    )
                    if item.place
                    else None,
                )
            )
        LinkPhoto.objects.bulk_create(rows)
    return link, link_keys.encode_key(lk)


def link_revoke(*, link: Link) -> None:
    """Immediate: the row is checked on every request. The wraps go too, so a database dump
    taken afterwards holds nothing behind the link."""
    with transaction.atomic():
        Link.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        LinkPhoto.objects.filter(link=link).delete()


def link_opened(*, link: Link) -> None:
    Link.objects.filter(pk=link.pk).update(open_count=F("open_count") + 1)
