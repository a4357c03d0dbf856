"""Fuzzing the SPV1 reader: a mutated blob never decrypts, and the reader fails closed.

Valid blobs come from the real writer (with seeded randomness, so every run fuzzes the same
bytes). Hypothesis stacks one to three mutations on one of them — byte flips, insertions,
deletions, truncations, extensions, copies of one region over or into another, edits of the
header fields (magic, version, suite, chunk_log2, n_stanzas, the u64 plaintext length) and a
"fit" that resizes the file to whatever size the edited header claims, so the mutation gets past
the exact-size check. Every public entry point then reads it: `inspect`, `BlobReader` with the
owner's private key and with the data key, `read_all`, `iter_plaintext` over ranges,
`verify_chunks` and `verify`. Asserted for every example:

* the only exception that escapes is DecryptionError;
* memory stays bounded (tracemalloc peak), whatever length the header claims;
* nothing unauthentic comes out: a blob whose prefix (header, stanzas, MAC) changed never opens,
  `read_all` and a full `verify` never succeed, and a range read succeeds only when it touches
  none of the changed chunks — by design, range reads decrypt only the chunks they need — and
  then yields exactly the original bytes.

The second test re-MACs the mutated header with DK, as only a holder of DK could: that gets
forged lengths and stanza counts past the MAC into the chunk logic, where the claim is weaker but
still total — whatever comes out is the original plaintext, at its original position.

The chunk size is fixed by the format (chunk_log2 = 16, checked by the reader), so the base blobs
are small rather than finely chunked: empty, 37 bytes, one full chunk, and three chunks.
"""

import contextlib
import struct
import tempfile
import tracemalloc
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from tests.crypto.support import DeterministicRng, deterministic_wrap, fixed, pattern, remac
from tests.crypto.support import write_blob as _write_blob
from vault.crypto import BlobContext, DecryptionError, container, keys
from vault.crypto import _layout as L
from vault.crypto.container import CHUNK, BlobReader

