"""The owner-visit work (re-grants, bringing photos up to date, a due clustering run: see
granting.photos_regrant), done once per visit rather than on every gallery page, "load more"
fragment and status poll.

The work runs again only when something it depends on has changed since it last ran for this
owner: the live workers (one died or started: its photos need fresh grants), the active models
(photos to bring up to date), the library (a photo added, processed, tagged: see
library_counts), or VISIT_EVERY has passed (a job lost by the queue is re-queued). So a gallery
at rest costs two cheap lookups per request, and a library being processed keeps being granted
while its owner watches, as before.

The mark is kept in Django's cache under the owner's id: worker key ids, model ids and the
library version, hashed; nothing else.
"""

from __future__ import annotations

import hashlib
import logging
import time

from django.core.cache import cache

from vault.accounts.keyring import Keyring
from vault.photos import granting, library_counts
from vault.photos.tag_status import active_faces_id, active_tagger_id

log = logging.getLogger(__name__)

# Longer than a page view, shorter than granting.REQUEUE_AFTER (15 minutes), after which a
# photo whose job was lost is queued again.
VISIT_EVERY = 5 * 60  # seconds


def _mark(*, user, workers: dict[str, bytes]) -> str:
    parts = (
        sorted(workers),
        active_tagger_id()[0],
        active_faces_id()[0],
        library_counts.library_version(user=user),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def owner_visit(*, user, keyring: Keyring) -> bool:
    """Run the owner-visit work if it is due (see the module docstring). Returns whether it
    ran. Never raises for a cache problem: the work then runs."""
    workers = granting.live_workers()
    key = f"spv:visit:{user.pk}"
    mark = _mark(user=user, workers=workers)
    try:
        last = cache.get(key)
    except Exception:
        log.warning("the visit mark cannot be read", exc_info=True)
        last = None
    if last is not None and last[0] == mark and time.time() - last[1] < VISIT_EVERY:
        return False
    granting.photos_regrant(user=user, keyring=keyring)
    library_counts.library_changes_prune(user=user)
    try:
        # The mark after the work: its own changes (photos set pending) are then not a reason
        # to run it again on the next request.
        cache.set(key, (_mark(user=user, workers=workers), time.time()), VISIT_EVERY)
    except Exception:
        log.warning("the visit mark cannot be written", exc_info=True)
    return True
