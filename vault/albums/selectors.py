"""Selectors: what the album pages read. Every query starts from the signed-in user's
membership, so an album they are not in does not exist for them (404)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Subquery
from django.http import Http404

from vault.accounts.keyring import Keyring
from vault.albums import keys
from vault.albums.models import Album, AlbumKeyWrap, AlbumMember, AlbumPhoto
from vault.photos import photo_sets
from vault.photos.models import GALLERY_ORDER, Blob, Photo, Tag
from vault.photos.selectors import PAGE_SIZE, GalleryPage, group_by_month, tag_counts_among


@dataclass
class AlbumCard:
    album: Album
    name: str
    role: str
    count: int
    owner_name: str


def membership(*, user, album_id) -> AlbumMember:
    """The user's membership of the album (with the album); 404 if they have none."""
    member = (
        AlbumMember.objects.select_related("album", "album__owner")
        .filter(user=user, album_id=album_id)
        .first()
    )
    if member is None:
        raise Http404("No such album")
    return member


def album_cards(*, user, keyring: Keyring, owned: bool) -> list[AlbumCard]:
    """The user's own albums (owned) or the albums shared with them, newest first, named."""
    members = AlbumMember.objects.filter(user=user).select_related("album", "album__owner")
    members = (
        members.filter(role=AlbumMember.Role.OWNER, album__kind=Album.Kind.ALBUM)
        if owned
        else members.exclude(role=AlbumMember.Role.OWNER)
    )
    members = list(
        members.order_by("-album__created_at").annotate(
            count=Count("album__entries", filter=Q(album__entries__photo__trashed_at=None))
        )
    )
    opened = keys.album_keys_open([member.album for member in members], keyring)
    cards = []
    for member in members:
        album = member.album
        if album.id not in opened:
            continue
        name = keys.album_text(album, opened[album.id], "name") or "Untitled album"
        cards.append(AlbumCard(album, name, member.role, member.count, album.owner.name))
    return cards


def album_photos(*, album: Album, filters: dict | None = None, viewer=None) -> QuerySet[Photo]:
    """The album's photos (any member's) in gallery order, not in the trash, under the tag and
    date filters of the gallery and, for `viewer`, the filters other apps provide over the
    viewer's own photos (a person of theirs: members never see the owner's people)."""
    filters = filters or {}
    entries = AlbumPhoto.objects.filter(album=album, photo=OuterRef("pk"))
    photos = Photo.objects.filter(Exists(entries), trashed_at__isnull=True).annotate(
        added_by_name=Subquery(entries.values("added_by__name")[:1]),  # who added what
        live=Exists(Blob.objects.filter(photo=OuterRef("pk"), variant=Blob.Variant.MOTION)),
    )
    for label in filters.get("tag", ()):
        photos = photos.filter(
            Exists(Tag.objects.filter(photo=OuterRef("pk"), label=label, rejected=False))
        )
    for photo_set in photo_sets.registered():
        if viewer is not None and filters.get(photo_set.key):
            photos = photos.filter(pk__in=photo_set.photo_ids(viewer, filters[photo_set.key]))
    # Dates are the local dates of capture (the camera's clock), as in the gallery.
    if filters.get("date_from"):
        start = dt.datetime.combine(filters["date_from"], dt.time.min)
        photos = photos.filter(shown_local__gte=start)
    if filters.get("date_to"):
        end = dt.datetime.combine(filters["date_to"] + dt.timedelta(days=1), dt.time.min)
        photos = photos.filter(shown_local__lt=end)
    return photos.order_by(*GALLERY_ORDER)


def album_page(*, album: Album, filters: dict, number: int, viewer=None) -> GalleryPage:
    number = max(1, number)
    start = (number - 1) * PAGE_SIZE
    shown = album_photos(album=album, filters=filters, viewer=viewer)
    rows = list(shown[start : start + PAGE_SIZE + 1])
    has_next = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return GalleryPage(group_by_month(rows), number, has_next, len(rows))


def album_entry(*, album: Album, photo_id) -> AlbumPhoto:
    """The album's entry for this photo (with photo and adder); 404 if it is not in it."""
    entry = (
        AlbumPhoto.objects.select_related("photo", "added_by")
        .filter(album=album, photo_id=photo_id, photo__trashed_at__isnull=True)
        .first()
    )
    if entry is None:
        raise Http404("No such photo in this album")
    return entry


def album_neighbours(*, album: Album, photo: Photo, filters: dict, viewer=None):
    from vault.photos.selectors import neighbours_in

    return neighbours_in(album_photos(album=album, filters=filters, viewer=viewer), photo)


def albums_of_photo(*, user, photo: Photo) -> list[AlbumMember]:
    """The albums the user may add to (owner or contributor), marking those holding `photo`."""
    members = AlbumMember.objects.filter(
        user=user, role__in=[AlbumMember.Role.OWNER, AlbumMember.Role.CONTRIBUTOR]
    ).select_related("album")
    holding = set(AlbumPhoto.objects.filter(photo=photo).values_list("album_id", flat=True))
    return [(m, m.album_id in holding) for m in members]


def albums_to_add_to(*, user, keyring: Keyring) -> list[tuple[Album, str]]:
    """(album, name) of every album the user may add photos to, for the pickers."""
    members = (
        AlbumMember.objects.filter(
            user=user,
            role__in=[AlbumMember.Role.OWNER, AlbumMember.Role.CONTRIBUTOR],
            album__kind=Album.Kind.ALBUM,  # the partner share takes every photo by itself
        )
        .select_related("album")
        .order_by("-album__created_at")
    )
    albums = [member.album for member in members]
    opened = keys.album_keys_open(albums, keyring)
    return [
        (album, keys.album_text(album, opened[album.id], "name") or "Untitled album")
        for album in albums
        if album.id in opened
    ]


def album_tag_counts(*, album: Album, filters: dict, viewer=None) -> dict[str, int]:
    """For each label, how many of the album's photos under `filters` carry it (as the
    gallery's chips count); rejected labels never count."""
    return tag_counts_among(album_photos(album=album, filters=filters, viewer=viewer))


def member_entry(*, user, album_id, photo_id) -> AlbumPhoto | None:
    """The entry of a photo (not in the trash) in an album the user is a member of, with the
    album and the user's wrap of its current key (`wrapped_key`), in one query: what every
    thumbnail, preview and download of an album needs. None when any of it is missing."""
    wrap = AlbumKeyWrap.objects.filter(
        album=OuterRef("album"), user=user, version=OuterRef("album__key_version")
    ).values("wrapped_key")[:1]
    return (
        AlbumPhoto.objects.select_related("album")
        .filter(
            album_id=album_id,
            photo_id=photo_id,
            photo__trashed_at__isnull=True,
            album__members__user=user,
        )
        .annotate(wrapped_key=Subquery(wrap))
        .first()
    )
