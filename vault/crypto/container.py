"""SPV1 blob container: streaming encryption of one photo variant to one self-contained file.

Layout (big-endian; structs and derivations in _layout.py):

    header (64 B)  magic "\\x89SPV" | version 1 | suite 1 | chunk_log2 16 | n_stanzas |
                   plaintext length u64 | blob id (16 B) | salt (32 B)
    stanzas (96 B) type 1 (owner) | 3 reserved | key id = SHA-256(pk)[:8] | 4 reserved |
                   HPKE(pk, DK, info = "spv/v1/owner-stanza" ‖ blob id ‖ context), 80 B
    MAC (32 B)     HMAC-SHA-256(HKDF(DK, salt, "spv/v1/header"), header ‖ stanzas ‖ context)
    chunks         AES-256-GCM(K_pay, nonce_i, chunk_i), 64 KiB of plaintext each
                   nonce_i = i as 11 bytes ‖ 0x01 on the last chunk, else 0x00
    file size  ==  64 + 96 × n_stanzas + 32 + length + 16 × max(1, ceil(length / 64 KiB))

The context (user, photo, variant, index) is supplied by the caller from the database and never
stored, so a blob moved to another user, photo or variant fails its MAC.

Deliberate deviation from DESIGN §5: there K_pay is derived from the header MAC, and the MAC
covers the plaintext length, so a writer would need the total length before encrypting the first
chunk. The upload handler streams chunks of unknown total size, so instead
K_pay = HKDF(DK, salt, "spv/v1/payload" ‖ blob id), with salt and blob id random per blob:
a header spliced onto a sibling blob's body (same DK, other salt) still fails, and (key, nonce)
pairs never repeat. The writer writes a placeholder header, streams the chunks into a temporary
file, then seeks back to write the real length and MAC before fsync and rename. The MAC still
covers header ‖ stanzas ‖ context, so a patched length or another context fails; the last-chunk
flag in the nonce catches truncation and appended chunks. An empty plaintext is one empty final
chunk (just a tag).

The container works on a blob store's ObjectWriter/ObjectReader (vault.blobstore: a local
file, or an S3 object written by multipart upload and read by ranged GETs); a path is accepted
too and means a local file. Only ciphertext ever reaches the store.

Readers validate magic, version, suite, ranges and the exact file size before any cryptography,
verify the MAC before decrypting any chunk, and fail with DecryptionError only.
"""

import hmac
import os
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import BinaryIO, Self

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.blobstore.base import ObjectReader, ObjectWriter
from vault.blobstore.local import FileReader, FileWriter
from vault.crypto import _layout as L
from vault.crypto import hpke_wrap
from vault.crypto._primitives import KEY_BYTES, Rng, require_key, system_rng
from vault.crypto.context import BlobContext
from vault.crypto.errors import DecryptionError
from vault.crypto.keys import public_from_private

CHUNK = L.CHUNK
_SOURCE_READ = 16 * CHUNK  # encrypt_file reads 1 MiB at a time: bounded memory, few calls

StrPath = str | os.PathLike[str]


def new_data_key() -> bytes:
    return system_rng(KEY_BYTES)


