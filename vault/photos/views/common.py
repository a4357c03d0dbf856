"""Helpers shared by the photo views."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import QueryDict

from vault.photos.forms import GalleryFilterForm


def wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _filters_from(params) -> tuple[GalleryFilterForm, dict, str]:
    present = {k: params[k] for k in ("tag", "date_from", "date_to") if params.get(k)}
    form = GalleryFilterForm(present if present else None)
    filters = form.filters()
    query = urlencode(
        {
            key: value.isoformat() if hasattr(value, "isoformat") else value
            for key, value in filters.items()
        }
    )
    return form, filters, query


def gallery_filters(request) -> tuple[GalleryFilterForm, dict, str]:
    """The filter form bound to the query string, the valid filters, and their query string
    (carried into links so a filtered view survives paging, previews and bookmarks)."""
    return _filters_from(request.GET)


def clean_query(raw: str) -> str:
    """A filter query string that came back from a form, rebuilt from its valid filters only:
    nothing else from it ever reaches a redirect."""
    return _filters_from(QueryDict(raw[:500]))[2]
