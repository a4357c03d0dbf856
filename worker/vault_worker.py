"""The RQ worker class the vault runs (`manage.py rqworker --worker-class ...`): an RQ Worker
that advertises its in-memory key with every heartbeat and withdraws it when it stops, and
listens first to a queue of its own (jobs passed on to it by workers without the grant)."""

from __future__ import annotations

from django.conf import settings
from rq import Worker

from vault.processing import worker_keys
from worker import identity


class VaultWorker(Worker):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("job_monitoring_interval", settings.VAULT_JOB_MONITORING_INTERVAL)
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
    def key_ttl(self) -> int:
        # Renewed at every heartbeat: every dequeue timeout (worker_ttl - 15 s) while idle,
        # every job monitoring interval while a job runs.
        return max(self.worker_ttl, self.job_monitoring_interval + 10)

    def heartbeat(self, timeout=None, pipeline=None):
        super().heartbeat(timeout, pipeline=pipeline)
        worker_keys.advertise(
            identity.current().public_key, ttl=self.key_ttl, connection=self.connection
        )

    def register_death(self):
        worker_keys.withdraw(identity.current().public_key, connection=self.connection)
        super().register_death()
