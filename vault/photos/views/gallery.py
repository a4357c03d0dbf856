"""The gallery (tag chips and dates in the URL), the photo page, and the JSON status the pages
poll while photos process."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from vault.accounts.decorators import keyring_required
from vault.photos import (
    live_photos,
    model_status,
    owner_visit,
    photo_panels,
    photo_sets,
    seen_by,
    selectors,
    shared_photos,
)
from vault.photos.deleted_recently import already_deleted_text, deleted_among
from vault.photos.models import Photo, Tag
from vault.photos.views.common import filters_query, gallery_filters
from vault.photos.views.tags import tagger_unavailable_text, tagging_text
from vault.photos.views.trash import trashed_photo_page

# Far beyond any vault (20 million photos at 20 a page), and small enough that the SQL
# OFFSET it becomes stays a valid bigint.
LAST_PAGE = 1_000_000


def _page_number(request) -> int:
    try:
        return min(max(1, int(request.GET.get("page", "1"))), LAST_PAGE)
    except ValueError:
        return 1


@dataclass(frozen=True)
class TagChip:
    """One tag in the gallery's filter: a link that toggles it in the current query."""

    value: str
    label: str
    count: int  # photos the gallery would show with this tag selected (as well)
    selected: bool
    query: str  # the filter query with this tag toggled


@dataclass(frozen=True)
class SetChip:
    """An active filter another app provides (a person): shown with a link that removes it."""

    key: str
    value: str
    label: str
    query: str  # the filter query without it


def filter_set_chips(request, filters: dict) -> tuple[list[SetChip], list[str]]:
    """The active filters other apps provide, and what is wrong with the ones in the URL (a
    mangled or unknown `?person=` says so instead of silently showing every photo)."""
    chips, problems = [], []
    for photo_set in photo_sets.registered():
        raw = request.GET.get(photo_set.key)
        value = filters.get(photo_set.key)
        if value is None:
            if raw:
                problems.append(f"The {photo_set.key} in this link is not valid: it is ignored.")
            continue
        label = photo_set.describe(request.user, request.keyring, value)
        if label is None:
            label = "Not found"
            problems.append(f"No {photo_set.key} of yours has this id, so no photo matches.")
        rest = {key: v for key, v in filters.items() if key != photo_set.key}
        chips.append(SetChip(photo_set.key, str(value), label, filters_query(rest)))
    return chips, problems


@dataclass(frozen=True)
class SetOptions:
    """The chips another app's filter offers (people), like the tag chips."""

    key: str
    legend: str
    chips: list[TagChip]


def filter_set_options(request, filters: dict, photos_under=None) -> list[SetOptions]:
    """The chips each other app's filter offers, counted within `photos_under(filters)` (the
    photos shown under the other filters; default: the user's gallery)."""
    within_a_part = photos_under is not None  # an album: never the whole library's counts
    if photos_under is None:

        def photos_under(rest):
            return selectors.photos_for_gallery(user=request.user, filters=rest)

    groups = []
    for photo_set in photo_sets.registered():
        if photo_set.options is None:
            continue
        rest = {key: v for key, v in filters.items() if key != photo_set.key}
        photos = photos_under(rest)
        chips = []
        narrowed = within_a_part or bool(rest)
        for option in photo_set.options(request.user, request.keyring, photos, narrowed):
            on = str(filters.get(photo_set.key)) == option.value
            query = filters_query(rest if on else {**rest, photo_set.key: option.value})
            chips.append(TagChip(option.value, option.label, option.count, on, query))
        if chips:
            groups.append(SetOptions(photo_set.key, photo_set.legend, chips))
    return groups


def _tag_chips(*, user, filters: dict) -> list[TagChip]:
    counts = selectors.tag_counts(user=user, filters=filters)
    selected = filters.get("tag", [])
    chips = []
    for value, label in Tag.Label.choices:
        on = value in selected
        toggled = [v for v in Tag.Label.values if (v in selected) != (v == value)]
        query = filters_query({**filters, "tag": toggled})
        chips.append(TagChip(value, label, counts.get(value, 0), on, query))
    return chips


def _filters_in_use(filters: dict) -> int:
    """How many filter values narrow the gallery (each selected tag counts), for the button."""
    return sum(len(value) if isinstance(value, list | tuple) else 1 for value in filters.values())


