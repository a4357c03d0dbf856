"""Two real workers: one started after a photo was granted to the other takes its job from
the shared queue, and hands it to the worker that holds the grant through that worker's own
queue, so the photo is processed without waiting for its owner's next visit."""

import pytest
from django.test import Client
from rq import Queue
from rq.registry import FinishedJobRegistry

from tests.photos import support
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.accounts.testing import sign_in
from vault.photos.models import Photo
from vault.processing.worker_keys import live_worker_keys, queue_name
from vaultdev.pytest_plugin import wait_until

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
    own_queue = Queue(queue_name(first_key), connection=redis_conn)
    # No page is visited meanwhile: nothing re-grants the photo. The second worker, which holds
    # no grant for it, passes the job on to the first worker's own queue.
    wait_until(lambda: own_queue.count == 1, timeout=120)
    assert Photo.objects.get(pk=busy["photo"]).state == "processing"  # still held
    hold.unlink()

    def both_ready():
        return set(Photo.objects.values_list("state", flat=True)) == {"ready"}

    wait_until(both_ready, timeout=120, interval=0.5)
    finished = FinishedJobRegistry(queue=own_queue).get_job_ids()
    assert len(finished) == 1  # the hand-over went through the first worker's own queue
    assert own_queue.fetch_job(finished[0]).args == (waiting["photo"],)
