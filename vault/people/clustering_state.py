"""When the owner's faces are grouped into people (DESIGN §8): a clustering run needs the
owner's metadata key, so it is granted only while they are signed in — after a batch of photos
has been processed, on one of their visits — and the pages say when faces are waiting."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from vault.accounts.keyring import Keyring
from vault.people.models import ClusteringGrant, Face, PeopleState
from vault.photos.models import Photo
from vault.processing.grants.base import live_grants
from vault.processing.grants.clustering import clustering_grants_issue
from vault.processing.queue import Job, enqueue_on_commit

log = logging.getLogger(__name__)

# A run granted this long ago and still not done lost its job (a worker restarted): grant
# again. Longer than a job may run (queue.JOB_TIMEOUT).
RUN_LOST_AFTER = dt.timedelta(minutes=15)


def people_mark_changed(*, user) -> None:
    """Faces were found, or the owner changed people: a clustering run is due."""
    PeopleState.objects.update_or_create(
        owner=user, defaults={"needs_clustering": True, "changed_at": timezone.now()}
    )


def _batch_running(user) -> bool:
    return Photo.objects.filter(
        owner=user, state__in=[Photo.State.PENDING, Photo.State.PROCESSING]
    ).exists()


def people_refresh(*, user, keyring: Keyring, workers: dict[str, bytes]) -> bool:
    """Grant and queue a clustering run when one is due, no photo of the owner is still being
    processed (the run comes after the batch), and no run is already under way. Called on the
    owner's visits. Returns whether a run was queued."""
    if not workers:
        return False
    state = PeopleState.objects.filter(owner=user, needs_clustering=True).first()
    if state is None or _batch_running(user):
        return False
    now = timezone.now()
    with transaction.atomic():
        state = (
            PeopleState.objects.select_for_update()
            .filter(owner=user, needs_clustering=True)
            .first()
        )
        if state is None:
            return False
        live = live_grants(ClusteringGrant.objects.filter(owner=user), workers)
        if (
            state.requested_at is not None
            and state.requested_at > now - RUN_LOST_AFTER
            and live.exists()
        ):
            return False  # a run is queued or running
        if not clustering_grants_issue(
            user=user, metadata_key=keyring.metadata_key, workers=workers
        ):
            return False
        state.requested_at = now
        state.save(update_fields=["requested_at"])
        enqueue_on_commit(Job.PEOPLE_CLUSTER, int(user.pk))
    log.info("user %s: clustering run granted to %d worker(s)", user.pk, len(workers))
    return True


@dataclass(frozen=True)
class ClusteringStatus:
    waiting: bool  # faces wait to be grouped
    running: bool  # a run is granted and queued or under way
    unassigned: int  # clusterable faces in no person
    text: str  # what the pages say; "" when all is up to date


def clustering_status(*, user) -> ClusteringStatus:
    state = PeopleState.objects.filter(owner=user).first()
    unassigned = Face.objects.filter(
        owner=user, person=None, not_a_face=False, clusterable=True
    ).count()
    waiting = bool(state and state.needs_clustering)
    running = bool(
        waiting
        and state.requested_at is not None
        and state.requested_at > timezone.now() - RUN_LOST_AFTER
        and ClusteringGrant.objects.filter(owner=user, expires_at__gt=timezone.now()).exists()
    )
    if running:
        text = "Grouping faces into people…"
    elif waiting and _batch_running(user):
        text = "New faces will be grouped into people once your photos are processed."
    elif waiting:
        text = (
            "New faces wait to be grouped into people. This happens while you are signed in "
            "(the server cannot read faces without you); it starts on this visit when a "
            "worker is running."
        )
    else:
        text = ""
    return ClusteringStatus(waiting, running, unassigned, text)