SK = fixed("fuzz owner sk")
PK = keys.public_from_private(SK)
CTX = BlobContext(user_id="fuzz-user", photo_id="fuzz-photo", variant="preview", index=2)
SIZES = (0, 37, CHUNK, 2 * CHUNK + 5)
PREFIX = L.HEADER.size + L.STANZA.size + L.MAC_BYTES  # one owner stanza, as the writer makes
PEAK_LIMIT = 4 * 1024 * 1024  # the largest honest read here is ~0.5 MiB of plaintext and joins
FUZZ = settings(
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@dataclass(frozen=True)
class Base:
    blob: bytes
    plaintext: bytes
    dk: bytes


@cache
def base(index: int) -> Base:
    size = SIZES[index]
    dk = fixed(f"fuzz dk {size}")
    with tempfile.TemporaryDirectory() as d:
        path = _write_blob(
            Path(d) / "b",
            pattern(size),
            pk=PK,
            ctx=CTX,
            dk=dk,
            rng=DeterministicRng(f"fuzz blob {size}"),
            _wrap=deterministic_wrap(f"fuzz blob eph {size}"),
        )
        return Base(path.read_bytes(), pattern(size), dk)


def file_size(plaintext_length: int) -> int:
    return PREFIX + plaintext_length + L.TAG * L.chunk_count(plaintext_length)


# -- mutations: offsets are taken modulo the current length, so any stack applies to any blob --


@dataclass(frozen=True)
class Flip:
    offset: int
    mask: int  # 1..255

    def apply(self, b: bytes) -> bytes:
        if not b:
            return b
        i = self.offset % len(b)
        return b[:i] + bytes([b[i] ^ self.mask]) + b[i + 1 :]


@dataclass(frozen=True)
class Insert:
    offset: int
    data: bytes

    def apply(self, b: bytes) -> bytes:
        i = self.offset % (len(b) + 1)
        return b[:i] + self.data + b[i:]


@dataclass(frozen=True)
class Delete:
    offset: int
    length: int

    def apply(self, b: bytes) -> bytes:
        i = self.offset % (len(b) + 1)
        return b[:i] + b[i + self.length :]


@dataclass(frozen=True)
class Truncate:
    keep: int

    def apply(self, b: bytes) -> bytes:
        return b[: self.keep % len(b)] if b else b


@dataclass(frozen=True)
class Extend:
    data: bytes

    def apply(self, b: bytes) -> bytes:
        return b + self.data


@dataclass(frozen=True)
class Copy:
    """Copy b[src:src+length] over (or, with insert, into) the bytes at dst: spliced,
    duplicated and reordered chunks, tags and stanzas."""

    src: int
    dst: int
    length: int
    insert: bool

    def apply(self, b: bytes) -> bytes:
        s, d = self.src % (len(b) + 1), self.dst % (len(b) + 1)
        piece = b[s : s + self.length]
        return b[:d] + piece + b[d + (0 if self.insert else len(piece)) :]


FIELDS = {
    "magic": (0, ">4s"),
    "version": (4, ">B"),
    "suite": (5, ">B"),
    "chunk_log2": (6, ">B"),
    "n_stanzas": (7, ">B"),
    "length": (8, ">Q"),
}


@dataclass(frozen=True)
class SetField:
    name: str
    value: int | bytes

    def apply(self, b: bytes) -> bytes:
        offset, fmt = FIELDS[self.name]
        end = offset + struct.calcsize(fmt)
        if len(b) < end:
            return b
        return b[:offset] + struct.pack(fmt, self.value) + b[end:]


@dataclass(frozen=True)
class Fit:
    """Cut or pad (by repeating the body, else zeros) to the size the header now claims."""

    def apply(self, b: bytes) -> bytes:
        if len(b) < L.HEADER.size:
            return b
        n_stanzas, length = struct.unpack_from(">BQ", b, 7)
        claimed = L.Header(n_stanzas, length, b"", b"").file_size
        if claimed > len(b) + 4 * CHUNK:  # a claim this far off is only a size-check test
            return b
        if claimed <= len(b):
            return b[:claimed]
        pad = claimed - len(b)
        body = b[PREFIX:] or b"\x00"
        return b + (body * (pad // len(body) + 1))[:pad]


Mutation = Flip | Insert | Delete | Truncate | Extend | Copy | SetField | Fit


def apply_all(blob: bytes, mutations: list[Mutation]) -> bytes:
    for m in mutations:
        blob = m.apply(blob)
    return blob


def offsets(n: int) -> st.SearchStrategy[int]:
    """Biased to the prefix and to the chunk and tag boundaries, where parsers go wrong."""
    marks = [0, L.HEADER.size, PREFIX - L.MAC_BYTES, PREFIX, n]
    marks += [PREFIX + k * (CHUNK + L.TAG) - d for k in (1, 2, 3) for d in (0, L.TAG)]
    return st.one_of(
        st.integers(0, PREFIX + 48),
        st.builds(lambda m, d: max(0, m + d), st.sampled_from(marks), st.integers(-24, 24)),
        st.integers(0, n),
    )


LENGTHS = st.one_of(
    st.sampled_from(
        [
            0,
            1,
            36,
            37,
            38,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK,
            2 * CHUNK + 5,
            3 * CHUNK,
            L.MAX_PLAINTEXT,
            L.MAX_PLAINTEXT + 1,
            2**63 - 1,
            2**63,
            2**64 - 1,
        ]
    ),
    st.integers(0, 4 * CHUNK),
    st.integers(0, 2**64 - 1),
)
BYTE_FIELD = st.one_of(st.sampled_from([0, 1, 2, 15, 16, 17, 8, 9, 255]), st.integers(0, 255))
FIELD_EDITS = st.one_of(
    st.builds(SetField, st.just("length"), LENGTHS),
    st.builds(
        SetField, st.sampled_from(["version", "suite", "chunk_log2", "n_stanzas"]), BYTE_FIELD
    ),
    st.builds(SetField, st.just("magic"), st.binary(min_size=4, max_size=4) | st.just(b"\x89SPU")),
)
SOME_BYTES = st.binary(min_size=1, max_size=64) | st.sampled_from(
    [bytes(L.TAG), bytes(L.STANZA.size), bytes(L.TAG + 1)]
)


def mutations(n: int) -> st.SearchStrategy[Mutation]:
    off = offsets(n)
    span = st.integers(1, 80) | st.sampled_from([L.TAG, L.STANZA.size, L.MAC_BYTES, CHUNK + L.TAG])
    return st.one_of(
        st.builds(Flip, off, st.integers(1, 255)),
        st.builds(Insert, off, SOME_BYTES),
        st.builds(Delete, off, span),
        st.builds(Truncate, st.integers(0, n - 1) | off),
        st.builds(Extend, SOME_BYTES),
        st.builds(Copy, off, off, span, st.booleans()),
        FIELD_EDITS,
        st.just(Fit()),
    )


@st.composite
def cases(draw) -> tuple[int, list[Mutation], list[tuple[int, int]]]:
    index = draw(st.integers(0, len(SIZES) - 1))
    n = file_size(SIZES[index])
    stack = draw(st.lists(mutations(n), min_size=1, max_size=3))
    bound = st.integers(0, 3 * CHUNK)
    ranges = draw(st.lists(st.tuples(bound, bound), max_size=3))
    return index, stack, ranges


# -- reading: every entry point, with the only outcomes allowed --


def changed_chunks(original: bytes, mutated: bytes) -> set[int]:
    """Indices of chunks whose ciphertext differs (same-size blobs only)."""
    step = CHUNK + L.TAG
    return {
        i
        for i in range(len(original) // step + 1)
        if original[PREFIX + i * step : PREFIX + (i + 1) * step]
        != mutated[PREFIX + i * step : PREFIX + (i + 1) * step]
    }


def clamp(ranges: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    out = []
    for a, b in ranges:
        start = a % (length + 1)
        out.append((start, start + b % (length - start + 1)))
    return out


def read_range(reader: BlobReader, start: int, end: int) -> tuple[bytes, bool]:
    """Collect what iter_plaintext yields before it stops; True if it finished."""
    got = bytearray()
    try:
        for piece in reader.iter_plaintext(start, end):
            got += piece
    except DecryptionError:
        return bytes(got), False
    return bytes(got), True


def exercise(
    path: Path, b: Base, mutated: bytes, ranges: list[tuple[int, int]], *, forged: bool
) -> None:
    """Run every entry point on `path`. DecryptionError is caught wherever it is allowed; any
    other exception propagates and fails the test."""
    original, plaintext = b.blob, b.plaintext
    try:
        claimed = container.inspect(path)  # keyless: checks layout only, so it may pass
        assert 0 <= claimed <= L.MAX_PLAINTEXT
    except DecryptionError:
        pass

    for key in ({"private_key": SK}, {"data_key": b.dk}):
        kind = next(iter(key))
        try:
            reader = BlobReader(path, context=CTX, **key)
        except DecryptionError:
            event(f"{kind}: rejected at open")
            continue
        event(f"{kind}: opened")
        with reader:
            if not forged:  # opening means the MAC'd prefix and the size are untouched
                assert len(mutated) == len(original)
                assert mutated[:PREFIX] == original[:PREFIX]
                assert reader.plaintext_length == len(plaintext)
                assert reader.data_key == b.dk
            length = reader.plaintext_length
            damaged = changed_chunks(original, mutated) if not forged else set()
            for start, end in clamp(ranges, length):
                got, finished = read_range(reader, start, end)
                event(
                    f"range read {'finished' if finished else 'failed'}"
                    + (", after yielding" if got and not finished else "")
                )
                # Whatever came out, even before a failure, is the original at its position.
                assert got == plaintext[start : start + len(got)]
                if finished:
                    assert len(got) == end - start
                if not forged and start < end:
                    touched = set(range(start // CHUNK, (end - 1) // CHUNK + 1))
                    assert finished == (not (touched & damaged))
            try:
                everything = reader.read_all()
            except DecryptionError:
                pass
            else:
                assert forged, "a mutated blob decrypted in full"
                assert everything == plaintext
                event(f"{kind}: forged header, original read in full")
            try:
                reader.verify_chunks()
            except DecryptionError:
                pass
            else:
                assert forged, "every chunk of a mutated blob verified"

    try:
        container.verify(path, context=CTX, data_key=b.dk, chunks=True)
    except DecryptionError:
        pass
    else:
        assert forged, "a mutated blob passed verify(chunks=True)"


def run(path: Path, b: Base, mutated: bytes, ranges, *, forged: bool) -> None:
    path.write_bytes(mutated)
    tracemalloc.start()
    try:
        exercise(path, b, mutated, ranges, forged=forged)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < PEAK_LIMIT, f"reader peaked at {peak} bytes"


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz") / "blob"


def test_base_blobs_open():
    for i in range(len(SIZES)):
        b = base(i)
        assert len(b.blob) == file_size(len(b.plaintext))
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "b"
            path.write_bytes(b.blob)
            with BlobReader(path, context=CTX, private_key=SK) as reader:
                assert reader.read_all() == b.plaintext


@FUZZ
@given(case=cases())
@example(case=(3, [SetField("length", 2**63)], [(0, 1)]))
@example(case=(3, [SetField("length", 2**64 - 1), Fit()], []))
@example(case=(3, [SetField("length", L.MAX_PLAINTEXT), Fit()], []))
@example(case=(2, [SetField("length", CHUNK + 1), Fit()], [(0, CHUNK)]))
@example(case=(1, [SetField("n_stanzas", 2), Fit()], []))
@example(case=(0, [SetField("chunk_log2", 4)], []))
@example(
    case=(
        3,
        [Flip(PREFIX + CHUNK + L.TAG + 3, 1)],
        [(0, CHUNK), (CHUNK, CHUNK + 1), (0, 2 * CHUNK + 5)],
    )
)
@example(case=(3, [Copy(PREFIX, PREFIX + CHUNK + L.TAG, CHUNK + L.TAG, False)], [(0, 1)]))
@example(case=(3, [Truncate(PREFIX + 2 * (CHUNK + L.TAG))], []))
def test_mutated_blob_never_decrypts(target, case):
    index, stack, ranges = case
    b = base(index)
    mutated = apply_all(b.blob, stack)
    assume(mutated != b.blob)  # a mutation that changes no byte is not a mutation
    event(f"{len(stack)} mutation(s), first {type(stack[0]).__name__}")
    run(target, b, mutated, ranges, forged=False)


@FUZZ
@given(case=cases())
@example(case=(3, [SetField("length", 2 * CHUNK), Fit()], [(0, 2 * CHUNK)]))
@example(case=(2, [SetField("length", 2 * CHUNK), Fit()], [(0, 2 * CHUNK)]))
@example(case=(3, [SetField("n_stanzas", 3), Fit()], [(0, 1)]))
@example(case=(3, [Copy(PREFIX, PREFIX + CHUNK + L.TAG, CHUNK + L.TAG, True), Fit()], []))
def test_forged_header_still_yields_only_original_bytes(target, case):
    """As above, then resized to the size the header claims and re-MACed with DK (when the
    header parses at all), so that forged lengths and bodies reach the chunk logic."""
    index, stack, ranges = case
    b = base(index)
    mutated = Fit().apply(apply_all(b.blob, stack))
    with contextlib.suppress(DecryptionError):  # unparseable header: rejected before the MAC
        mutated = remac(mutated, b.dk, CTX)
    assume(mutated != b.blob)
    run(target, b, mutated, ranges, forged=True)
