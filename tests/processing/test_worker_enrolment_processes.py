"""Enrolment with real worker processes: a worker holding the operator's enrolment secret is
granted photos and processes them end to end; one started with another secret is shown as not
enrolled by /healthz and is granted nothing."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.db import connection

from tests.photos import support
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.photos.models import Photo, ProcessingGrant
from vault.processing.worker_keys import live_worker_keys, worker_adverts
from vaultdev.pytest_plugin import WORKER_START_TIMEOUT, WorkerProcess, wait_until
from vaultdev.signin import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "the-operators-enrolment-secret-for-this-test-0123"


@pytest.fixture
def rogue_worker(vault_services, redis_conn, transactional_db):
    """A real VaultWorker that reaches the same Valkey and database but holds another secret."""
    worker = WorkerProcess(
        database_url=vault_services.database_url(connection.settings_dict["NAME"]),
        redis_url=vault_services.redis_url,
        VAULT_DATA_DIR=str(django_settings.VAULT_DATA_DIR),
        VAULT_WORKER_ENROLMENT_SECRET="a-guessed-secret-that-is-long-enough-0123456789",
        VAULT_WORKER_HOST="rogue-host",
    )
    worker.start()
    yield worker
    worker.stop()


def test_only_the_enrolled_worker_is_granted_and_it_processes_the_photo(
    client, owner, settings, tmp_path, start_worker, rogue_worker, redis_conn
):
    settings.VAULT_DATA_DIR = tmp_path / "data"
    settings.VAULT_WORKER_ENROLMENT_SECRET = SECRET.encode()
    wait_until(
        lambda: worker_adverts() or rogue_worker.process.poll() is not None,
        timeout=WORKER_START_TIMEOUT,
        interval=0.2,
    )
    [rogue] = worker_adverts()
    assert rogue.host == "rogue-host" and not rogue.enrolled

    worker = start_worker(
        VAULT_WORKER_ENROLMENT_SECRET=SECRET,
        VAULT_WORKER_HOST="worker-host-1",
    )
    [enrolled] = live_worker_keys()

    health = client.get("/healthz").json()["workers"]
    hosts = {row["host"]: row["enrolled"] for row in health["workers"]}
    assert hosts == {"rogue-host": False, "worker-host-1": True}
    assert health["processing_keys"] == 1 and health["unenrolled_keys"] == 1

    sign_in(client, owner, PASSWORD)
    [outcome] = upload(client, ("cat.jpg", support.real_photo_jpeg("chelsea.png")))
    photo_id = outcome["photo"]
    assert set(
        ProcessingGrant.objects.filter(photo_id=photo_id).values_list("worker_key_id", flat=True)
    ) == {enrolled}
    wait_until(lambda: Photo.objects.filter(pk=photo_id, state="ready").exists(), timeout=120)
    assert "animal" in set(Photo.objects.get(pk=photo_id).tags.values_list("label", flat=True))
    # The worker with the other secret says so in its log (the web published its check value).
    wait_until(lambda: "is not the web's" in rogue_worker.output(), timeout=60, interval=0.2)
    assert "is not the web's" not in worker.output()
    # The secret is in the worker's environment only: not in its log, nor in Valkey.
    assert SECRET not in worker.output()
    for name in redis_conn.scan_iter("*"):
        assert SECRET.encode() not in redis_conn.dump(name)
