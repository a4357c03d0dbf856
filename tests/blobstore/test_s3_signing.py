"""What the S3 store signs. Over TLS (production) SigV4 signs every request's headers but not a
hash of the body (TLS protects it on the wire, the SPV1 tags authenticate every byte); over
plain HTTP the body stays signed. Either way a wrong credential gets nothing in."""

from __future__ import annotations

import hashlib
import os

import pytest

from tests.objectstore import s3_bucket  # noqa: F401 - a fixture
from vault.blobstore.base import BlobMissing, StoreError
from vault.blobstore.s3 import S3Store


@pytest.fixture(scope="module")
def tls_seaweed(tmp_path_factory):
    """A `weed server -s3` whose gateway speaks HTTPS only, with a certificate of a test CA."""
    from vaultdev.services import start_seaweed
    from vaultdev.tls import CertificateAuthority

    ca = CertificateAuthority(tmp_path_factory.mktemp("s3-ca"))
    server = start_seaweed(
        tls=ca.server_certificate("weed", hosts=["127.0.0.1"]), ca_file=ca.cert_file
    )
    yield server
    server.stop()


def _sent_headers(store: S3Store) -> list[dict[str, str]]:
    """Headers of every request the store sends from now on (as they go on the wire)."""
    sent: list[dict[str, str]] = []

    def record(request, **_kwargs):
        sent.append(
            {
                key.lower(): value.decode() if isinstance(value, bytes) else value
                for key, value in request.headers.items()
            }
        )

    store.client.meta.events.register("before-send.s3", record)
    return sent


def _write(store: S3Store, key: str, data: bytes, head: bytes) -> None:
    with store.writer(key) as writer:
        for offset in range(0, len(data), 1 << 16):
            writer.write(data[offset : offset + (1 << 16)])
        writer.finish(head)


def test_over_tls_an_upload_is_signed_without_hashing_its_body(tls_seaweed):
    store = tls_seaweed.store()
    assert store.endpoint.startswith("https://")
    sent = _sent_headers(store)
    data = os.urandom(3_000_000)
    _write(store, "u/p/original-0.spv", data, b"SPV1")

    (put,) = sent
    assert put["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert put["authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert "x-amz-content-sha256" in put["authorization"]  # the marker itself is signed
    assert "expect" not in put  # no 100-continue round trip before the body
    with store.reader("u/p/original-0.spv") as reader:
        assert reader.read_at(0, reader.size) == b"SPV1" + data[4:]


def test_over_tls_a_wrong_secret_writes_and_reads_nothing(tls_seaweed):
    good = tls_seaweed.store()
    _write(good, "w/p/thumb-0.spv", b"x" * 1000, b"")
    wrong = S3Store(
        endpoint=tls_seaweed.endpoint,
        bucket=tls_seaweed.bucket,
        access_key=tls_seaweed.access_key,
        secret_key=tls_seaweed.secret_key[::-1],
        ca_file=str(tls_seaweed.ca_file),
    )
    with pytest.raises(StoreError) as refused:
        _write(wrong, "w/p/original-0.spv", b"forged" * 1000, b"")
    assert tls_seaweed.secret_key not in str(refused.value)
    with pytest.raises(BlobMissing):
        good.size("w/p/original-0.spv")
    with pytest.raises(StoreError):
        wrong.reader("w/p/thumb-0.spv")


def test_over_tls_an_untrusted_certificate_is_refused(tls_seaweed):
    store = S3Store(
        endpoint=tls_seaweed.endpoint,
        bucket=tls_seaweed.bucket,
        access_key=tls_seaweed.access_key,
        secret_key=tls_seaweed.secret_key,
    )  # the system's CAs only: the test CA is not among them
    with pytest.raises(StoreError):
        _write(store, "c/p/original-0.spv", b"x" * 1000, b"")


def test_over_plain_http_the_body_stays_signed(request):
    store = request.getfixturevalue("s3_bucket")
    assert store.endpoint.startswith("http://")
    sent = _sent_headers(store)
    data = os.urandom(200_000)
    _write(store, "u/p/original-0.spv", data, b"SPV1")

    (put,) = sent
    assert put["x-amz-content-sha256"] == hashlib.sha256(b"SPV1" + data[4:]).hexdigest()
    assert "expect" not in put
