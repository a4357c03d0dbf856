"""Tampered, truncated, spliced and misplaced SPV1 blobs: every one fails with DecryptionError."""

import dataclasses
import time
import tracemalloc

import pytest

from tests.crypto.support import parsed_header, patch_length, remac, write_blob
from vault.crypto import BlobContext, DecryptionError, container
from vault.crypto import _layout as L
from vault.crypto.container import CHUNK, BlobReader

SIZE = 3 * CHUNK + 1000  # three full chunks and a partial last one


@pytest.fixture
def blob(tmp_path, owner, ctx, dk):
    path = write_blob(tmp_path / "blob", bytes(range(256)) * (SIZE // 256) + b"!" * (SIZE % 256),
                      pk=owner[1], ctx=ctx, dk=dk)  # fmt: skip
    return path, path.read_bytes()


def opens_and_reads(path, ctx, *, private_key=None, data_key=None) -> bool:
    try:
        with BlobReader(path, context=ctx, private_key=private_key, data_key=data_key) as reader:
            reader.read_all()
    except DecryptionError:
        return False
    return True


def assert_rejected(path, ctx, owner, dk):
    assert not opens_and_reads(path, ctx, private_key=owner[0])
    assert not opens_and_reads(path, ctx, data_key=dk)


def chunk_span(raw: bytes, index: int) -> tuple[int, int]:
    header = parsed_header(raw)
    start = header.prefix_size + index * (CHUNK + L.TAG)
    return start, min(start + CHUNK + L.TAG, len(raw))


def test_untampered_blob_opens(blob, owner, ctx, dk):
    path, _ = blob
    assert opens_and_reads(path, ctx, private_key=owner[0])


def test_every_header_stanza_and_mac_byte_flipped(blob, owner, ctx, dk):
    path, raw = blob
    prefix = parsed_header(raw).prefix_size
    for offset in range(prefix):
        for mask in (0x01, 0x80, 0xFF):
            tampered = bytearray(raw)
            tampered[offset] ^= mask
            path.write_bytes(tampered)
            assert_rejected(path, ctx, owner, dk)


@pytest.mark.parametrize(
    ("offset", "value"),
    [(4, 2), (4, 0), (5, 2), (5, 0), (6, 17), (6, 12), (7, 0), (7, 2), (7, 255)],
    ids=["version2", "version0", "suite2", "suite0", "chunk17", "chunk12", "n0", "n2", "n255"],
)
def test_plausible_header_values_rejected(blob, owner, ctx, dk, offset, value):
    path, raw = blob
    tampered = bytearray(raw)
    tampered[offset] = value
    path.write_bytes(tampered)
    assert_rejected(path, ctx, owner, dk)


def test_bit_flipped_in_every_chunk_body_and_tag(blob, owner, ctx, dk):
    path, raw = blob
    for index in range(parsed_header(raw).chunk_count):
        start, end = chunk_span(raw, index)
        for offset in {start, min(start + 777, end - 1), end - L.TAG - 1, end - L.TAG, end - 1}:
            tampered = bytearray(raw)
            tampered[offset] ^= 0x04
            path.write_bytes(tampered)
            assert_rejected(path, ctx, owner, dk)
            # A range read touching only that chunk must fail too.
            with (
                BlobReader(path, context=ctx, data_key=dk) as reader,
                pytest.raises(DecryptionError),
            ):
                list(reader.iter_plaintext(index * CHUNK, index * CHUNK + 1))


def test_last_chunk_dropped(blob, owner, ctx, dk):
    path, raw = blob
    start, _ = chunk_span(raw, 3)
    path.write_bytes(raw[:start])
    assert_rejected(path, ctx, owner, dk)


def test_cut_mid_chunk(blob, owner, ctx, dk):
    path, raw = blob
    for cut in (chunk_span(raw, 1)[0] + 500, len(raw) - 1, parsed_header(raw).prefix_size, 63, 0):
        path.write_bytes(raw[:cut])
        assert_rejected(path, ctx, owner, dk)


def test_appended_chunk_or_bytes(blob, owner, ctx, dk):
    path, raw = blob
    start, end = chunk_span(raw, 1)
    for extra in (raw[start:end], b"\x00" * 16, b"\x00"):
        path.write_bytes(raw + extra)
        assert_rejected(path, ctx, owner, dk)


def test_truncation_with_length_patched(blob, owner, ctx, dk):
    path, raw = blob
    start, _ = chunk_span(raw, 3)
    path.write_bytes(patch_length(raw[:start], 3 * CHUNK))
    assert_rejected(path, ctx, owner, dk)


def test_truncation_caught_by_last_flag_even_with_a_valid_mac(blob, owner, ctx, dk):
    """Defence in depth: a DK holder who re-MACs a truncated header still fails on the last
    chunk, whose nonce was made without the last-chunk flag."""
    path, raw = blob
    start, _ = chunk_span(raw, 3)
    path.write_bytes(remac(patch_length(raw[:start], 3 * CHUNK), dk, ctx))
    with BlobReader(path, context=ctx, data_key=dk) as reader:  # header and MAC now pass
        assert list(reader.iter_plaintext(0, 2 * CHUNK))  # earlier chunks are intact
        with pytest.raises(DecryptionError):
            reader.read_all()


def test_appended_chunk_caught_by_last_flag_even_with_a_valid_mac(tmp_path, owner, ctx, dk):
    path = write_blob(tmp_path / "b", b"q" * (2 * CHUNK), pk=owner[1], ctx=ctx, dk=dk)
    raw = path.read_bytes()
    start, end = chunk_span(raw, 0)
    path.write_bytes(remac(patch_length(raw + raw[start:end], 3 * CHUNK), dk, ctx))
    with BlobReader(path, context=ctx, data_key=dk) as reader, pytest.raises(DecryptionError):
        reader.read_all()


def test_chunks_reordered_or_duplicated(blob, owner, ctx, dk):
    path, raw = blob
    (a0, a1), (b0, b1) = chunk_span(raw, 0), chunk_span(raw, 1)
    c0 = raw[a0:a1]
    c1 = raw[b0:b1]
    for body in (c1 + c0, c0 + c0, c1 + c1):
        path.write_bytes(raw[:a0] + body + raw[b1:])
        assert_rejected(path, ctx, owner, dk)


def test_header_spliced_onto_sibling_blob_body(tmp_path, owner, ctx, dk):
    """A sibling (same photo, same DK, same length) has another salt, so another payload key."""
    data = b"s" * (CHUNK + 10)
    mine = write_blob(tmp_path / "mine", data, pk=owner[1], ctx=ctx, dk=dk).read_bytes()
    sibling_ctx = dataclasses.replace(ctx, variant="preview")
    sibling = write_blob(tmp_path / "sib", data, pk=owner[1], ctx=sibling_ctx, dk=dk).read_bytes()
    prefix = parsed_header(mine).prefix_size
    spliced = tmp_path / "spliced"
    spliced.write_bytes(mine[:prefix] + sibling[prefix:])
    assert_rejected(spliced, ctx, owner, dk)
    spliced.write_bytes(sibling[:prefix] + mine[prefix:])
    assert_rejected(spliced, sibling_ctx, owner, dk)


@pytest.mark.parametrize(
    "change",
    [
        {"user_id": "other-user"},
        {"photo_id": "other-photo"},
        {"variant": "thumb"},
        {"variant": "face"},
        {"index": 1},
    ],
)
def test_blob_read_in_another_context(blob, owner, ctx, dk, change):
    path, _ = blob
    assert_rejected(path, dataclasses.replace(ctx, **change), owner, dk)
    with pytest.raises(DecryptionError):
        container.verify(path, context=dataclasses.replace(ctx, **change), data_key=dk)


def test_context_fields_cannot_be_shifted_between_each_other(tmp_path, owner, dk):
    ctx = BlobContext("ab", "c", "original")
    path = write_blob(tmp_path / "b", b"x", pk=owner[1], ctx=ctx, dk=dk)
    assert_rejected(path, BlobContext("a", "bc", "original"), owner, dk)


def test_wrong_private_key_or_data_key(blob, stranger, ctx):
    path, _ = blob
    assert not opens_and_reads(path, ctx, private_key=stranger[0])
    assert not opens_and_reads(path, ctx, data_key=container.new_data_key())


def test_stanza_wrapped_for_stranger_cannot_be_swapped_in(tmp_path, owner, stranger, ctx, dk):
    """The stranger's own stanza from their blob, pasted into ours, fails the MAC."""
    mine = write_blob(tmp_path / "m", b"x" * 100, pk=owner[1], ctx=ctx, dk=dk).read_bytes()
    theirs = write_blob(tmp_path / "t", b"x" * 100, pk=stranger[1], ctx=ctx, dk=dk).read_bytes()
    path = tmp_path / "swapped"
    path.write_bytes(mine[:64] + theirs[64:160] + mine[160:])
    assert not opens_and_reads(path, ctx, private_key=stranger[0])
    assert not opens_and_reads(path, ctx, private_key=owner[0])


@pytest.mark.parametrize(
    "length", [L.MAX_PLAINTEXT + 1, 2**63, 2**64 - 1], ids=["max+1", "2^63", "2^64-1"]
)
def test_oversized_length_rejected_without_allocating(blob, owner, ctx, dk, length):
    path, raw = blob
    path.write_bytes(patch_length(raw, length))
    tracemalloc.start()
    started = time.perf_counter()
    try:
        assert_rejected(path, ctx, owner, dk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 256 * 1024
    assert time.perf_counter() - started < 1


def test_plausible_but_wrong_length_fails_the_size_check_before_crypto(
    blob, owner, ctx, dk, monkeypatch
):
    path, raw = blob
    path.write_bytes(patch_length(raw, SIZE + 1))

    def no_crypto(*args, **kwargs):
        raise AssertionError("cryptography ran before the size check")

    monkeypatch.setattr(L, "header_mac", no_crypto)
    monkeypatch.setattr(container.hpke_wrap, "unwrap", no_crypto)
    with pytest.raises(DecryptionError):
        BlobReader(path, context=ctx, private_key=owner[0])


def test_not_a_blob_at_all(tmp_path, owner, ctx, dk):
    path = tmp_path / "plain.jpg"
    for content in (b"", b"\xff\xd8\xff\xe0" + b"\x00" * 500, b"\x89SPV" + b"\x00" * 300):
        path.write_bytes(content)
        assert_rejected(path, ctx, owner, dk)
