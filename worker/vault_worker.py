"""The RQ worker class the vault runs (`manage.py rqworker --worker-class ...`).

It runs each job in its own process (RQ's SimpleWorker) instead of forking a work horse per
job: the models are loaded once, when the worker starts, and stay loaded for every job (a
model loaded inside a forked horse would be loaded again for every photo, and TensorFlow used in
a child forked after the parent loaded it can deadlock: tensorflow#51832, keras#9964). bench/
tagger.py measures both. Since no horse is watched while a job runs, a thread beats instead: it
renews the worker's heartbeat and its advertised key every VAULT_JOB_MONITORING_INTERVAL, so
the key lives as long as the process does and expires soon after it is killed (its grants then
go to the worker that replaces it). The key is withdrawn when the worker stops, and the worker
listens first to a queue of its own (jobs passed on to it by workers without the grant).
"""

from __future__ import annotations

import logging
import os
import threading
import time

from django.conf import settings
from django.db import close_old_connections
from rq import SimpleWorker
from rq.job import Job

from vault.processing import worker_keys
from vault.processing.queue import JOB_FUNCTIONS, JOB_TIMEOUT, SERIALIZER
from worker import identity
from worker.ai import loader

log = logging.getLogger(__name__)

# Seconds past a job's timeout before a worker whose job has not ended gives up and exits.
HUNG_MARGIN = 60


class RefusedJob(Exception):
    """A job on the queue names a function that is not one of the vault's jobs."""


class VaultJob(Job):
    """RQ's job, which imports and calls whatever dotted name the job's record in Valkey holds,
    restricted to the vault's job functions: whoever can write rq:* keys (every worker host)
    must not make another worker run os.system, say. Nor does it call the record's callbacks
    (dotted names too) or send its webhooks (HTTP requests to any URL): the vault's jobs have
    none."""

    def restore(self, raw_data):
        restored = super().restore(raw_data)
        self._success_callback_name = self._failure_callback_name = None
        self._stopped_callback_name = None
        self._success_callback = self._failure_callback = self._stopped_callback = None
        self.webhooks = []
        return restored

    @property
    def func(self):
        if self.func_name not in JOB_FUNCTIONS or self.instance is not None:
            raise RefusedJob(
                f"job {self.id} names {self.func_name!r}, not one of the vault's job functions: "
                "refused (something that can write to Valkey queued it)"
            )
        return super().func


class VaultWorker(SimpleWorker):
    def __init__(self, *args, **kwargs):
        # Whatever the command line says: jobs are JSON (a pickle runs code as it loads) and
        # only the vault's job functions run.
        kwargs["serializer"] = SERIALIZER
        kwargs["job_class"] = VaultJob
        super().__init__(*args, **kwargs)
        own = self.queue_class(
            name=worker_keys.queue_name(identity.current().key_id),
            connection=self.connection,
            job_class=self.job_class,
            serializer=self.serializer,
        )
        self.queues = [own, *self.queues]
        self._ordered_queues = self.queues[:]

    @property
    def beat_interval(self) -> int:
        return settings.VAULT_JOB_MONITORING_INTERVAL

    @property
    def key_ttl(self) -> int:
        # Renewed at every heartbeat: every dequeue timeout (worker_ttl - 15 s) while idle,
        # every beat_interval while a job runs.
        return max(self.worker_ttl, self.beat_interval + 10)

    def work(self, *args, **kwargs):
        preload_models()
        return super().work(*args, **kwargs)

    def heartbeat(self, timeout=None, pipeline=None):
        super().heartbeat(timeout, pipeline=pipeline)
        # Tagged with the enrolment secret: the web grants photos only to enrolled keys.
        worker_keys.advertise(
            identity.current().public_key,
            ttl=self.key_ttl,
            connection=self.connection,
            worker=self.name,
        )
        # What this process really runs, for /healthz (the cards say only what should run).
        worker_keys.advertise_models(
            self.name, loader.loaded_model_ids(), ttl=self.key_ttl, connection=self.connection
        )
        self._enrolment_report(worker_keys.enrolment_secret_matches(self.connection))

    def _enrolment_report(self, matches: bool | None) -> None:
        # Said once per change, not at every beat: the operator reads this in the worker's log.
        if matches is None or matches == getattr(self, "_enrolled", None):
            return
        self._enrolled = matches
        if matches:
            log.info("enrolment: this worker's VAULT_WORKER_ENROLMENT_SECRET is the web's")
        else:
            log.error(
                "enrolment: this worker's VAULT_WORKER_ENROLMENT_SECRET is not the web's: the "
                'web grants it no photos (/healthz shows it "enrolled": false). Give it the '
                "web's secret (VAULT_WORKER_ENROLMENT_SECRET_FILE) and restart it."
            )

    def execute_job(self, job, queue):
        # One process runs every job, so no request cycle renews its database connection:
        # drop a connection that died (PostgreSQL restarted) or aged out, as Django does
        # around each request.
        close_old_connections()
        stop = threading.Event()
        limit = (job.timeout or JOB_TIMEOUT) + HUNG_MARGIN
        beating = threading.Thread(
            target=self._beat_until, args=(stop, limit), name="vault-heartbeat", daemon=True
        )
        beating.start()
        try:
            super().execute_job(job, queue)
        finally:
            stop.set()
            beating.join()
            close_old_connections()

    def _beat_until(self, stop: threading.Event, limit: float) -> None:
        started = time.monotonic()
        while not stop.wait(self.beat_interval):
            if time.monotonic() - started > limit:
                # The job outlived its timeout: RQ's alarm cannot interrupt native code (a
                # TensorFlow call that hangs). Exit, so that the supervisor (systemd, make run)
                # starts a fresh worker, instead of beating on for a worker that does nothing.
                log.error("job still running %.0f s after it started; exiting", limit)
                os._exit(70)
            try:
                self.heartbeat(self.beat_interval + 60)
            except Exception:  # Valkey away for a moment: the next beat tries again
                log.warning("worker heartbeat failed", exc_info=True)

    def register_death(self):
        worker_keys.withdraw(identity.current().public_key, connection=self.connection)
        super().register_death()


def preload_models() -> None:
    """Load the active models before the first job, so that the first photo does not wait and
    a missing or mismatching model file is reported at start. Without a usable model the worker
    still runs (thumbnails need none); the steps that need it say so."""
    from worker import faces, tags

    tags.tagger_or_reason()
    faces.face_models_or_reason()
