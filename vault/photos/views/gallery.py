"""The gallery, the photo page, and the JSON status the pages poll while photos process."""

from __future__ import annotations

import uuid

from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from vault.accounts.decorators import keyring_required
from vault.photos import granting, selectors
from vault.photos.models import Tag
from vault.photos.views.common import gallery_filters

# Far beyond any vault (20 million photos at 20 a page), and small enough that the SQL
# OFFSET it becomes stays a valid bigint.
LAST_PAGE = 1_000_000


def _page_number(request) -> int:
    try:
        return min(max(1, int(request.GET.get("page", "1"))), LAST_PAGE)
    except ValueError:
        return 1


@require_GET
@keyring_required
def gallery(request):
    granting.photos_regrant(user=request.user, keyring=request.keyring)
    form, filters, query = gallery_filters(request)
    page = selectors.gallery_page(user=request.user, filters=filters, number=_page_number(request))
    context = {
        "page": page,
        "filter_form": form,
        "filters": filters,
        "query": query,
        "tag_counts": selectors.tag_counts(user=request.user),
        "tag_labels": Tag.Label.choices,
        "has_any_photo": request.user.photos.exists(),
    }
    if request.headers.get("X-Vault-Partial"):
        return render(request, "photos/_gallery_groups.html", context)
    return render(request, "photos/gallery.html", context)


@require_GET
@never_cache  # it shows the decrypted filename and private EXIF (place, camera)
@keyring_required
def photo_detail(request, photo_id):
    photo = selectors.photo_of_owner(user=request.user, photo_id=photo_id)
    _form, filters, query = gallery_filters(request)
    newer, older = selectors.photo_neighbours(user=request.user, photo=photo, filters=filters)
    return render(
        request,
        "photos/detail.html",
        {
            "photo": photo,
            "newer": newer,
            "older": older,
            "query": query,
            "name": selectors.photo_original_name(photo, request.keyring),
            "exif": selectors.photo_private_exif(photo, request.keyring),
            "tags": list(photo.tags.order_by("-score")),
        },
    )


@require_GET
@never_cache
@keyring_required
def status(request):
    """State of the given photos, for pages that show progress. Ids that are not the user's
    (or no longer exist) come back as "missing", indistinguishable from each other."""
    granting.photos_regrant(user=request.user, keyring=request.keyring)
    wanted = {raw: _canonical_id(raw) for raw in request.GET.getlist("id")[:200]}
    known = selectors.photos_status(
        user=request.user, photo_ids=[pid for pid in wanted.values() if pid]
    )
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
