"""The owner-visit work (re-grants, bringing photos up to date, a due clustering run: see
scheduling.owner_visit_work), done once per visit rather than on every gallery page, "load more"
fragment and status poll.

The work runs again for an owner only when it may have something new to do:
- the live workers changed (one died or started: its photos need fresh grants), or the active
  models did (photos to bring up to date);
- VISIT_EVERY has passed (a job lost by the queue is re-queued);
- the library changed (a photo added, processed, tagged: see library_counts) and none of the
  owner's photos is granted to a worker any more: the batch it granted last time is done, so
  the next batch can be granted, or a clustering run started. While a batch is in the
  workers' hands, polls skip the work.
So a gallery at rest costs a few cheap lookups per request.

The mark is kept in Django's cache under the owner's id: hashes of worker key ids and model
ids, the library version and a time; nothing else.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.core.cache import cache

from vault.accounts.keyring import Keyring
from vault.photos import library_counts, scheduling
from vault.photos.models import ProcessingGrant
from vault.photos.seen_by import active_faces_id, active_tagger_id
from vault.processing.grants.base import live_grants, live_workers

log = logging.getLogger(__name__)

# Longer than a page view, shorter than scheduling.REQUEUE_AFTER (15 minutes), after which a
# photo whose job was lost is queued again.
VISIT_EVERY = 5 * 60  # seconds


def _static_mark(workers: dict[str, bytes]) -> str:
    parts = (sorted(workers), active_tagger_id()[0], active_faces_id()[0])
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _due(*, user, workers: dict[str, bytes], last, static: str, version: str) -> bool:
    if last is None:
        return True
    last_static, last_version, last_time = last
    if last_static != static or time.time() - last_time >= VISIT_EVERY:
        return True
    if last_version == version:
        return False
    # Grants to dead keys linger until replaced: only a live worker's grant means "busy".
    return not live_grants(ProcessingGrant.objects.filter(photo__owner=user), workers).exists()


def owner_visit(*, user, keyring: Keyring) -> bool:
    """Run the owner-visit work if it is due (see the module docstring). Returns whether it
    ran. Never raises for a cache problem: the work then runs."""
    workers = live_workers()
    key = f"spv:visit:{user.pk}"
    static = _static_mark(workers)
    try:
        last = cache.get(key)
    except Exception:
        log.warning("the visit mark cannot be read", exc_info=True)
        last = None
    if not _due(
        user=user,
        workers=workers,
        last=last,
        static=static,
        version=library_counts.library_version(user=user),
    ):
        return False
    scheduling.owner_visit_work(user=user, keyring=keyring)
    library_counts.library_changes_prune(user=user)
    # The version after the work: its own changes (photos set pending) are no reason to run it
    # again on the next request.
    mark = (static, library_counts.library_version(user=user), time.time())
    try:
        cache.set(key, mark, VISIT_EVERY)
    except Exception:
        log.warning("the visit mark cannot be written", exc_info=True)
    return True
