"""Counts over an owner's whole library (tag chips, the tagging and faces status), computed once
per change of the library and cached under the owner's key, instead of recounted over every
photo on each page view and poll.

A cached count is valid for one *library version*: the number and newest id of the owner's
LibraryChange rows, which database triggers write whenever a photo or tag the counts read
changes (migration 0009). Reading the version is one index lookup. The count of rows is part
of it because ids are taken before their transaction commits: a change committed after a later
one raises the count although it does not raise the newest id.

What is cached is counts and labels only (plaintext by design, DESIGN §4), keyed by the user's
id, the version and a hash of the filter query: never a name, an embedding or a place. The
cache is Django's (per process by default): each process computes a count once per version.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Max

from vault.photos.models import LibraryChange

log = logging.getLogger(__name__)

T = TypeVar("T")

# A safety net only: entries are found stale by their version long before this.
CACHE_SECONDS = 60 * 60


def library_version(*, user) -> str:
    """The owner's library version, "<changes>.<newest change id>" ("0.0" before any)."""
    row = LibraryChange.objects.filter(owner_id=user.pk).aggregate(n=Count("id"), last=Max("id"))
    return f"{row['n']}.{row['last'] or 0}"


def library_cached(*, user, name: str, parts: tuple, compute: Callable[[], T]) -> T:
    """`compute()` for this owner, `name` and `parts` (filters, model ids), cached until the
    owner's library changes. A cache that fails is logged and the value computed."""
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    key = f"spv:library:{user.pk}:{library_version(user=user)}:{name}:{digest}"
    try:
        value = cache.get(key)
    except Exception:
        log.warning("the count cache cannot be read", exc_info=True)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(key, value, CACHE_SECONDS)
        except Exception:
            log.warning("the count cache cannot be written", exc_info=True)
    return value


PRUNE_ABOVE = 200  # change rows per owner


def library_changes_prune(*, user) -> int:
    """When the owner's change log has grown past PRUNE_ABOVE rows, replace it by one fresh row
    (a new version: one recount, and no older version can come back). Called on the owner's
    visits, so the log stays short. Returns how many rows were deleted."""
    changes = LibraryChange.objects.filter(owner_id=user.pk)
    if changes.count() <= PRUNE_ABOVE:
        return 0
    with transaction.atomic():
        deleted, _ = changes.delete()
        LibraryChange.objects.create(owner_id=user.pk)
    return deleted
