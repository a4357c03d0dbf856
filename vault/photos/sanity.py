"""The sanity sweep behind `manage.py vault_check`: every blob re-checked against its row in the
blob store (the local directory or the object store, the same report for both), and orphans
listed (objects without rows, rows without objects); partial writes abandoned for more than a
day (a killed process's temporary file, an unfinished multipart upload) are discarded.

Without a user's keys the sweep checks each object's structure and exact size against the
header and the row. With the user's keys (the command asks for the password) it also verifies
every header MAC, which proves the object belongs to that user, photo and variant, and with
`chunks=True` every chunk's tag.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from vault.blobstore import BlobMissing, BlobStore, get_store
from vault.blobstore.local import TEMP_SUFFIX, LocalStore
from vault.crypto import DecryptionError, container
from vault.photos import storage
from vault.photos.models import Blob, Photo

# A partial write younger than this may be an upload in progress (a multi-GB video over a slow
# line takes hours); older, its writer is certainly gone.
ABANDONED_AFTER = timedelta(days=1)


@dataclass
class Report:
    checked: int = 0
    verified: int = 0
    problems: list[str] = field(default_factory=list)
    # Partial writes: discarded (abandoned) or left alone (perhaps in progress). Not problems.
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class PartialWrite:
    """An unfinished write: a temporary file of the local store or a multipart upload."""

    key: str  # the object it would have become
    started: datetime
    where: str  # "local" or "s3"
    _remove: object  # () -> None

    def remove(self) -> None:
        self._remove()


def _local_partials(store: LocalStore, prefix: str) -> Iterator[PartialWrite]:
    """Temporaries `.<name>.<random>.tmp` beside the object `<name>` they would replace."""
    root = store.root
    if not root.is_dir():
        return
    for path in sorted(root.rglob(f".*{TEMP_SUFFIX}")):
        name = path.name[1:].rsplit(".", 2)[0]
        key = (path.parent / name).relative_to(root).as_posix()
        if not key.startswith(prefix):
            continue
        try:
            started = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except FileNotFoundError:
            continue
        yield PartialWrite(key, started, "local", lambda p=path: p.unlink(missing_ok=True))


def _s3_partials(store, prefix: str) -> Iterator[PartialWrite]:
    """Unfinished multipart uploads, with the time each was started (ListMultipartUploads)."""
    from vault.blobstore.s3 import _BOTO_ERRORS, _store_error

    client, bucket = store.client, store.bucket

    def abort(key: str, upload_id: str) -> None:
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        except _BOTO_ERRORS as exc:
            raise _store_error(exc, "abort upload") from None

    try:
        pages = list(client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket))
    except _BOTO_ERRORS as exc:
        raise _store_error(exc, "list uploads") from None
    for page in pages:
        for upload in page.get("Uploads", []):
            key = upload["Key"]
            if not key.startswith(prefix):
                continue
            started = upload["Initiated"]
            if started.tzinfo is None:
                started = started.replace(tzinfo=UTC)
            yield PartialWrite(key, started, "s3", lambda k=key, u=upload["UploadId"]: abort(k, u))


def partial_writes(store: BlobStore, prefix: str = "") -> list[PartialWrite]:
    """Every unfinished write below `prefix`, in whichever store(s) `store` is made of."""
    from vault.blobstore.fallback import FallbackStore

    if isinstance(store, FallbackStore):
        return partial_writes(store.primary, prefix) + partial_writes(store.fallback, prefix)
    if isinstance(store, LocalStore):
        return list(_local_partials(store, prefix))
    from vault.blobstore.s3 import S3Store

    if isinstance(store, S3Store):
        return list(_s3_partials(store, prefix))
    return []


def _prefixes(user_ids: set[int] | None) -> list[str]:
    return [""] if user_ids is None else [f"{int(user)}/" for user in sorted(user_ids)]


def sweep(
    *,
    user_ids: set[int] | None = None,
    private_keys: dict | None = None,
    chunks: bool = False,
    now: datetime | None = None,
    store: BlobStore | None = None,
) -> Report:
    """Check the blobs of the given users (all users when None) in `store` (the vault's).
    `private_keys` maps a user id to that user's unlocked private key, for MAC verification.
    Raises the store's StoreError (an OSError) when it cannot be listed."""
    store = store or get_store()
    private_keys = private_keys or {}
    now = now or datetime.now(UTC)
    report = Report()
    objects: dict[str, int] = {}
    for prefix in _prefixes(user_ids):
        objects.update(store.list(prefix))
    blobs = Blob.objects.select_related("photo")
    if user_ids is not None:
        blobs = blobs.filter(photo__owner_id__in=user_ids)
    expected: set[str] = set()
    for blob in blobs.iterator():
        photo = blob.photo
        key = storage.blob_key(photo.owner_id, photo.id, blob.variant, blob.index)
        expected.add(key)
        report.checked += 1
        label = f"{blob.variant}-{blob.index} of photo {photo.id} (user {photo.owner_id})"
        if key not in objects:
            report.problems.append(f"missing object: {label}: {key}")
            continue
        try:
            length = container.inspect(store.reader(key))
        except BlobMissing:
            report.problems.append(f"missing object: {label}: {key}")
            continue
        except DecryptionError:
            report.problems.append(f"damaged object: {label}: {key}")
            continue
        if length != blob.size:
            report.problems.append(
                f"wrong size: {label}: row says {blob.size} bytes, object holds {length}"
            )
            continue
        key_of_owner = private_keys.get(photo.owner_id)
        if key_of_owner is not None:
            try:
                container.verify(
                    store.reader(key),
                    context=storage.blob_context(
                        photo.owner_id, photo.id, blob.variant, blob.index
                    ),
                    private_key=key_of_owner,
                    chunks=chunks,
                )
            except (BlobMissing, DecryptionError):
                report.problems.append(f"fails authentication: {label}: {key}")
                continue
            report.verified += 1
    for key in sorted(set(objects) - expected):
        if key.startswith("probe/"):
            continue  # a /healthz probe object in flight
        report.problems.append(f"orphan object (no row): {key}")
    for prefix in _prefixes(user_ids):
        for partial in partial_writes(store, prefix):
            age = now - partial.started
            if age >= ABANDONED_AFTER:
                with contextlib.suppress(FileNotFoundError):
                    partial.remove()
                report.notes.append(
                    f"discarded a partial write abandoned {_hours(age)} ago: {partial.key}"
                )
            else:
                report.notes.append(
                    f"left alone a partial write started {_hours(age)} ago (perhaps in "
                    f"progress): {partial.key}"
                )
    photos = (
        Photo.objects.all() if user_ids is None else Photo.objects.filter(owner_id__in=user_ids)
    )
    for photo in photos.exclude(blobs__variant=Blob.Variant.ORIGINAL).only("id", "owner_id"):
        report.problems.append(f"photo without an original: {photo.id} (user {photo.owner_id})")
    return report


def _hours(age: timedelta) -> str:
    hours = age.total_seconds() / 3600
    return f"{hours:.0f} h" if hours >= 1 else f"{max(age.total_seconds() / 60, 0):.0f} min"
