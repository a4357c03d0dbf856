"""A job enqueued by the web side runs in a real RQ worker process, on the real servers."""

import pytest
from django.core.management import call_command

from vault.health.models import QueueProbe
from vault.health.services import queue_probe_send
from vaultdev.pytest_plugin import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_worker_process_runs_the_job_and_writes_to_postgres(rq_worker):
    probe = queue_probe_send()
    assert probe.processed_at is None

    done = wait_until(
        lambda: QueueProbe.objects.filter(pk=probe.pk, processed_at__isnull=False).first()
    )

    # The row was written by the worker process, which names itself.
    assert done.worker_name
    assert rq_worker.process.poll() is None
    assert done.processed_at >= done.created_at


def test_selftest_command_reports_the_round_trip(rq_worker, capsys):
    call_command("vault_selftest", timeout=30)
    assert "ok:" in capsys.readouterr().out


def test_selftest_command_fails_without_a_worker(redis_conn, capsys):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no worker"):
        call_command("vault_selftest", timeout=1)
