"""Helpers shared by the photo views."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import QueryDict
from django.shortcuts import redirect
from django.urls import reverse

from vault.photos import photo_sets
from vault.photos.forms import MAX_TAGS_IN_FILTER, GalleryFilterForm

BASE_FILTER_KEYS = ("tag", "date_from", "date_to")


def filter_keys() -> tuple[str, ...]:
    """The query keys of the gallery's filters, in URL order: ours, then registered ones."""
    return BASE_FILTER_KEYS + photo_sets.filter_keys()


def wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def filters_query(filters: dict) -> str:
    """The query string of valid filters, in a fixed order: `tag` repeated per label."""
    pairs = {}
    for key, value in filters.items():
        if key in filter_keys() and value:
            pairs[key] = value.isoformat() if hasattr(value, "isoformat") else value
    return urlencode({key: pairs[key] for key in filter_keys() if key in pairs}, doseq=True)


def _filters_from(params) -> tuple[GalleryFilterForm, dict, str]:
    present = QueryDict(mutable=True)
    tags = [value for value in params.getlist("tag")[:MAX_TAGS_IN_FILTER] if value]
    if tags:
        present.setlist("tag", tags)
    for key in ("date_from", "date_to"):
        if params.get(key):
            present[key] = params[key]
    form = GalleryFilterForm(present if present else None)
    filters = form.filters()
    for key in photo_sets.filter_keys():
        value = photo_sets.parse(params.get(key))
        if value is not None:
            filters[key] = value
    return form, filters, filters_query(filters)


def gallery_filters(request) -> tuple[GalleryFilterForm, dict, str]:
    """The filter form bound to the query string, the valid filters, and their query string
    (carried into links so a filtered view survives paging, previews and bookmarks)."""
    return _filters_from(request.GET)


def clean_query(raw: str) -> str:
    """A filter query string that came back from a form, rebuilt from its valid filters only:
    nothing else from it ever reaches a redirect."""
    return _filters_from(QueryDict(raw[:500]))[2]


def gallery_redirect(request):
    """Back to the gallery after a change, under the filters the form carried."""
    query = clean_query(request.POST.get("query", ""))
    url = reverse("photos:gallery")
    return redirect(f"{url}?{query}" if query else url)
