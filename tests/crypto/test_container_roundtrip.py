"""SPV1 round trips: edge sizes, random sizes and write patterns, ranges, atomic writes."""

import io
import itertools
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.crypto.support import parsed_header, write_blob
from vault.crypto import BlobContext, DecryptionError, container
from vault.crypto import _layout as L
from vault.crypto.container import CHUNK, BlobReader, BlobWriter

EDGE_SIZES = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 17]


@pytest.mark.parametrize("size", EDGE_SIZES)
def test_round_trip_with_owner_key_and_data_key(tmp_path, owner, ctx, dk, size):
    sk, pk = owner
    data = os.urandom(size)
    path = tmp_path / "blob"
    assert (
        container.encrypt_file(
            io.BytesIO(data), path, owner_public_key=pk, context=ctx, data_key=dk
        )
        == size
    )
    assert path.stat().st_size == parsed_header(path.read_bytes()).file_size
    with BlobReader(path, context=ctx, private_key=sk) as reader:
        assert reader.plaintext_length == size
        assert reader.data_key == dk
        assert reader.read_all() == data
    with BlobReader(path, context=ctx, data_key=dk) as reader:
        assert b"".join(reader.iter_plaintext()) == data
    container.verify(path, context=ctx, private_key=sk, chunks=True)
    container.verify(path, context=ctx, data_key=dk)


def test_empty_plaintext_is_one_empty_final_chunk(tmp_path, owner, ctx, dk):
    path = write_blob(tmp_path / "b", b"", pk=owner[1], ctx=ctx, dk=dk)
    assert path.stat().st_size == 64 + 96 + 32 + 16


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=3 * CHUNK + 5) | st.integers(0, 4 * CHUNK).map(lambda n: b"\xa5" * n),
    cuts=st.lists(st.integers(0, 4 * CHUNK + 5), max_size=8),
)
def test_random_sizes_and_write_pieces(tmp_path, owner, ctx, dk, data, cuts):
    """The upload handler writes pieces of any size, including empty ones; the blob is the same."""
    sk, pk = owner
    bounds = sorted({0, len(data), *(c for c in cuts if c <= len(data))})
    path = tmp_path / "blob"
    with BlobWriter(path, owner_public_key=pk, context=ctx, data_key=dk) as writer:
        for lo, hi in itertools.pairwise(bounds):
            writer.write(data[lo:hi])
        writer.write(b"")
    assert writer.plaintext_length == len(data)
    with BlobReader(path, context=ctx, private_key=sk) as reader:
        assert reader.read_all() == data


@pytest.fixture(scope="module")
def ranged_blob(tmp_path_factory, owner):
    ctx = BlobContext("u", "p", "preview")
    dk = container.new_data_key()
    data = os.urandom(4 * CHUNK + 1234)
    path = write_blob(tmp_path_factory.mktemp("r") / "b", data, pk=owner[1], ctx=ctx, dk=dk)
    return path, ctx, dk, data


@settings(max_examples=60, deadline=None)
@given(a=st.integers(0, 4 * CHUNK + 1234), b=st.integers(0, 4 * CHUNK + 1234))
def test_range_reads_match_slices(ranged_blob, a, b):
    path, ctx, dk, data = ranged_blob
    start, end = min(a, b), max(a, b)
    with BlobReader(path, context=ctx, data_key=dk) as reader:
        assert b"".join(reader.iter_plaintext(start, end)) == data[start:end]


def test_range_read_decrypts_only_the_chunks_it_needs(ranged_blob, monkeypatch):
    path, ctx, dk, data = ranged_blob
    with BlobReader(path, context=ctx, data_key=dk) as reader:
        seen = []
        real = reader._chunk
        monkeypatch.setattr(reader, "_chunk", lambda i: seen.append(i) or real(i))
        assert (
            b"".join(reader.iter_plaintext(2 * CHUNK + 5, 3 * CHUNK + 1))
            == data[2 * CHUNK + 5 : 3 * CHUNK + 1]
        )
        assert seen == [2, 3]


def test_range_outside_blob_is_a_value_error(ranged_blob):
    path, ctx, dk, data = ranged_blob
    with BlobReader(path, context=ctx, data_key=dk) as reader:
        for start, end in [(-1, 5), (10, 5), (0, len(data) + 1)]:
            with pytest.raises(ValueError):
                list(reader.iter_plaintext(start, end))


def test_failed_write_leaves_nothing_behind(tmp_path, owner, ctx, dk):
    path = tmp_path / "blob"
    path.write_bytes(b"previous version")
    with (
        pytest.raises(RuntimeError),
        BlobWriter(path, owner_public_key=owner[1], context=ctx, data_key=dk) as writer,
    ):
        writer.write(os.urandom(3 * CHUNK))
        raise RuntimeError("client went away")
    assert path.read_bytes() == b"previous version"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob"]


def test_nothing_appears_before_close_and_temp_is_in_same_directory(tmp_path, owner, ctx, dk):
    path = tmp_path / "blob"
    writer = BlobWriter(path, owner_public_key=owner[1], context=ctx, data_key=dk)
    writer.write(b"x" * (CHUNK + 3))
    assert not path.exists()
    [temp] = list(tmp_path.iterdir())
    assert temp.name.startswith(".blob.")
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob"]
    with pytest.raises(ValueError):
        writer.write(b"late")


def test_reader_needs_exactly_one_key(tmp_path, owner, ctx, dk):
    path = write_blob(tmp_path / "b", b"x", pk=owner[1], ctx=ctx, dk=dk)
    with pytest.raises(ValueError):
        BlobReader(path, context=ctx)
    with pytest.raises(ValueError):
        BlobReader(path, context=ctx, private_key=owner[0], data_key=dk)


def test_same_plaintext_twice_gives_different_blobs(tmp_path, owner, ctx, dk):
    data = b"same photo bytes" * 5000
    a = write_blob(tmp_path / "a", data, pk=owner[1], ctx=ctx, dk=dk).read_bytes()
    b = write_blob(tmp_path / "b", data, pk=owner[1], ctx=ctx, dk=dk).read_bytes()
    assert a != b
    prefix = parsed_header(a).prefix_size
    assert a[prefix : prefix + 64] != b[prefix : prefix + 64]


def test_no_key_nonce_pair_repeats_across_blobs_of_one_photo(tmp_path, owner, dk):
    """Every blob of a photo shares DK; its payload key must still be unique per blob, and
    within a blob each chunk index (hence nonce) is used once."""
    pairs = set()
    used = 0
    for n in range(40):
        ctx = BlobContext("u", "p", ["original", "thumb", "preview", "face"][n % 4], n)
        blob = write_blob(tmp_path / f"b{n}", b"z" * (2 * CHUNK + 1), pk=owner[1], ctx=ctx, dk=dk)
        header = parsed_header(blob.read_bytes())
        k_pay = L.payload_key(dk, header.salt, header.blob_id)
        for i in range(header.chunk_count):
            pairs.add((k_pay, L.chunk_nonce(i, i == header.chunk_count - 1)))
            used += 1
    assert len(pairs) == used


def test_missing_file_is_an_os_error_not_a_decryption_error(tmp_path, owner, ctx):
    with pytest.raises(FileNotFoundError):
        BlobReader(tmp_path / "nope", context=ctx, private_key=owner[0])


def test_decryption_error_is_generic(tmp_path, owner, stranger, ctx, dk):
    path = write_blob(tmp_path / "b", b"x", pk=owner[1], ctx=ctx, dk=dk)
    with pytest.raises(DecryptionError) as info:
        BlobReader(path, context=ctx, private_key=stranger[0])
    assert str(info.value) == "decryption failed"