@require_GET
@keyring_required
def gallery(request):
    owner_visit.owner_visit(user=request.user, keyring=request.keyring)
    form, filters, query = gallery_filters(request)
    page = selectors.gallery_page(
        user=request.user,
        filters=filters,
        number=_page_number(request),
        after=request.GET.get("after"),
        before=request.GET.get("before"),
    )
    context = {"page": page, "query": query}
    if request.headers.get("X-Vault-Partial"):  # the next page, for infinite scrolling
        return render(request, "photos/_gallery_groups.html", context)
    tagging = model_status.model_status(user=request.user)
    set_chips, set_problems = filter_set_chips(request, filters)
    context |= {
        "filter_form": form,
        "filters": filters,
        "tag_chips": _tag_chips(user=request.user, filters=filters),
        "set_chips": set_chips,
        "set_problems": set_problems,
        "set_options": filter_set_options(request, filters),
        "tagging": tagging,
        "tagging_text": tagging_text(tagging),
        "tag_labels": Tag.Label.choices,
        "has_any_photo": request.user.photos.exists() or page.count_on_page > 0,
        "selection_actions": photo_panels.selection_actions_for(request),
        "gallery_panels": photo_panels.gallery_panels_for(request),
        "filters_in_use": _filters_in_use(filters),
        # Folded on a phone unless the user is filtering (or mistyped a filter): see gallery.html.
        "filters_open": bool(query or form.errors or form.ignored_tags or set_problems),
    }
    return render(request, "photos/gallery.html", context)


@require_GET
@never_cache  # it shows the decrypted filename and private EXIF (place, camera)
@keyring_required
def photo_detail(request, photo_id):
    if deleted_among(request, [photo_id]):  # a tab (or Back) showing a photo deleted since
        messages.info(request, already_deleted_text(1))
        return redirect("photos:gallery")
    try:
        photo = selectors.photo_of_owner(user=request.user, photo_id=photo_id)
    except Http404:
        shared_page = shared_photos.page_url(request.user, photo_id)  # a partner's photo
        if shared_page is None:
            raise
        return redirect(shared_page)
    if photo.trashed_at is not None:  # trashed from another tab or session
        return trashed_photo_page(request, photo)
    _form, filters, query = gallery_filters(request)
    newer, older = selectors.photo_neighbours(user=request.user, photo=photo, filters=filters)
    tags = selectors.photo_visible_tags(photo)
    shown = {tag.label for tag in tags}
    tagger_id, tagger_problem = seen_by.active_tagger_id()
    return render(
        request,
        "photos/detail.html",
        {
            "photo": photo,
            # A Live Photo or motion photo: the still with its moving part (one query).
            "live": photo.kind == Photo.Kind.PHOTO
            and photo.state == Photo.State.READY
            and photo.motion_clip,
            "newer": newer,
            "older": older,
            "query": query,
            "name": selectors.photo_original_name(photo, request.keyring),
            "exif": selectors.photo_private_exif(photo, request.keyring),
            "tags": tags,
            "labels_to_add": [(v, label) for v, label in Tag.Label.choices if v not in shown],
            "not_tagged_yet": not tags and not photo.tagged_by,
            "tagger_unavailable": "" if tagger_id else tagger_unavailable_text(tagger_problem),
            "user_source": Tag.USER,
            "panels": photo_panels.panels_for(request, photo),
        },
    )


@require_GET
@never_cache
@keyring_required
def status(request):
    """State of the given photos, for pages that show progress. Ids that are not the user's
    (or no longer exist) come back as "missing", indistinguishable from each other."""
    owner_visit.owner_visit(user=request.user, keyring=request.keyring)
    wanted = {raw: _canonical_id(raw) for raw in request.GET.getlist("id")[:200]}
    known = selectors.photos_status(
        user=request.user, photo_ids=[pid for pid in wanted.values() if pid]
    )
    # A Live Photo's video became its still's motion: its id answers with the still's state.
    merged = live_photos.live_merged_into(
        user=request.user, photo_ids=[pid for pid in wanted.values() if pid and pid not in known]
    )
    if merged:
        lives = selectors.photos_status(user=request.user, photo_ids=list(merged.values()))
        wanted.update({raw: merged[pid] for raw, pid in wanted.items() if pid in merged})
        known.update(lives)
    result = {}
    for raw, photo_id in wanted.items():
        entry = known.get(photo_id, {"state": "missing", "label": "Not found", "progress": 0})
        if entry["state"] == "ready":
            entry["thumb"] = reverse("photos:thumb", args=[photo_id])
            entry["url"] = reverse("photos:detail", args=[photo_id])
        result[raw] = entry  # keyed as asked, so the page finds its own ids
    return JsonResponse({"photos": result})


def _canonical_id(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
