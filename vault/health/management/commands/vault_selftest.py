"""Send a probe through the queue and wait until a worker has written it to the database."""

import time

from django.core.management.base import BaseCommand, CommandError

from vault.health.models import QueueProbe
from vault.health.services import queue_probe_send


class Command(BaseCommand):
    help = "Check that a worker picks up jobs and writes to the database (round trip)."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait")

    def handle(self, *args, timeout: float, **options):
        started = time.monotonic()
        probe = queue_probe_send()
        while time.monotonic() - started < timeout:
            probe = QueueProbe.objects.get(pk=probe.pk)
            if probe.processed_at:
                elapsed = time.monotonic() - started
                self.stdout.write(f"ok: {probe.worker_name} answered in {elapsed:.2f} s")
                return
            time.sleep(0.1)
        raise CommandError(f"no worker processed the probe within {timeout:.0f} s")
