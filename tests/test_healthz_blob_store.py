"""/healthz reports the blob store: reachable, bucket present, a probe object written, read back
and deleted; a stopped object store says so, and no credential ever shows."""

import time

import pytest

from tests.objectstore import s3_settings
from vaultdev.services import start_seaweed

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_weed():
    """A weed of this test's own: it is stopped half-way, which the run's shared one must not."""
    weed = start_seaweed(prefix="spv-weed-hz-")
    yield weed
    weed.stop()


def _blob_store(client):
    response = client.get("/healthz")
    return response.status_code, response.json()["blob_store"], response.content.decode()


def test_the_local_store_is_probed_too(client, settings, tmp_path):
    settings.VAULT_DATA_DIR = tmp_path / "data"
    (tmp_path / "data" / "blobs").mkdir(parents=True)
    _, check, _ = _blob_store(client)
    assert check["ok"] and check["kind"] == "local" and check["round_trip"]
    assert not (tmp_path / "data" / "blobs" / "probe").exists(), "the probe object was left"


@pytest.mark.slow  # its own weed
def test_the_object_store_is_reported_up_then_down_without_a_secret(client, settings, own_weed):
    s3_settings(settings, own_weed.store(), own_weed)
    _, check, body = _blob_store(client)
    assert check == {
        "ok": True,
        "kind": "s3",
        "reachable": True,
        "bucket": True,
        "round_trip": True,
        "error": None,
        "endpoint": own_weed.endpoint,
    }
    assert not list(own_weed.store().list("probe/")), "the probe object was left behind"

    settings.VAULT_S3_BUCKET = "no-such-bucket"
    status, check, body = _blob_store(client)
    assert status == 503 and not check["ok"]
    assert check["reachable"] and check["bucket"] is False

    own_weed.stop()
    settings.VAULT_S3_BUCKET = own_weed.bucket
    started = time.monotonic()
    status, check, body = _blob_store(client)
    # One attempt of at most S3Store.PROBE_TIMEOUT (2 s), not the normal client's retries
    # with backoff (~8 s): a generous bound, not a timing measurement.
    assert time.monotonic() - started < 5
    assert status == 503
    assert check["ok"] is False and check["reachable"] is False and check["round_trip"] is False
    assert "connect" in check["error"]
    for secret in (own_weed.secret_key, own_weed.access_key):
        assert secret not in body


def test_the_probe_makes_one_short_attempt_while_reads_keep_their_retries(settings):
    """A stopped object store is reported within the probe's timeout: its client tries once
    with a short timeout; the store's own client (reads and writes) still retries."""
    from vault.blobstore.s3 import S3Store

    store = S3Store(
        endpoint="http://127.0.0.1:9",  # nothing listens on the discard port
        bucket="vault",
        access_key="vault",
        secret_key="not-a-real-secret",
    )
    probe = store.probe_client().meta.config
    assert probe.retries["total_max_attempts"] == 1
    assert probe.connect_timeout == probe.read_timeout == S3Store.PROBE_TIMEOUT <= 5
    assert store.client.meta.config.retries["total_max_attempts"] > 1
    assert store.probe_client().meta.endpoint_url == store.endpoint
    result = store.probe()
    assert result["reachable"] is False and "connect" in result["error"]
