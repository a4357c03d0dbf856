"""Moving a running vault's blobs from its local directory to an object store
(`manage.py vault_move_blobs`; the procedure is in docs/object-store.md).

The vault runs meanwhile with VAULT_BLOB_STORE=s3 and VAULT_BLOB_FALLBACK_DIR set to the old
directory (vault.blobstore.fallback): new blobs go to the object store only, blobs not yet
moved are read from the directory. So the move only ever copies directory → object store:

- a key already in the object store is never overwritten by an older blob: either it is this
  move's earlier copy (same bytes: "already there", verified again; same SPV1 blob id but other
  bytes: a damaged copy, replaced) or the vault rewrote it after the switch (another blob id: a
  newer blob, kept, and the directory's copy is stale);
- each copy is verified: the object's size equals the file's, its SPV1 header parses with the
  checks `container.inspect` makes (magic, version, suite, ranges, the exact size the header
  implies, and the plaintext length the Blob row records), and the bytes read back from the
  object store hash (SHA-256) to the file's. The operator holds no user's keys, so the header
  MAC cannot be recomputed here; it is compared byte for byte with the file's instead, which
  together with the hash proves that what a user's key would verify is what was there;
- a photo's objects are copied while holding the photo's advisory lock (the one the worker
  holds while it writes the photo's blobs), so a worker never rewrites a blob under a copy in
  progress; a photo the worker is busy with is retried at the end of the run;
- after each copy the source is checked again: a blob deleted meanwhile (the fallback store
  deletes in both places) has its fresh copy removed, so a deleted photo never comes back.

Local copies are removed only with `remove_local=True`, each after its object verified.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from vault.blobstore import BlobMissing, BlobStore
from vault.blobstore.local import LocalStore
from vault.crypto import DecryptionError
from vault.crypto import _layout as L
from vault.photos import pipeline_state
from vault.photos.models import Blob
from vault.processing.locks import advisory_lock

READ = 1 << 20  # bytes per read while copying and hashing: bounded memory for any blob
BUSY_RETRIES = 3  # passes over photos a worker held, before the run gives up on them
BUSY_PAUSE = 1.0  # seconds between those passes (a worker's job on a photo takes seconds)


class MoveError(Exception):
    """The move cannot go on (the message says why, for the operator)."""


@dataclass
class MoveReport:
    copied: int = 0
    copied_bytes: int = 0
    already: int = 0  # copied by an earlier run, verified again now
    newer: int = 0  # rewritten in the object store after the switch; the local copy was stale
    removed_local: int = 0
    vanished: int = 0  # deleted by the vault while the move ran
    busy: list[str] = field(default_factory=list)  # keys of photos a worker kept busy
    problems: list[str] = field(default_factory=list)
    left: int = 0  # not attempted (the --limit was reached)

    @property
    def ok(self) -> bool:
        return not self.problems and not self.busy


def _photo_lock_key(key: str) -> int | None:
    """The worker's advisory lock key of the photo (or resumable upload) a key belongs to
    (worker.pipeline.photo_lock), or None for a key that names no photo."""
    parts = key.split("/")
    if len(parts) != 3:
        return None
    try:
        photo_id = uuid.UUID(parts[1])
    except ValueError:
        return None
    return pipeline_state.photo_lock_key(photo_id)


@contextlib.contextmanager
def _photo_locked(lock_key: int | None) -> Iterator[bool]:
    """The worker's photo lock (never waits); a key of no photo needs none."""
    if lock_key is None:
        yield True
        return
    with advisory_lock(lock_key) as acquired:
        yield acquired


def _row_sizes() -> dict[str, int]:
    """key → plaintext bytes of every Blob row (vault.photos.storage's key layout)."""
    from vault.photos import storage

    rows = Blob.objects.values_list("photo__owner_id", "photo_id", "variant", "index", "size")
    return {
        storage.blob_key(owner, photo, variant, index): size
        for owner, photo, variant, index, size in rows.iterator()
    }


@dataclass(frozen=True)
class _Digest:
    size: int
    sha256: bytes
    prefix: bytes  # header, stanzas and header MAC
    plaintext_length: int
    blob_id: bytes  # random per written blob: a rewrite by the vault has another one


def _digest(store: BlobStore, key: str) -> _Digest:
    """Read the whole object once: its SHA-256, and its SPV1 header checked as
    container.inspect does. Raises BlobMissing, DecryptionError (not a well-formed SPV1 blob,
    or the wrong size for its header) or OSError."""
    with store.reader(key) as reader:
        size = reader.size
        header = L.parse_header(reader.read_at(0, L.HEADER.size))
        if size != header.file_size:
            raise DecryptionError()
        prefix = reader.read_at(0, header.prefix_size)
        L.parse_stanzas(prefix[L.HEADER.size : -L.MAC_BYTES], header.n_stanzas)
        digest = hashlib.sha256()
        offset = 0
        while offset < size:
            block = reader.read_at(offset, READ)
            if not block:
                raise DecryptionError()  # shorter than it said
            digest.update(block)
            offset += len(block)
    return _Digest(size, digest.digest(), prefix, header.plaintext_length, header.blob_id)


def _copy(source: LocalStore, target: BlobStore, key: str) -> None:
    with source.reader(key) as reader, target.writer(key) as writer:
        offset = 0
        while offset < reader.size:
            block = reader.read_at(offset, READ)
            if not block:
                raise OSError(f"{key} shrank while it was copied")
            writer.write(block)
            offset += len(block)
        writer.finish()


