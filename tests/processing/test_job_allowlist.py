"""Attack tests: anyone who can write to Valkey's rq:* keys (the `worker` ACL user, i.e. any
worker host) can put a job on the shared queue. A real VaultWorker must run only the vault's
job functions, and must never unpickle what it finds there: a pickle runs code as it loads."""

from __future__ import annotations

import http.server
import os
import threading

import pytest
from rq import Callback, Queue
from rq.serializers import DefaultSerializer
from rq.webhook import Webhook

from vault.processing.queue import QUEUE, Job, shared_queue
from vaultdev.pytest_plugin import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


class RemoveOnLoad:
    """Pickles to a call of os.remove(path): unpickling it removes the file."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.remove, (self.path,))


def _ended(redis_conn, job_id: str, worker) -> bool:
    status = redis_conn.hget(f"rq:job:{job_id}", "status")
    return status in (b"failed", b"finished") or worker.process.poll() is not None


def test_a_job_naming_a_function_outside_the_vaults_is_refused(rq_worker, redis_conn, tmp_path):
    canary = tmp_path / "canary"
    canary.write_text("still here")
    job = shared_queue().enqueue("os.remove", str(canary))
    wait_until(lambda: _ended(redis_conn, job.id, rq_worker), timeout=60, interval=0.1)

    assert canary.exists(), "the worker ran os.remove from a job anyone with Valkey can write"
    assert redis_conn.hget(f"rq:job:{job.id}", "status") == b"failed"
    assert rq_worker.process.poll() is None  # and it keeps serving
    assert "not one of the vault's job functions" in rq_worker.output()


def test_a_pickled_job_is_never_unpickled(rq_worker, redis_conn, tmp_path):
    canary = tmp_path / "canary"
    canary.write_text("still here")
    # A vault job name, but arguments that run code when unpickled.
    pickled = Queue(QUEUE, connection=redis_conn, serializer=DefaultSerializer)
    job = pickled.enqueue("worker.jobs.queue_probe", RemoveOnLoad(str(canary)))
    wait_until(lambda: _ended(redis_conn, job.id, rq_worker), timeout=60, interval=0.1)

    assert canary.exists(), "the worker unpickled a job's data: code ran as it loaded"
    assert redis_conn.hget(f"rq:job:{job.id}", "status") == b"failed"
    assert rq_worker.process.poll() is None


@pytest.fixture
def listener():
    """An HTTP server on loopback that records every request it gets."""
    seen = []

    class Record(http.server.BaseHTTPRequestHandler):
        def _record(self):
            seen.append(self.path)
            self.send_response(204)
            self.end_headers()

        do_GET = do_POST = _record

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Record)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()


def test_a_job_carrying_webhooks_or_callbacks_sends_and_calls_nothing(
    rq_worker, redis_conn, listener
):
    url, seen = listener
    hooks = [Webhook(f"{url}/{status}", status) for status in ("finished", "failed")]
    job = shared_queue().enqueue(
        Job.QUEUE_PROBE.value,
        0,
        webhooks=hooks,
        on_success=Callback("os.abort"),
        on_failure=Callback("os.abort"),
    )
    # One worker takes jobs in order: once the next job has ended, the first one's end (and
    # whatever it sends) is over.
    after = shared_queue().enqueue(Job.QUEUE_PROBE.value, 0)
    wait_until(lambda: _ended(redis_conn, after.id, rq_worker), timeout=60, interval=0.1)

    assert _ended(redis_conn, job.id, rq_worker)
    assert seen == [], "the worker sent a job's webhook: anyone with Valkey can aim it anywhere"
    assert rq_worker.process.poll() is None, "the worker called a job's callback (os.abort)"
