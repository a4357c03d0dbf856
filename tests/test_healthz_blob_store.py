"""/healthz reports the blob store: reachable, bucket present, a probe object written, read back
and deleted; a stopped object store says so, and no credential ever shows."""

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


@pytest.mark.slow  # its own weed, and boto3's retries against a stopped one: ~15 s
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
    status, check, body = _blob_store(client)
    assert status == 503
    assert check["ok"] is False and check["reachable"] is False and check["round_trip"] is False
    assert "connect" in check["error"]
    for secret in (own_weed.secret_key, own_weed.access_key):
        assert secret not in body
