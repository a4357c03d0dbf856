"""Gallery filters that other apps provide (the people app: `?person=<id>`), registered at
start-up so that photos never imports them (DESIGN §3). Each narrows the owner's photos to a
set of photo ids and can name itself for the filter's chip."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet


@dataclass(frozen=True)
class PhotoSetFilter:
    key: str  # the query parameter; its value is a uuid
    # photo_ids(user, value) -> a queryset of the photo ids in the set (the owner's only)
    photo_ids: Callable[..., QuerySet]
    # describe(user, keyring, value) -> what the chip says ("Ana"), None if not the owner's
    describe: Callable[..., str | None]
    # options(user, keyring, photos) -> [SetOption] the filter offers as chips, counted within
    # `photos` (the gallery's photos under the other filters); None: it offers none
    options: Callable[..., list[SetOption]] | None = None
    legend: str = ""  # the heading of its chips ("People")


@dataclass(frozen=True)
class SetOption:
    value: str
    label: str
    count: int  # photos the gallery would show with this chip selected


_registry: dict[str, PhotoSetFilter] = {}


def register(photo_set: PhotoSetFilter) -> None:
    _registry[photo_set.key] = photo_set


def registered() -> list[PhotoSetFilter]:
    return list(_registry.values())


def filter_keys() -> tuple[str, ...]:
    return tuple(_registry)


def parse(value: str | None) -> uuid.UUID | None:
    """A well-formed id, or None (a mangled value in a bookmark is ignored, never a 500)."""
    try:
        return uuid.UUID(str(value)[:64]) if value else None
    except ValueError:
        return None
