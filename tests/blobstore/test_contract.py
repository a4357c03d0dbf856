"""The blob store contract, held by both implementations: the local directory and an S3 store
on a real `weed server -s3` (no mocks). Each test works below a key prefix of its own, so the
shared bucket needs no emptying between tests."""

from __future__ import annotations

import os
import secrets

import pytest

from vault.blobstore import BlobMissing, check_key
from vault.blobstore.local import LocalStore
from vault.blobstore.s3 import FIRST_WINDOW, PART_BYTES, S3Store


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return LocalStore(tmp_path / "blobs")
    return request.getfixturevalue("seaweed").store()


@pytest.fixture
def prefix():
    """A user id of this test's own, as the first key segment."""
    return f"{secrets.randbelow(10**9) + 10**9}/"


def _put(store, key: str, data: bytes, head: bytes = b"") -> None:
    with store.writer(key) as writer:
        writer.write(data)
        writer.finish(head)


def test_written_object_reads_back_with_its_head_patched(store, prefix):
    key = prefix + "p1/original-0.spv"
    _put(store, key, b"\0" * 10 + b"body", head=b"HEADER")
    with store.reader(key) as reader:
        assert reader.size == 14
        assert reader.read_at(0, 100) == b"HEADER\0\0\0\0body"
    assert store.size(key) == 14 and store.exists(key)


def test_an_empty_object_is_an_object(store, prefix):
    key = prefix + "p1/thumb-0.spv"
    _put(store, key, b"")
    with store.reader(key) as reader:
        assert reader.size == 0
        assert reader.read_at(0, 10) == b""


def test_nothing_is_visible_before_finish_and_abort_leaves_nothing(store, prefix):
    key = prefix + "p2/original-0.spv"
    writer = store.writer(key)
    writer.write(os.urandom(PART_BYTES + 1000))  # past one part: a multipart upload on S3
    writer.write(os.urandom(PART_BYTES))
    assert not store.exists(key)
    assert list(store.list(prefix)) == []
    writer.abort()
    assert not store.exists(key)
    assert list(store.list(prefix)) == []
    if isinstance(store, S3Store):
        assert store.incomplete(prefix) == []


def test_an_exception_inside_with_aborts_and_keeps_the_earlier_object(store, prefix):
    key = prefix + "p3/preview-0.spv"
    _put(store, key, b"old version")
    with pytest.raises(RuntimeError), store.writer(key) as writer:
        writer.write(os.urandom(2 * PART_BYTES + 5))
        raise RuntimeError("the upload broke off")
    with store.reader(key) as reader:
        assert reader.read_at(0, 100) == b"old version"
    if isinstance(store, S3Store):
        assert store.incomplete(prefix) == []


def test_a_big_object_spans_several_parts_and_reads_back_at_every_boundary(store, prefix):
    key = prefix + "p4/original-0.spv"
    data = os.urandom(3 * PART_BYTES + 12345)
    with store.writer(key) as writer:
        view = memoryview(bytearray(data))
        for start in range(0, len(data), 1_000_003):  # pieces that straddle part boundaries
            writer.write(view[start : start + 1_000_003])
        writer.finish(b"H" * 192)
    expected = b"H" * 192 + data[192:]
    assert store.size(key) == len(expected)
    with store.reader(key) as reader:
        assert reader.size == len(expected)
        for boundary in (PART_BYTES, 2 * PART_BYTES, 3 * PART_BYTES, FIRST_WINDOW):
            assert reader.read_at(boundary - 7, 14) == expected[boundary - 7 : boundary + 7]
        assert reader.read_at(len(expected) - 3, 100) == expected[-3:]
        assert reader.read_at(len(expected), 5) == b""
        assert reader.read_at(0, 200) == expected[:200]
        whole = b"".join(
            reader.read_at(offset, 65_552) for offset in range(0, len(expected), 65_552)
        )
    assert whole == expected


def test_sequential_reads_take_few_requests_on_s3(seaweed, prefix):
    store = seaweed.store()
    key = prefix + "p5/original-0.spv"
    data = os.urandom(20 * 1024 * 1024)
    _put(store, key, data)
    with store.reader(key) as reader:
        assert b"".join(reader.read_at(o, 65_552) for o in range(0, len(data), 65_552)) == data
        # A growing read-ahead window: 20 MiB in 64 KiB reads is a handful of GETs, not 320.
        assert reader.gets <= 10
    small = prefix + "p5/thumb-0.spv"
    _put(store, small, os.urandom(30_000))
    with store.reader(small) as reader:
        reader.read_at(0, 64)
        reader.read_at(64, 29_936)
        assert reader.gets == 1  # its size came with the first ranged GET: no HEAD


