"""/healthz tells the operator whether the database, queue, workers and model files are fine."""

import json
from datetime import UTC

import pytest

from vault.health.checks import REQUIRED_TASKS
from vault.processing.queue import QUEUE
from vaultdev.pytest_plugin import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _health(client):
    response = client.get("/healthz")
    return response.status_code, response.json()


def test_200_with_a_live_worker_then_503_when_it_is_gone(client, rq_worker):
    status, body = wait_until(lambda: (r := _health(client))[0] == 200 and r)
    assert body["ok"] is True
    assert body["database"]["ok"] and body["queue"]["ok"]
    [worker] = body["workers"]["workers"]
    assert worker["alive"] and worker["heartbeat_age_s"] < 45
    assert body["workers"]["processing_keys"] == 1  # the worker's key can be granted photos

    rq_worker.stop()

    status, body = _health(client)
    assert status == 503
    assert body["ok"] is False
    # A stopped worker withdraws its key as it goes.
    assert body["workers"] == {"ok": False, "alive": 0, "processing_keys": 0, "workers": []}
    assert body["database"]["ok"] and body["queue"]["ok"]


def test_503_when_no_worker_ever_started(client, redis_conn):
    status, body = _health(client)
    assert status == 503
    assert body["workers"]["alive"] == 0


def test_a_stale_heartbeat_is_not_a_live_worker(redis_conn):
    """A worker killed by SIGKILL leaves its key behind until it expires; its age tells."""
    from datetime import datetime, timedelta

    from rq import Queue

    from vault.health.selectors import workers_check
    from worker.vault_worker import VaultWorker

    worker = VaultWorker([Queue(QUEUE, connection=redis_conn)], connection=redis_conn)
    worker.register_birth()
    worker.heartbeat()
    assert workers_check().ok
    later = datetime.now(UTC) + timedelta(minutes=5)
    check = workers_check(now=later)
    assert not check.ok and check.detail["workers"][0]["alive"] is False


def test_model_file_with_wrong_checksum_is_reported(client, rq_worker, settings, tmp_path):
    import shutil

    models = tmp_path / "models"
    shutil.copytree(settings.VAULT_MODELS_DIR, models)
    settings.VAULT_MODELS_DIR = models
    [card] = models.glob("tagger-*.json")
    model = models / json.loads(card.read_text())["file"]

    status, body = wait_until(lambda: (r := _health(client))[0] == 200 and r)
    assert body["models"]["tagger"]["ok"] is True
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit flipped
    model.write_bytes(bytes(data))

    status, body = _health(client)
    assert status == 503
    [row] = [row for row in body["models"]["files"] if row["card"] == card.name]
    assert row["ok"] is False
    assert all(other["ok"] for other in body["models"]["files"] if other is not row)
    assert "does not match its card" in row["error"]
    assert body["models"]["tagger"]["ok"] is False  # the workers will tag nothing, and say so


def test_a_live_worker_without_a_processing_key_is_reported(client, redis_conn):
    """A plain RQ worker (not the vault's class) would run jobs but could be granted nothing."""
    from rq import Queue, Worker

    worker = Worker([Queue(QUEUE, connection=redis_conn)], connection=redis_conn)
    worker.register_birth()
    worker.heartbeat()
    status, body = _health(client)
    assert status == 503
    assert body["workers"]["alive"] == 1 and body["workers"]["processing_keys"] == 0
    assert "VaultWorker" in body["workers"]["error"]


def test_each_worker_shows_the_models_it_has_loaded(client, rq_worker):
    """Beside the cards (what should run), what each worker process really loaded, as it
    publishes with its heartbeat: here the active model of every task."""
    _status, body = wait_until(lambda: (r := _health(client))[0] == 200 and r)
    [worker] = body["workers"]["workers"]
    assert worker["loaded_models"] == {
        task: [body["models"][task]["model"]] for task in REQUIRED_TASKS
    }
