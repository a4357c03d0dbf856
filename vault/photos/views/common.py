"""Helpers shared by the photo views."""

from __future__ import annotations

from urllib.parse import urlencode

from vault.photos.forms import GalleryFilterForm


def wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def gallery_filters(request) -> tuple[GalleryFilterForm, dict, str]:
    """The filter form bound to the query string, the valid filters, and their query string
    (carried into links so a filtered view survives paging, previews and bookmarks)."""
    present = {k: request.GET[k] for k in ("tag", "date_from", "date_to") if request.GET.get(k)}
    form = GalleryFilterForm(present if present else None)
    filters = form.filters()
    query = urlencode(
        {
            key: value.isoformat() if hasattr(value, "isoformat") else value
            for key, value in filters.items()
        }
    )
    return form, filters, query
