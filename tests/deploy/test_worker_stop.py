"""systemd stops a worker with SIGTERM to its main process (KillMode=mixed): the job it is
running finishes, then the worker withdraws its key and exits 0 — no photo is left half done."""

import os
import signal

import pytest
from django.test import Client

from tests.photos import support
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.photos import storage
from vault.photos.models import Photo
from vault.processing.worker_keys import live_worker_keys
from vaultdev.pytest_plugin import wait_until
from vaultdev.signin import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_sigterm_in_the_middle_of_a_job_lets_the_job_finish(owner, start_worker, tmp_path):
    hold = tmp_path / "hold"
    hold.write_text("tags")  # the job waits after its tagging step while this file exists
    worker = start_worker(VAULT_PIPELINE_HOLD_FILE=str(hold))
    client = Client()
    sign_in(client, owner, PASSWORD)
    [outcome] = upload(client, ("stop.jpg", support.jpeg(support.picture(1600, 1200))))
    photo_id = outcome["photo"]
    wait_until(lambda: "held after tags" in worker.output(), timeout=120)

    os.kill(worker.process.pid, signal.SIGTERM)
    wait_until(lambda: "warm shut down requested" in worker.output(), timeout=30)
    # Still running its job, and still advertising its key while it does.
    assert worker.process.poll() is None
    assert Photo.objects.get(pk=photo_id).state == "processing"
    assert live_worker_keys()

    hold.unlink()
    assert worker.process.wait(timeout=60) == 0
    photo = Photo.objects.get(pk=photo_id)
    assert photo.state == "ready" and not photo.grants.exists()
    names = sorted(p.name for p in storage.photo_dir(owner.pk, photo.id).iterdir())
    assert names == ["original-0.spv", "preview-0.spv", "thumb-0.spv"]
    assert live_worker_keys() == {}  # the key went with the worker
