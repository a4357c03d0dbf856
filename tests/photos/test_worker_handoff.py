"""Two real workers: one started after a photo was granted to the other takes its job from
the shared queue, and hands it to the worker that holds the grant through that worker's own
queue, so the photo is processed without waiting for its owner's next visit; and the same
for a job that brings a ready photo up to date."""

import pytest
from django.test import Client
from django.urls import reverse
from rq import Queue
from rq.registry import FinishedJobRegistry

from tests.photos import support
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.photos.models import Photo
from vault.processing.queue import SERIALIZER
from vault.processing.worker_keys import live_worker_keys, queue_name
from vaultdev.pytest_plugin import wait_until
from vaultdev.signin import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_job_taken_without_the_grant_reaches_the_worker_that_holds_it(
    owner, start_worker, redis_conn, tmp_path
):
    # The first worker is held in the middle of its job (after the thumbnails) until this test
    # lets it go, so it is busy when the second one starts and takes the next job.
    hold = tmp_path / "hold"
    hold.write_text("thumbnails")
    start_worker(VAULT_PIPELINE_HOLD_FILE=str(hold))
    [first_key] = live_worker_keys()
    client = Client()
    sign_in(client, owner, PASSWORD)
    [busy] = upload(client, ("busy.jpg", support.jpeg(support.picture(seed=1))))
    wait_until(lambda: Photo.objects.get(pk=busy["photo"]).progress > 0, timeout=120)
    [waiting] = upload(client, ("waiting.jpg", support.jpeg(support.picture(seed=2))))
    grants = Photo.objects.get(pk=waiting["photo"]).grants
    assert list(grants.values_list("worker_key_id", flat=True)) == [first_key]

    start_worker()  # idle: it takes the waiting photo's job from the shared queue first
    assert len(live_worker_keys()) == 2
    own_queue = Queue(queue_name(first_key), connection=redis_conn, serializer=SERIALIZER)
    # No page is visited meanwhile: nothing re-grants the photo. The second worker, which holds
    # no grant for it, passes the job on to the first worker's own queue.
    wait_until(lambda: own_queue.count == 1, timeout=120)
    assert Photo.objects.get(pk=busy["photo"]).state == "processing"  # still held
    hold.unlink()

    def both_ready():
        return set(Photo.objects.values_list("state", flat=True)) == {"ready"}

    wait_until(both_ready, timeout=120, interval=0.5)
    # RQ files a job as finished just after it returns (after the photo's commit): wait for it.
    finished = wait_until(lambda: FinishedJobRegistry(queue=own_queue).get_job_ids(), timeout=60)
    assert len(finished) == 1  # the hand-over went through the first worker's own queue
    assert own_queue.fetch_job(finished[0]).args == [waiting["photo"]]


def test_an_update_taken_without_the_grant_reaches_the_worker_that_holds_it(
    owner, start_worker, redis_conn, tmp_path
):
    """The same for a `photo_update` job (a ready photo brought up to date with the active
    tagger): it no longer waits 15 minutes for its grant to count as lost."""
    hold = tmp_path / "hold"
    start_worker(VAULT_PIPELINE_HOLD_FILE=str(hold))  # no hold file yet: it runs freely
    [first_key] = live_worker_keys()
    client = Client()
    sign_in(client, owner, PASSWORD)
    [old] = upload(client, ("old.jpg", support.jpeg(support.picture(seed=1))))
    wait_until(lambda: Photo.objects.get(pk=old["photo"]).state == "ready", timeout=120)
    tagger = Photo.objects.get(pk=old["photo"]).tagged_by
    assert tagger  # tagged by the active tagger
    # The first worker is held in the middle of another photo's job...
    hold.write_text("thumbnails")
    [busy] = upload(client, ("busy.jpg", support.jpeg(support.picture(seed=2))))
    wait_until(lambda: Photo.objects.get(pk=busy["photo"]).progress > 0, timeout=120)
    # ... when the owner's visit finds the old photo out of date and grants it to that worker.
    Photo.objects.filter(pk=old["photo"]).update(tagged_by="")
    client.get(reverse("photos:gallery"))
    grants = Photo.objects.get(pk=old["photo"]).grants
    assert list(grants.values_list("worker_key_id", flat=True)) == [first_key]

    start_worker()  # idle: it takes the update job from the shared queue, holding no grant
    own_queue = Queue(queue_name(first_key), connection=redis_conn, serializer=SERIALIZER)
    wait_until(lambda: own_queue.count == 1, timeout=120)
    hold.unlink()
    wait_until(lambda: Photo.objects.get(pk=old["photo"]).tagged_by == tagger, timeout=120)
    # RQ files the job as finished just after it returns (after the photo's commit): wait for it.
    [finished] = wait_until(lambda: FinishedJobRegistry(queue=own_queue).get_job_ids(), timeout=60)
    job = own_queue.fetch_job(finished)
    assert job.func_name == "worker.jobs.photo_update" and job.args == [old["photo"]]
