"""Selectors: what the photo pages read. Every query starts from the owner."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404

from vault.accounts.keyring import Keyring
from vault.crypto import DecryptionError, seal
from vault.photos import photo_sets, shared_photos
from vault.photos.models import GALLERY_ORDER, Photo, Tag
from vault.photos.places import place_is_real
from vault.photos.sealing import exif_aad, name_aad

PAGE_SIZE = 60


def photos_for_gallery(*, user, filters: dict | None = None) -> QuerySet[Photo]:
    """The user's photos in gallery order under `filters`: "tag" is a list of labels that a
    photo must all carry (AND: each chip narrows), never counting a label the user rejected."""
    filters = filters or {}
    visible = Q(owner=user)
    for ids in shared_photos.gallery_ids(user):  # a partner's library, when shown
        visible |= Q(pk__in=ids)
    photos = Photo.objects.filter(visible, trashed_at__isnull=True)  # the trash is apart
    for label in filters.get("tag", ()):
        # One EXISTS per label rather than a join per label: no duplicate rows to undo.
        photos = photos.filter(
            Exists(Tag.objects.filter(photo=OuterRef("pk"), label=label, rejected=False))
        )
    for photo_set in photo_sets.registered():
        if filters.get(photo_set.key):
            photos = photos.filter(pk__in=photo_set.photo_ids(user, filters[photo_set.key]))
    # Dates are the local dates of capture (what the camera's clock showed), not UTC days.
    if filters.get("date_from"):
        start = dt.datetime.combine(filters["date_from"], dt.time.min)
        photos = photos.filter(shown_local__gte=start)
    if filters.get("date_to"):
        end = dt.datetime.combine(filters["date_to"] + dt.timedelta(days=1), dt.time.min)
        photos = photos.filter(shown_local__lt=end)
    return photos.order_by(*GALLERY_ORDER)


@dataclass
class MonthGroup:
    key: str  # "2024-05"
    label: str  # "May 2024"
    photos: list[Photo]


def group_by_month(photos: list[Photo]) -> list[MonthGroup]:
    groups: list[MonthGroup] = []
    for photo in photos:
        moment = photo.shown_local  # the month on the camera's clock
        key = moment.strftime("%Y-%m")
        if not groups or groups[-1].key != key:
            groups.append(MonthGroup(key, moment.strftime("%B %Y"), []))
        groups[-1].photos.append(photo)
    return groups


@dataclass
class GalleryPage:
    groups: list[MonthGroup]
    number: int
    has_next: bool
    count_on_page: int


def gallery_page(*, user, filters: dict, number: int) -> GalleryPage:
    number = max(1, number)
    start = (number - 1) * PAGE_SIZE
    rows = list(photos_for_gallery(user=user, filters=filters)[start : start + PAGE_SIZE + 1])
    has_next = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return GalleryPage(group_by_month(rows), number, has_next, len(rows))


def photo_of_owner(*, user, photo_id) -> Photo:
    """The photo if it is this user's; 404 otherwise (never 403: ids of others do not exist)."""
    photo = Photo.objects.filter(owner=user, pk=photo_id).first()
    if photo is None:
        raise Http404("No such photo")
    return photo


def photo_neighbours(*, user, photo: Photo, filters: dict) -> tuple[Photo | None, Photo | None]:
    """(newer, older) neighbours in the gallery's order under the same filters."""
    photos = photos_for_gallery(user=user, filters=filters)
    newer = photos.filter(_beyond(photo, newer=True)).reverse().first()
    older = photos.filter(_beyond(photo, newer=False)).first()
    return newer, older


def _beyond(photo: Photo, *, newer: bool) -> Q:
    """The photos after `photo` in the gallery's order (older), or before it (newer): a keyset
    condition on every key of GALLERY_ORDER, each compared only where the ones before tie."""
    lookup = "gt" if newer else "lt"
    condition, ties = Q(), Q()
    for key in (field.lstrip("-") for field in GALLERY_ORDER):
        value = getattr(photo, key)
        condition |= ties & Q(**{f"{key}__{lookup}": value})
        ties &= Q(**{key: value})
    return condition


def photo_original_name(photo: Photo, keyring: Keyring) -> str:
    try:
        return seal.open(
            keyring.metadata_key, bytes(photo.name_sealed), name_aad(photo.id)
        ).decode()
    except DecryptionError:
        return f"photo-{photo.id}"


def photo_private_exif(photo: Photo, keyring: Keyring) -> dict:
    """The sealed camera and place fields. Photos sealed before the worker checked its numbers
    may hold NaN (from 0/0 rationals) or an impossible place: those read as absent."""
    if not photo.exif_sealed:
        return {}
    try:
        fields = json.loads(
            seal.open(keyring.metadata_key, bytes(photo.exif_sealed), exif_aad(photo.id)),
            parse_constant=lambda _nan_or_infinity: None,
        )
    except (DecryptionError, ValueError):
        return {}
    if not isinstance(fields, dict):
        return {}
    fields = {key: value for key, value in fields.items() if value is not None}
    if not place_is_real(fields.get("latitude"), fields.get("longitude")):
        for key in ("latitude", "longitude", "altitude"):
            fields.pop(key, None)
    return fields


def tag_counts(*, user, filters: dict | None = None) -> dict[str, int]:
    """For each label, how many of the photos the gallery shows under `filters` carry it: what
    the gallery would show with that label's chip selected too. Rejected labels never count."""
    shown = photos_for_gallery(user=user, filters=filters).order_by().values("pk")
    rows = (
        Tag.objects.filter(rejected=False, photo__in=shown)
        .values("label")
        .annotate(n=Count("photo"))
        .order_by()
    )
    return {row["label"]: row["n"] for row in rows}


def photo_visible_tags(photo: Photo) -> list[Tag]:
    """The tags the photo page shows: best score first; the user's rejections never."""
    return list(photo.tags.filter(rejected=False).order_by("-score", "label"))


def photos_status(*, user, photo_ids) -> dict[str, dict]:
    photos = Photo.objects.filter(owner=user, pk__in=photo_ids).only(
        "id", "state", "progress", "failure_reason"
    )
    return {
        str(photo.id): {
            "state": photo.state,
            "label": photo.get_state_display(),
            "progress": photo.progress,
            "reason": photo.failure_reason,
        }
        for photo in photos
    }
