"""The one choke point for the job queue: its name, the job paths, their timeouts and
`enqueue()`. Job arguments are ids only: keys travel in grants, never through Redis.

QUEUE and JOB_TIMEOUT are the only place the queue's name and timeout are written: settings
(RQ_QUEUES), the throttle's connection, `make run`, the pytest plugin and the benchmarks read
them from here, and a test checks that the systemd worker unit agrees. So this module imports
django_rq and rq only inside its functions: settings.py imports it before Django is set up."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction

from vault.processing import worker_keys

if TYPE_CHECKING:
    from rq import Queue

QUEUE = "default"  # the shared queue every worker listens to (after its own)
JOB_TIMEOUT = 600  # seconds a job may run before RQ stops it
# How jobs are written to Valkey: JSON, never RQ's default pickle. Whoever can write rq:* keys
# (every worker host's ACL user) could otherwise plant a pickle that runs code in the worker
# that loads it. Job arguments are ids, which JSON carries (args come back as a list).
SERIALIZER = "rq.serializers.JSONSerializer"


class Job(StrEnum):
    """Dotted paths of the RQ job functions (worker/jobs.py)."""

    PHOTO_PROCESS = "worker.jobs.photo_process"
    PHOTO_UPDATE = "worker.jobs.photo_update"
    PEOPLE_CLUSTER = "worker.jobs.people_cluster"
    QUEUE_PROBE = "worker.jobs.queue_probe"


# The only functions a vault worker runs (worker.vault_worker.VaultJob refuses any other name).
JOB_FUNCTIONS = frozenset(job.value for job in Job)


def connection():
    """The Valkey/Redis connection of the queue (also the worker key registry's and the
    sign-in throttle's)."""
    import django_rq

    return django_rq.get_connection(QUEUE)


def shared_queue() -> Queue:
    import django_rq

    return django_rq.get_queue(QUEUE)


def enqueue(job: Job, *args, to_worker: str | None = None, **kwargs):
    """Queue `job(*args, **kwargs)` on the shared queue, or on the own queue of the worker with
    key id `to_worker` (a job passed on to the worker that holds the grant; dropped unstarted
    once the grant would have expired anyway)."""
    from rq import Queue

    if to_worker is None:
        return shared_queue().enqueue(job.value, *args, job_timeout=JOB_TIMEOUT, **kwargs)
    own = Queue(worker_keys.queue_name(to_worker), connection=connection(), serializer=SERIALIZER)
    return own.enqueue(
        job.value,
        *args,
        job_timeout=JOB_TIMEOUT,
        ttl=settings.VAULT_GRANT_LIFETIME,
        **kwargs,
    )


def enqueue_on_commit(job: Job, *args, robust: bool = True, **kwargs) -> None:
    """Enqueue once the current transaction commits. Robust by default: with Valkey down, what
    was committed waits (the owner's next visit enqueues it again); the request must not fail.
    `robust=False` lets the enqueue error reach the caller (the queue self-test reports it)."""
    transaction.on_commit(lambda: enqueue(job, *args, **kwargs), robust=robust)
