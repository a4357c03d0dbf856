"""A real worker process killed (SIGKILL) in the middle of a job: its grant dies with its key,
the owner's next visit re-grants to the worker that replaced it, and the photo ends ready with
exactly one set of blobs and rows."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.photos import support
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.photos import storage
from vault.photos.models import Photo
from vault.processing.worker_keys import live_worker_keys
from vaultdev.pytest_plugin import wait_until
from vaultdev.signin import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_photo_is_ready_after_a_crash_and_a_retry_with_one_set_of_blobs(
    owner, start_worker, data_dir, tmp_path
):
    # Hold the job after its last step, so that the kill lands in the middle of it.
    hold = tmp_path / "hold"
    hold.write_text("motion rendition")  # the last step (worker.pipeline.STEPS)
    slow = start_worker(VAULT_PIPELINE_HOLD_FILE=str(hold))
    [first_key] = live_worker_keys()
    client = Client()
    sign_in(client, owner, PASSWORD)
    [outcome] = upload(client, ("crash.jpg", support.jpeg(support.picture(2400, 1800))))
    photo_id = outcome["photo"]

    # Thumbnails, tags, faces and the motion steps done, the job not finished: kill the worker.
    wait_until(lambda: Photo.objects.get(pk=photo_id).progress >= 80, timeout=120)
    slow.kill()
    hold.unlink()
    photo = Photo.objects.get(pk=photo_id)
    assert photo.state == "processing"
    assert photo.grants.get().worker_key_id == first_key

    start_worker()

    # The dead worker's key expires (its TTL is the worker TTL, 20 s in tests); until then its
    # grant still looks alive. Each status poll from the owner's page re-grants if it can.
    def ready():
        client.get(reverse("photos:status"), {"id": photo_id})
        return Photo.objects.get(pk=photo_id).state == "ready"

    wait_until(ready, timeout=180, interval=0.5)
    photo = Photo.objects.get(pk=photo_id)
    assert first_key not in live_worker_keys()
    assert not photo.grants.exists()
    assert photo.attempts == 2  # the killed run counts: a photo that kills every run is failed
    names = sorted(p.name for p in storage.photo_dir(owner.pk, photo.id).iterdir())
    assert names == ["original-0.spv", "preview-0.spv", "thumb-0.spv"]
    assert sorted(photo.blobs.values_list("variant", flat=True)) == ["original", "preview", "thumb"]
    assert client.get(reverse("photos:thumb", args=[photo_id])).status_code == 200