class BlobWriter:
    """Encrypt a stream of unknown length to `target`, atomically.

    `target` is a blob store's ObjectWriter (the BlobWriter owns it from then on) or a path
    (a local file written through a temporary file, fsync and rename). `write()` accepts
    pieces of any size; the BlobWriter itself holds about one chunk (the store's writer adds
    its own bounded buffer). Nothing appears under the key until `close()` succeeds; on an
    exception inside `with`, the partial object is discarded.
    `rng` and `_wrap` exist only so tests can rebuild the known-answer vectors.
    """

    def __init__(
        self,
        target: StrPath | ObjectWriter,
        *,
        owner_public_key: bytes,
        context: BlobContext,
        data_key: bytes,
        rng: Rng = system_rng,
        _wrap: Callable[[bytes, bytes, bytes], bytes] = hpke_wrap.wrap,
    ) -> None:
        dk = require_key(data_key, "data key")
        pk = require_key(owner_public_key, "public key")
        self._context = context
        self._dk = dk
        self._blob_id = rng(L.BLOB_ID_BYTES)
        self._salt = rng(L.SALT_BYTES)
        wrapped = _wrap(dk, pk, L.stanza_info(self._blob_id, context))
        self._stanzas = L.owner_stanza(L.key_id(pk), wrapped)
        self._aead = AESGCM(L.payload_key(dk, self._salt, self._blob_id))
        self._buf = bytearray()
        self._out = bytearray(CHUNK + L.TAG)  # reused for every chunk: no allocation per chunk
        self._length = 0
        self._chunks = 0
        self._closed = False
        self.plaintext_length: int | None = None
        if isinstance(target, ObjectWriter):
            self._file = target
        else:  # a path: its directory must exist, as before the store existed
            self._file = FileWriter(target, make_dirs=False)
        try:
            # Placeholder: the real length and MAC are only known at close().
            self._file.write(bytes(L.HEADER.size) + self._stanzas + bytes(L.MAC_BYTES))
        except BaseException:
            self.abort()
            raise

    def _emit(self, chunk: bytes | bytearray | memoryview, *, last: bool) -> None:
        out = memoryview(self._out)[: len(chunk) + L.TAG]
        self._aead.encrypt_into(L.chunk_nonce(self._chunks, last), chunk, None, out)
        self._file.write(out)
        self._chunks += 1

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed BlobWriter")
        view = memoryview(data).cast("B")
        size = len(view)
        if self._length + size > L.MAX_PLAINTEXT:
            raise ValueError("blob larger than the SPV1 maximum")
        self._length += size
        # Always hold back the newest (possibly full) chunk: only close() knows which is last.
        buf = self._buf
        if buf:
            take = min(CHUNK - len(buf), size)
            buf += view[:take]
            view = view[take:]
            if not view:
                return size
            self._emit(buf, last=False)
            buf.clear()
        while len(view) > CHUNK:
            self._emit(view[:CHUNK], last=False)
            view = view[CHUNK:]
        buf += view
        return size

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._emit(self._buf, last=True)
            header = L.Header(1, self._length, self._blob_id, self._salt)
            assert self._chunks == header.chunk_count
            packed = header.pack()
            mac = L.header_mac(self._dk, packed, self._stanzas, self._context, self._salt)
            self._file.finish(packed + self._stanzas + mac)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        self._buf = bytearray()
        self.plaintext_length = self._length

    def abort(self) -> None:
        """Discard everything written so far; the key keeps what it held before."""
        self._closed = True
        self._buf = bytearray()
        self._file.abort()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def encrypt_file(
    src: BinaryIO,
    path: StrPath | ObjectWriter,
    *,
    owner_public_key: bytes,
    context: BlobContext,
    data_key: bytes,
) -> int:
    """Encrypt everything `src` yields to `path` (or an ObjectWriter); return the plaintext
    length."""
    with BlobWriter(
        path, owner_public_key=owner_public_key, context=context, data_key=data_key
    ) as writer:
        readinto = getattr(src, "readinto", None)
        if readinto is None:
            while piece := src.read(_SOURCE_READ):
                writer.write(piece)
        else:  # one reusable buffer: the writer copies what it keeps
            buf = bytearray(_SOURCE_READ)
            view = memoryview(buf)
            while n := readinto(buf):
                writer.write(view[:n])
    assert writer.plaintext_length is not None
    return writer.plaintext_length


