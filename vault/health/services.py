"""Services of the health app: the queue round trip used by `manage.py vault_selftest`."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from vault.health.models import QueueProbe
from vault.processing.queue import Job, enqueue_on_commit

log = logging.getLogger(__name__)


def queue_probe_send() -> QueueProbe:
    """Create a probe row and enqueue the worker job for it once the row is committed."""
    with transaction.atomic():
        probe = QueueProbe.objects.create()
        enqueue_on_commit(Job.QUEUE_PROBE, probe.pk, robust=False)
    return probe


def queue_probe_receive(*, probe_id: int, worker_name: str) -> bool:
    """Mark a probe as processed by a worker. Returns False when the probe is gone."""
    with transaction.atomic():
        probe = QueueProbe.objects.select_for_update().filter(pk=probe_id).first()
        if probe is None:
            log.info("queue probe %s no longer exists; nothing to do", probe_id)
            return False
        probe.processed_at = timezone.now()
        probe.worker_name = worker_name
        probe.save(update_fields=["processed_at", "worker_name"])
    return True
