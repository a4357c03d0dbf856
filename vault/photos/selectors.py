"""Selectors: what the photo pages read. Every query starts from the owner."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

from django.db import models
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404

from vault.accounts.keyring import Keyring
from vault.crypto import DecryptionError, seal
from vault.photos import library_counts, photo_sets, shared_photos
from vault.photos.models import GALLERY_ORDER, Blob, Photo, Tag
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
    number: int  # 1 unless the page was asked for by number (an old bookmark)
    has_next: bool
    count_on_page: int
    older: str | None = None  # the cursor of the next, older page (None: this is the last)
    newer: str | None = None  # the cursor of the page before, newer (None: this is the first)


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)
_ORDER_KEYS = tuple(field.lstrip("-") for field in GALLERY_ORDER)


def gallery_cursor(photo: Photo) -> str:
    """Where a page starts or ends, as the URL carries it: the photo's keys in GALLERY_ORDER,
    dot-separated (a date as microseconds since 1970, the id as hex). Dates and ids only,
    plaintext by design; it still works when that photo has been deleted since."""
    parts = []
    for key in _ORDER_KEYS:
        value = getattr(photo, key)
        parts.append(
            value.hex if isinstance(value, uuid.UUID) else str((value - _EPOCH) // _MICROSECOND)
        )
    return ".".join(parts)


def _cursor_parse(value: str | None) -> dict | None:
    """{key: value} of a cursor's keys, or None for a mangled one (then the first page shows,
    never a 500)."""
    parts = str(value)[:120].split(".")
    if value is None or len(parts) != len(_ORDER_KEYS):
        return None
    keys = {}
    try:
        for key, part in zip(_ORDER_KEYS, parts, strict=True):
            if isinstance(Photo._meta.get_field(key), models.UUIDField):
                keys[key] = uuid.UUID(hex=part)
            else:
                keys[key] = _EPOCH + int(part) * _MICROSECOND
    except (ValueError, OverflowError):
        return None
    return keys


def _past(keys: dict, *, newer: bool) -> Q:
    """The photos after `keys` (GALLERY_ORDER's fields) in the gallery's order (older), or before
    them (newer): a keyset condition on every key, each compared only where the ones before
    tie. The leading bound on the first key alone lets the gallery's index start at the cursor."""
    lookup = "gt" if newer else "lt"
    condition, ties = Q(), Q()
    for key in _ORDER_KEYS:
        condition |= ties & Q(**{f"{key}__{lookup}": keys[key]})
        ties &= Q(**{key: keys[key]})
    first = _ORDER_KEYS[0]
    return Q(**{f"{first}__{lookup}e": keys[first]}) & condition


def _keys_of(photo: Photo) -> dict:
    return {key: getattr(photo, key) for key in _ORDER_KEYS}


def photos_page(
    photos: QuerySet[Photo],
    *,
    after: str | None = None,
    before: str | None = None,
    number: int = 1,
) -> GalleryPage:
    """One page (PAGE_SIZE photos) of `photos`: any queryset of Photo, photos_for_gallery's or
    an album's; its order is replaced by GALLERY_ORDER. The page holds the photos just older
    than the cursor `after` (gallery_cursor), or just newer than the cursor `before`, or else
    page `number` counted by offset (kept for old bookmarks: the pages' own links carry
    cursors, since an offset costs a scan of every photo before it and a cursor costs the same
    at any depth). A mangled cursor reads as none. Two indexed queries at most."""
    # The sealed fields are never shown on a page of tiles: not fetched.
    photos = photos.order_by(*GALLERY_ORDER).defer("name_sealed", "exif_sealed", "content_mac")
    # A Live Photo or motion photo says so on its tile (an index lookup per row, same query).
    photos = photos.annotate(
        live=Exists(Blob.objects.filter(photo=OuterRef("pk"), variant=Blob.Variant.MOTION))
    )
    after_keys, before_keys = _cursor_parse(after), _cursor_parse(before)
    if after_keys is not None:
        rows = list(photos.filter(_past(after_keys, newer=False))[: PAGE_SIZE + 1])
        has_next = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        number = 1
    elif before_keys is not None:
        newer_first = photos.filter(_past(before_keys, newer=True)).reverse()
        rows = list(newer_first[: PAGE_SIZE + 1])[::-1]
        has_more_newer = len(rows) > PAGE_SIZE
        rows = rows[-PAGE_SIZE:]
        has_next = bool(rows) and photos.filter(_past(_keys_of(rows[-1]), newer=False)).exists()
        return _page(rows, number=1, has_next=has_next, has_newer=has_more_newer)
    else:
        number = max(1, number)
        start = (number - 1) * PAGE_SIZE
        rows = list(photos[start : start + PAGE_SIZE + 1])
        has_next = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        if number == 1:
            return _page(rows, number=1, has_next=has_next, has_newer=False)
    has_newer = bool(rows) and photos.filter(_past(_keys_of(rows[0]), newer=True)).exists()
    return _page(rows, number=number, has_next=has_next, has_newer=has_newer)


def _page(rows: list[Photo], *, number: int, has_next: bool, has_newer: bool) -> GalleryPage:
    return GalleryPage(
        groups=group_by_month(rows),
        number=number,
        has_next=has_next,
        count_on_page=len(rows),
        older=gallery_cursor(rows[-1]) if has_next else None,
        newer=gallery_cursor(rows[0]) if has_newer else None,
    )


def gallery_page(
    *,
    user,
    filters: dict,
    number: int = 1,
    after: str | None = None,
    before: str | None = None,
) -> GalleryPage:
    """A page of the owner's gallery under `filters` (see photos_page)."""
    photos = photos_for_gallery(user=user, filters=filters)
    return photos_page(photos, after=after, before=before, number=number)


def photo_of_owner(*, user, photo_id) -> Photo:
    """The photo if it is this user's; 404 otherwise (never 403: ids of others do not exist)."""
    photo = Photo.objects.filter(owner=user, pk=photo_id).first()
    if photo is None:
        raise Http404("No such photo")
    return photo


def photo_neighbours(*, user, photo: Photo, filters: dict) -> tuple[Photo | None, Photo | None]:
    """(newer, older) neighbours in the gallery's order under the same filters."""
    return neighbours_in(photos_for_gallery(user=user, filters=filters), photo)


def neighbours_in(photos: QuerySet[Photo], photo: Photo) -> tuple[Photo | None, Photo | None]:
    """(newer, older) neighbours of `photo` among `photos` (any queryset of Photo: the
    gallery's, an album's) in GALLERY_ORDER; None at either end. Two indexed queries."""
    photos = photos.order_by(*GALLERY_ORDER)
    newer = photos.filter(_past(_keys_of(photo), newer=True)).reverse().first()
    older = photos.filter(_past(_keys_of(photo), newer=False)).first()
    return newer, older


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
    the gallery would show with that label's chip selected too. Rejected labels never count.
    Counted once per change of the library (vault.photos.library_counts) under tag and date
    filters; under another app's filter (a person: a few photos, whose faces the library
    version does not follow), or while a partner's library is shown, counted each time."""
    filters = filters or {}
    if any(filters.get(key) for key in photo_sets.filter_keys()) or shared_photos.gallery_ids(user):
        # A partner's photos shown beside the user's change with the partner's library, which
        # the user's version does not follow: counted each time.
        return _tag_counts(user=user, filters=filters)
    parts = tuple(sorted((key, str(value)) for key, value in filters.items()))
    return library_counts.library_cached(
        user=user,
        name="tag-counts",
        parts=parts,
        compute=lambda: _tag_counts(user=user, filters=filters),
    )


def _tag_counts(*, user, filters: dict) -> dict[str, int]:
    return tag_counts_among(photos_for_gallery(user=user, filters=filters))


def tag_counts_among(photos) -> dict[str, int]:
    """For each label, how many of `photos` (a Photo queryset) carry it, as the chips count;
    rejected labels never count."""
    shown = photos.order_by().values("pk")
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