class BlobReader:
    """Open and authenticate an SPV1 blob; decrypt all of it or a byte range, chunk by chunk.

    Give exactly one of `private_key` (the owner: DK is unwrapped from the stanza) or
    `data_key` (a worker holding a grant). `source` is a blob store's ObjectReader (the
    BlobReader owns and closes it) or a path. Opening checks sizes and the header MAC and
    raises DecryptionError; a missing blob raises the usual OSError (BlobMissing).
    """

    def __init__(
        self,
        source: StrPath | ObjectReader,
        *,
        context: BlobContext,
        private_key: bytes | None = None,
        data_key: bytes | None = None,
    ) -> None:
        if (private_key is None) == (data_key is None):
            raise ValueError("pass exactly one of private_key or data_key")
        self._file = source if isinstance(source, ObjectReader) else FileReader(source)
        try:
            self._open(context, private_key, data_key)
        except BaseException:
            self._file.close()
            raise

    def _read_at(self, size: int, offset: int) -> bytes:
        data = self._file.read_at(offset, size)
        if len(data) != size:  # the object shrank after the size check
            raise DecryptionError()
        return data

    def _open(
        self, context: BlobContext, private_key: bytes | None, data_key: bytes | None
    ) -> None:
        size = self._file.size
        if size < L.HEADER.size:
            raise DecryptionError()
        raw_header = self._read_at(L.HEADER.size, 0)
        header = L.parse_header(raw_header)
        if size != header.file_size:
            raise DecryptionError()
        rest = self._read_at(header.prefix_size - L.HEADER.size, L.HEADER.size)
        raw_stanzas, mac = rest[: -L.MAC_BYTES], rest[-L.MAC_BYTES :]
        stanzas = L.parse_stanzas(raw_stanzas, header.n_stanzas)

        if data_key is not None:
            dk = require_key(data_key, "data key")
        else:
            assert private_key is not None
            wanted = L.key_id(public_from_private(private_key))
            wrapped = next((w for kid, w in stanzas if hmac.compare_digest(kid, wanted)), None)
            if wrapped is None:
                raise DecryptionError()
            info = L.stanza_info(header.blob_id, context)
            dk = hpke_wrap.unwrap(wrapped, private_key, info)
            if len(dk) != KEY_BYTES:
                raise DecryptionError()

        expected = L.header_mac(dk, raw_header, raw_stanzas, context, header.salt)
        if not hmac.compare_digest(mac, expected):
            raise DecryptionError()
        self._header = header
        self._aead = AESGCM(L.payload_key(dk, header.salt, header.blob_id))
        self.data_key = dk
        self.plaintext_length = header.plaintext_length

    def _chunk(self, index: int) -> bytes:
        header = self._header
        last = index == header.chunk_count - 1
        size = header.plaintext_length - index * CHUNK if last else CHUNK
        ciphertext = self._read_at(size + L.TAG, header.prefix_size + index * (CHUNK + L.TAG))
        try:
            return self._aead.decrypt(L.chunk_nonce(index, last), ciphertext, None)
        except InvalidTag:
            raise DecryptionError() from None

    def iter_plaintext(self, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Yield plaintext[start:end] (end exclusive, like a slice), decrypting only the chunks
        that overlap it. An HTTP Range "bytes=a-b" is iter_plaintext(a, b + 1)."""
        length = self.plaintext_length
        end = length if end is None else end
        if not 0 <= start <= end <= length:
            raise ValueError(f"range {start}..{end} outside 0..{length}")
        if start == end:
            return
        first, last = start // CHUNK, (end - 1) // CHUNK
        for index in range(first, last + 1):
            plain = self._chunk(index)
            lo = start - index * CHUNK if index == first else 0
            hi = end - index * CHUNK if index == last else len(plain)
            yield plain if (lo, hi) == (0, len(plain)) else plain[lo:hi]

    def read_all(self) -> bytes:
        if self.plaintext_length == 0:
            self._chunk(0)  # still authenticate the empty final chunk
            return b""
        return b"".join(self.iter_plaintext())

    def verify_chunks(self) -> None:
        """Decrypt and discard every chunk: a full integrity check without keeping plaintext."""
        for index in range(self._header.chunk_count):
            self._chunk(index)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def inspect(source: StrPath | ObjectReader) -> int:
    """Check what can be checked without a key: magic, version, suite, field ranges and the
    exact size. Returns the plaintext length; raises DecryptionError (or OSError).
    For the sanity sweep of an operator who holds no user's keys. An ObjectReader given is
    closed."""
    with source if isinstance(source, ObjectReader) else FileReader(source) as file:
        size = file.size
        raw_header = file.read_at(0, L.HEADER.size)
        if len(raw_header) != L.HEADER.size:
            raise DecryptionError()
        header = L.parse_header(raw_header)
        if size != header.file_size:
            raise DecryptionError()
        raw_stanzas = file.read_at(L.HEADER.size, header.prefix_size - L.HEADER.size - L.MAC_BYTES)
        L.parse_stanzas(raw_stanzas, header.n_stanzas)
    return header.plaintext_length


def verify(
    source: StrPath | ObjectReader,
    *,
    context: BlobContext,
    private_key: bytes | None = None,
    data_key: bytes | None = None,
    chunks: bool = False,
) -> None:
    """Check sizes and the header MAC (and, with chunks=True, every chunk's tag).

    For the sanity sweep; raises DecryptionError on any mismatch.
    """
    with BlobReader(source, context=context, private_key=private_key, data_key=data_key) as reader:
        if chunks:
            reader.verify_chunks()