def _move_one(
    source: LocalStore,
    target: BlobStore,
    key: str,
    row_size: int | None,
    report: MoveReport,
    *,
    again: bool = False,
) -> bool:
    """Copy and verify one object; True when the object store now holds a good blob for it."""
    try:
        local = _digest(source, key)
    except BlobMissing:
        report.vanished += 1
        return False
    except DecryptionError:
        report.problems.append(f"{key}: the local file is not a well-formed SPV1 blob; not moved")
        return False
    existed = target.exists(key)
    if not existed:
        if row_size is not None and local.plaintext_length != row_size:
            report.problems.append(
                f"{key}: the local file holds {local.plaintext_length} bytes, its row says "
                f"{row_size}; not moved (see vault_check)"
            )
            return False
        _copy(source, target, key)
        if not source.exists(key):  # deleted by the vault while we copied: undo
            target.delete(key)
            report.vanished += 1
            return False
    try:
        remote = _digest(target, key)
    except BlobMissing:
        report.vanished += 1  # deleted by the vault right after the copy
        return False
    except DecryptionError:
        report.problems.append(f"{key}: the object store's copy is not a well-formed SPV1 blob")
        return False
    if remote.size == local.size and hmac.compare_digest(remote.sha256, local.sha256):
        if existed:
            report.already += 1
        else:
            report.copied += 1
            report.copied_bytes += local.size
        return True
    if not existed or remote.blob_id == local.blob_id:
        # Our own copy (this run's, or an earlier run's: same blob id) with other bytes: a
        # damaged copy, never a newer blob. Removed, so that no later run takes it for one.
        target.delete(key)
        if existed and not again:
            return _move_one(source, target, key, row_size, report, again=True)
        report.problems.append(
            f"{key}: read back from the object store, {remote.size} bytes with another "
            f"SHA-256 than the local {local.size} (header MAC "
            f"{'equal' if remote.prefix == local.prefix else 'differs'}); copy removed"
        )
        return False
    # There before this run, another blob id: the vault rewrote it after the switch.
    if row_size is not None and remote.plaintext_length != row_size:
        report.problems.append(
            f"{key}: the object store holds another version whose length disagrees with its "
            "row; left both in place (see vault_check)"
        )
        return False
    report.newer += 1
    return True


def blobs_move(
    *,
    source: LocalStore,
    target: BlobStore,
    remove_local: bool = False,
    limit: int | None = None,
    progress: Callable[[str], None] = lambda line: None,
    progress_every: float = 2.0,
) -> MoveReport:
    """Copy every object of `source` (the old directory) that `target` (the object store) lacks,
    verify every one, and with `remove_local` delete each local file whose object verified.
    Stops after `limit` objects copied (None: all). `progress` gets a line every
    `progress_every` seconds. Raises MoveError when a store cannot be read or written (the
    objects done so far stay done: run it again to resume)."""
    from vault.blobstore import StoreError

    report = MoveReport()
    try:
        keys = [key for key, _size in source.list("") if not key.startswith("probe/")]
    except OSError as error:
        raise MoveError(f"cannot list {source.root}: {error}") from None
    total = len(keys)
    rows = _row_sizes()
    by_photo: dict[int | None, list[str]] = {}
    for key in keys:
        by_photo.setdefault(_photo_lock_key(key), []).append(key)
    pending = list(by_photo.items())
    done = 0
    last = time.monotonic()
    for attempt in range(BUSY_RETRIES + 1):
        busy = []
        for lock_key, photo_keys in pending:
            if limit is not None and report.copied >= limit:
                report.left += len(photo_keys)
                continue
            with _photo_locked(lock_key) as acquired:
                if not acquired:
                    busy.append((lock_key, photo_keys))
                    continue
                for number, key in enumerate(photo_keys):
                    if limit is not None and report.copied >= limit:
                        report.left += len(photo_keys) - number
                        break
                    try:
                        good = _move_one(source, target, key, rows.get(key), report)
                        if good and remove_local:
                            source.delete(key)
                            report.removed_local += 1
                    except StoreError as error:
                        raise MoveError(f"{key}: {error}") from None
                    except OSError as error:
                        raise MoveError(f"{key}: {type(error).__name__}: {error}") from None
                    done += 1
                    if time.monotonic() - last >= progress_every:
                        last = time.monotonic()
                        progress(_progress_line(done, total, report))
        pending = busy
        if not pending:
            break
        if attempt < BUSY_RETRIES:
            time.sleep(BUSY_PAUSE)
    report.busy = [key for _lock, photo_keys in pending for key in photo_keys]
    if remove_local:
        _remove_empty_dirs(source)
    progress(_progress_line(done, total, report))
    return report


def _progress_line(done: int, total: int, report: MoveReport) -> str:
    return (
        f"{done}/{total} object(s): {report.copied} copied "
        f"({report.copied_bytes / 1e6:.1f} MB), {report.already} already there, "
        f"{report.newer} newer in the object store, {report.removed_local} local removed, "
        f"{len(report.problems)} problem(s)"
    )


def _remove_empty_dirs(store: LocalStore) -> None:
    """Photo and user directories the move emptied (deepest first)."""
    if not store.root.is_dir():
        return
    for directory in sorted(store.root.glob("*/*"), reverse=True) + sorted(
        store.root.glob("*"), reverse=True
    ):
        if directory.is_dir():
            with contextlib.suppress(OSError):
                directory.rmdir()  # only when empty
