"""The staged SPV1 writer of resumable uploads (vault/crypto/staged.py): a blob built over
several sessions is an ordinary SPV1 blob, and a chunk index is never encrypted twice with
different plaintext, even over a torn tail a crash left."""

from __future__ import annotations

import os

import pytest

from vault.crypto import keys
from vault.crypto.container import BlobReader, new_data_key
from vault.crypto.context import BlobContext
from vault.crypto.errors import DecryptionError
from vault.crypto.staged import CHUNK, StagedAppender, TailMismatch, staged_create

CONTEXT = BlobContext(
    user_id="7", photo_id="0b5e5c1e-3a7e-4c1e-9d6b-0123456789ab", variant="original"
)


@pytest.fixture
def owner():
    return keys.new_keypair()


def _start(path, owner, length: int) -> None:
    staged_create(
        path, length=length, owner_public_key=owner[1], context=CONTEXT, data_key=new_data_key()
    )


def _appender(path, owner, committed: int) -> StagedAppender:
    return StagedAppender(path, context=CONTEXT, private_key=owner[0], committed=committed)


def test_a_blob_built_over_sessions_reads_back_whole(tmp_path, owner):
    data = os.urandom(3 * CHUNK + 123)
    path = tmp_path / "u.spv"
    _start(path, owner, len(data))
    with _appender(path, owner, 0) as first:
        first.append(data[: 2 * CHUNK])
        first.sync()
    with _appender(path, owner, 2) as second:
        with pytest.raises(ValueError):  # only whole chunks, or the exact end
            second.append(data[2 * CHUNK : 3 * CHUNK + 1])
        second.append(data[2 * CHUNK :])  # the last chunk carries the last-chunk flag
        with pytest.raises(ValueError):
            second.append(b"x")  # nothing past the declared length
    with BlobReader(path, context=CONTEXT, private_key=owner[0]) as reader:
        assert reader.read_all() == data


def test_a_torn_tail_is_only_ever_completed_with_the_same_bytes(tmp_path, owner):
    data = os.urandom(3 * CHUNK)
    path = tmp_path / "u.spv"
    _start(path, owner, len(data))
    with _appender(path, owner, 0) as crashed:  # chunks 0-1 written, only chunk 0 committed
        crashed.append(data[: 2 * CHUNK])
    size = path.stat().st_size
    os.truncate(path, size - CHUNK // 2)  # the crash tore chunk 1
    with _appender(path, owner, 1) as other, pytest.raises(TailMismatch):
        other.append(os.urandom(CHUNK))  # different plaintext at index 1: refused
    with _appender(path, owner, 1) as same:
        same.append(data[CHUNK:])  # the same plaintext matches the torn bytes, then goes on
    with BlobReader(path, context=CONTEXT, private_key=owner[0]) as reader:
        assert reader.read_all() == data


def test_a_staged_blob_opens_only_with_its_context_and_key(tmp_path, owner):
    path = tmp_path / "u.spv"
    _start(path, owner, CHUNK)
    other = BlobContext(user_id="8", photo_id=CONTEXT.photo_id, variant="original")
    with pytest.raises(DecryptionError):
        StagedAppender(path, context=other, private_key=owner[0], committed=0)
    with pytest.raises(DecryptionError):
        StagedAppender(path, context=CONTEXT, private_key=keys.new_keypair()[0], committed=0)
