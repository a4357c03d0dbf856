"""Other users' photos that a user may see in their own gallery (the albums app: a partner's
whole library, docs/sharing.md), registered at start-up so that photos never imports albums
(DESIGN §3). The gallery lists them beside the user's own; their thumbnails, previews and
originals are opened with a data key the source gives; their page is the source's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SharedPhotos:
    # gallery_ids(user) -> a queryset of the ids of others' photos to list, or None (none/off)
    gallery_ids: Callable
    # read(request, photo) -> (data key, file name) when the user may read the photo, else None
    read: Callable
    # page_url(user, photo_id) -> the URL of the photo's page for this user, or None
    page_url: Callable


_sources: list[SharedPhotos] = []


def register(source: SharedPhotos) -> None:
    if source not in _sources:
        _sources.append(source)


def gallery_ids(user) -> list:
    return [ids for source in _sources if (ids := source.gallery_ids(user)) is not None]


def read(request, photo) -> tuple[bytes, str] | None:
    for source in _sources:
        found = source.read(request, photo)
        if found is not None:
            return found
    return None


def page_url(user, photo_id) -> str | None:
    for source in _sources:
        url = source.page_url(user, photo_id)
        if url is not None:
            return url
    return None
