"""Selectors: what the photo pages read. Every query starts from the owner."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from vault.accounts.keyring import Keyring
from vault.crypto import DecryptionError, seal
from vault.photos.models import Photo, Tag
from vault.photos.sealing import exif_aad, name_aad

PAGE_SIZE = 60


def photos_for_gallery(*, user, filters: dict | None = None) -> QuerySet[Photo]:
    filters = filters or {}
    photos = Photo.objects.filter(owner=user)
    if filters.get("tag"):
        photos = photos.filter(tags__label=filters["tag"])
    tz = timezone.get_current_timezone()
    if filters.get("date_from"):
        start = dt.datetime.combine(filters["date_from"], dt.time.min, tzinfo=tz)
        photos = photos.filter(shown_at__gte=start)
    if filters.get("date_to"):
        end = dt.datetime.combine(filters["date_to"] + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
        photos = photos.filter(shown_at__lt=end)
    return photos.order_by("-shown_at", "-id")


@dataclass
class MonthGroup:
    key: str  # "2024-05"
    label: str  # "May 2024"
    photos: list[Photo]


def group_by_month(photos: list[Photo]) -> list[MonthGroup]:
    groups: list[MonthGroup] = []
    for photo in photos:
        moment = timezone.localtime(photo.shown_at)
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
    newer = (
        photos.filter(Q(shown_at__gt=photo.shown_at) | Q(shown_at=photo.shown_at, id__gt=photo.id))
        .order_by("shown_at", "id")
        .first()
    )
    older = photos.filter(
        Q(shown_at__lt=photo.shown_at) | Q(shown_at=photo.shown_at, id__lt=photo.id)
    ).first()
    return newer, older


def photo_original_name(photo: Photo, keyring: Keyring) -> str:
    try:
        return seal.open(
            keyring.metadata_key, bytes(photo.name_sealed), name_aad(photo.id)
        ).decode()
    except DecryptionError:
        return f"photo-{photo.id}"


def photo_private_exif(photo: Photo, keyring: Keyring) -> dict:
    if not photo.exif_sealed:
        return {}
    try:
        return json.loads(
            seal.open(keyring.metadata_key, bytes(photo.exif_sealed), exif_aad(photo.id))
        )
    except (DecryptionError, ValueError):
        return {}


def tag_counts(*, user) -> dict[str, int]:
    rows = (
        Tag.objects.filter(photo__owner=user).values("label").annotate(n=Count("photo")).order_by()
    )
    return {row["label"]: row["n"] for row in rows}


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
