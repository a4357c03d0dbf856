"""An SPV1 blob of known plaintext length written over several requests (resumable uploads).

The file is the final blob from its first byte: `staged_create` writes the complete prefix
(header with the final length, the owner stanza wrapping the data key to the owner's public
key, the header MAC); each request then opens it with `StagedAppender` (the data key unwrapped
with the owner's private key, the MAC checked) and appends whole 64 KiB chunks at the chunk
index the caller has committed. When every chunk is in, the file is an ordinary SPV1 blob that
BlobReader opens. Nothing but ciphertext and the wrapped key is ever on disk.

AES-GCM nonce reuse (the one way this could go wrong): the nonce of chunk i is i (‖ last flag)
under one payload key for the whole blob, so chunk i must never be encrypted twice with
different plaintext where both ciphertexts could be seen. Rules:
- the caller commits (in its database) how many chunks are done and opens the appender there;
  it never starts below that index (an offset below the committed one is refused upstream);
- bytes past the committed chunks that a crashed or failed request left in the file (the
  "tail") are never overwritten with something else and never truncated away: a chunk that
  falls on the tail must encrypt to exactly the bytes already there, else `TailMismatch`
  (the caller then throws the whole file away and starts again under a fresh data key, salt
  and blob id, so no index of the old key is used again);
- only whole chunks are encrypted (a request cut off mid-chunk encrypts nothing of that
  chunk), and the last-chunk flag is set on chunk `chunk_count - 1` only, whose size the
  declared length fixes in advance.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.crypto import _layout as L
from vault.crypto import hpke_wrap
from vault.crypto._primitives import KEY_BYTES, require_key, system_rng
from vault.crypto.context import BlobContext
from vault.crypto.errors import DecryptionError
from vault.crypto.keys import public_from_private

CHUNK = L.CHUNK


class TailMismatch(Exception):
    """A chunk would overwrite bytes a failed request left with different ciphertext."""


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def staged_create(
    path: Path, *, length: int, owner_public_key: bytes, context: BlobContext, data_key: bytes
) -> None:
    """Start the blob of `length` plaintext bytes at `path` (replacing any earlier file) with
    a fresh blob id and salt: the prefix only, fsynced with its directory entry."""
    if not 0 < length <= L.MAX_PLAINTEXT:
        raise ValueError("length outside 1..SPV1 maximum")
    dk = require_key(data_key, "data key")
    pk = require_key(owner_public_key, "public key")
    blob_id, salt = system_rng(L.BLOB_ID_BYTES), system_rng(L.SALT_BYTES)
    stanzas = L.owner_stanza(L.key_id(pk), hpke_wrap.wrap(dk, pk, L.stanza_info(blob_id, context)))
    packed = L.Header(1, length, blob_id, salt).pack()
    mac = L.header_mac(dk, packed, stanzas, context, salt)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.unlink(missing_ok=True)  # an earlier attempt's file: its key is never used again
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, packed + stanzas + mac)
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(path.parent)


class StagedAppender:
    """Append chunks to a staged blob from chunk index `committed` on (see the module's rules).

    Opening reads the prefix, unwraps the data key with `private_key` and checks the header
    MAC (DecryptionError otherwise). `append()` takes plaintext whose length is a multiple of
    64 KiB, or the exact rest of the blob; `sync()` makes what was appended durable.
    """

    def __init__(
        self, path: Path, *, context: BlobContext, private_key: bytes, committed: int
    ) -> None:
        self._file = open(path, "r+b", buffering=0)  # noqa: SIM115 - owned until close()
        try:
            self._open(context, private_key, committed)
        except BaseException:
            self._file.close()
            raise

    def _open(self, context: BlobContext, private_key: bytes, committed: int) -> None:
        fd = self._file.fileno()
        size = os.fstat(fd).st_size
        raw_header = os.pread(fd, L.HEADER.size, 0)
        if len(raw_header) != L.HEADER.size:
            raise DecryptionError()
        header = L.parse_header(raw_header)
        rest = os.pread(fd, header.prefix_size - L.HEADER.size, L.HEADER.size)
        if len(rest) != header.prefix_size - L.HEADER.size:
            raise DecryptionError()
        raw_stanzas, mac = rest[: -L.MAC_BYTES], rest[-L.MAC_BYTES :]
        stanzas = L.parse_stanzas(raw_stanzas, header.n_stanzas)
        wanted = L.key_id(public_from_private(private_key))
        wrapped = next((w for kid, w in stanzas if hmac.compare_digest(kid, wanted)), None)
        if wrapped is None:
            raise DecryptionError()
        dk = hpke_wrap.unwrap(wrapped, private_key, L.stanza_info(header.blob_id, context))
        if len(dk) != KEY_BYTES:
            raise DecryptionError()
        if not hmac.compare_digest(
            mac, L.header_mac(dk, raw_header, raw_stanzas, context, header.salt)
        ):
            raise DecryptionError()
        if not 0 <= committed <= header.chunk_count:
            raise ValueError("committed chunk count outside the blob")
        self._header = header
        self._aead = AESGCM(L.payload_key(dk, header.salt, header.blob_id))
        self.data_key = dk
        self.chunks = committed
        self._position = header.prefix_size + committed * (CHUNK + L.TAG)
        if size < self._position:  # a committed chunk is missing: the file is not ours
            raise DecryptionError()
        self._tail_end = size  # bytes up to here exist: overwrite them only with themselves

    @property
    def plaintext_length(self) -> int:
        return self._header.plaintext_length

    @property
    def done(self) -> int:
        """Plaintext bytes covered by the chunks appended so far (and committed before)."""
        return min(self.chunks * CHUNK, self._header.plaintext_length)

    def append(self, data: bytes | bytearray | memoryview) -> None:
        view = memoryview(data).cast("B")
        total, length = self._header.chunk_count, self._header.plaintext_length
        sizes, index, rest = [], self.chunks, len(view)
        while rest:  # the chunks `data` makes, checked before anything is encrypted
            if index >= total:
                raise ValueError("more plaintext than the blob's length")
            size = length - index * CHUNK if index == total - 1 else CHUNK
            if rest < size:
                raise ValueError("only whole chunks (or the exact last one) can be appended")
            sizes.append(size)
            index, rest = index + 1, rest - size
        sealed = bytearray(len(view) + L.TAG * len(sizes))  # one write for all of them
        out, at, to = memoryview(sealed), 0, 0
        for number, size in enumerate(sizes):
            index = self.chunks + number
            nonce = L.chunk_nonce(index, index == total - 1)
            self._aead.encrypt_into(nonce, view[at : at + size], None, out[to : to + size + L.TAG])
            at, to = at + size, to + size + L.TAG
        out.release()
        self._put(sealed)
        self.chunks += len(sizes)

    def _put(self, sealed: bytes | bytearray) -> None:
        fd, at = self._file.fileno(), self._position
        overlap = max(0, min(self._tail_end - at, len(sealed)))
        if overlap and os.pread(fd, overlap, at) != sealed[:overlap]:
            raise TailMismatch()
        with memoryview(sealed) as rest:
            done = overlap
            while done < len(sealed):  # pwrite may write less than asked
                done += os.pwrite(fd, rest[done:], at + done)
        self._position = at + len(sealed)

    def sync(self) -> None:
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> StagedAppender:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