def test_missing_objects_raise_blob_missing(store, prefix):
    key = prefix + "p6/original-0.spv"
    with pytest.raises(BlobMissing):
        store.reader(key)
    with pytest.raises(BlobMissing):
        store.size(key)
    with pytest.raises(FileNotFoundError):  # what callers already catch
        store.reader(key)
    assert not store.exists(key)
    store.delete(key)  # a missing object is fine to delete


def test_list_and_delete_prefix(store, prefix):
    keys = [
        prefix + "a/original-0.spv",
        prefix + "a/thumb-0.spv",
        prefix + "b/original-0.spv",
    ]
    for number, key in enumerate(keys):
        _put(store, key, b"x" * (number + 1))
    assert list(store.list(prefix)) == [(key, n + 1) for n, key in enumerate(keys)]
    assert list(store.list(prefix + "a/")) == [(keys[0], 1), (keys[1], 2)]
    assert list(store.list(prefix + "a/thumb")) == [(keys[1], 2)]
    assert store.delete_prefix(prefix + "a/") == 2
    assert list(store.list(prefix)) == [(keys[2], 3)]
    store.delete(keys[2])
    assert list(store.list(prefix)) == []
    assert store.delete_prefix(prefix) == 0


def test_remove_incomplete_discards_what_a_killed_writer_left(store, prefix):
    key = prefix + "p7/original-0.spv"
    writer = store.writer(key)
    writer.write(os.urandom(2 * PART_BYTES + 1))  # never finished nor aborted: "killed"
    assert store.remove_incomplete(prefix + "p7/") >= 1
    assert store.remove_incomplete(prefix + "p7/") == 0
    assert not store.exists(key)
    writer.abort()  # the abandoned writer's own cleanup finds nothing to do


@pytest.mark.parametrize(
    "key",
    [
        "../etc/passwd",
        "1/../../x.spv",
        "/1/p/original-0.spv",
        "1/p/.original-0.spv.abc.tmp",
        "1//original-0.spv",
        "1/p/holiday photo.jpg",
        "",
    ],
)
def test_keys_are_ids_only(store, key):
    with pytest.raises(ValueError):
        store.writer(key)
    with pytest.raises(ValueError):
        check_key(key)


def test_local_store_keeps_the_layout_vaults_have_always_had(tmp_path):
    store = LocalStore(tmp_path / "blobs")
    _put(store, "7/abc/original-0.spv", b"ciphertext")
    assert (tmp_path / "blobs/7/abc/original-0.spv").read_bytes() == b"ciphertext"
    assert [p.name for p in (tmp_path / "blobs/7/abc").iterdir()] == ["original-0.spv"]


def test_probe_reports_a_working_store(store):
    result = store.probe()
    assert result["ok"] and result["round_trip"] and result["error"] is None


def test_s3_refuses_wrong_credentials_and_says_so_without_the_secret(seaweed):
    wrong = "not-the-secret-" + secrets.token_hex(8)
    store = S3Store(
        endpoint=seaweed.endpoint,
        bucket=seaweed.bucket,
        access_key=seaweed.access_key,
        secret_key=wrong,
    )
    result = store.probe()
    assert not result["ok"] and result["reachable"] and not result["bucket"]
    assert wrong not in repr(result) and wrong not in repr(store)
    with pytest.raises(OSError) as failure:
        _put(store, "1/p/original-0.spv", b"x")
    assert wrong not in str(failure.value)
    assert not seaweed.store().exists("1/p/original-0.spv")


def test_s3_probe_reports_an_unreachable_server(seaweed):
    from vaultdev.services import free_ports

    [port] = free_ports(1)
    store = S3Store(
        endpoint=f"http://127.0.0.1:{port}",
        bucket="vault",
        access_key="a",
        secret_key="b",
        connect_timeout=1,
    )
    store.client.meta.config.retries = {"max_attempts": 1}
    result = store.probe()
    assert not result["ok"] and not result["reachable"] and result["error"]
