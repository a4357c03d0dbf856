"""The sanity sweep behind `manage.py vault_check`: every blob re-checked against its row,
and orphans listed (files without rows, rows without files, half-written temporaries).

Without a user's keys the sweep checks each file's structure and exact size against the header
and the row. With the user's keys (the command asks for the password) it also verifies every
header MAC, which proves the file belongs to that user, photo and variant, and with
`chunks=True` every chunk's tag.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vault.crypto import DecryptionError, container
from vault.photos import storage
from vault.photos.models import Blob, Photo


@dataclass
class Report:
    checked: int = 0
    verified: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _files_on_disk(user_ids: set[int] | None) -> Iterator[Path]:
    root = storage.blobs_root()
    if not root.is_dir():
        return
    for user_dir in sorted(root.iterdir()):
        if user_ids is not None and user_dir.name not in {str(u) for u in user_ids}:
            continue
        for path in sorted(user_dir.rglob("*")):
            if path.is_file():
                yield path


def sweep(
    *, user_ids: set[int] | None = None, private_keys: dict | None = None, chunks: bool = False
) -> Report:
    """Check the blobs of the given users (all users when None). `private_keys` maps a user id
    to that user's unlocked private key, for MAC verification."""
    private_keys = private_keys or {}
    report = Report()
    blobs = Blob.objects.select_related("photo")
    if user_ids is not None:
        blobs = blobs.filter(photo__owner_id__in=user_ids)
    expected: set[Path] = set()
    for blob in blobs.iterator():
        photo = blob.photo
        path = storage.blob_path(photo.owner_id, photo.id, blob.variant, blob.index)
        expected.add(path)
        report.checked += 1
        label = f"{blob.variant}-{blob.index} of photo {photo.id} (user {photo.owner_id})"
        try:
            length = container.inspect(
                storage.blob_reader(photo.owner_id, photo.id, blob.variant, blob.index)
            )
        except FileNotFoundError:
            report.problems.append(f"missing file: {label}: {path}")
            continue
        except (OSError, DecryptionError):
            report.problems.append(f"damaged file: {label}: {path}")
            continue
        if length != blob.size:
            report.problems.append(f"size mismatch: {label}: row says {blob.size}, file {length}")
            continue
        key = private_keys.get(photo.owner_id)
        if key is not None:
            try:
                container.verify(
                    storage.blob_reader(photo.owner_id, photo.id, blob.variant, blob.index),
                    context=storage.blob_context(
                        photo.owner_id, photo.id, blob.variant, blob.index
                    ),
                    private_key=key,
                    chunks=chunks,
                )
            except (OSError, DecryptionError):
                report.problems.append(f"fails authentication: {label}: {path}")
                continue
            report.verified += 1
    for path in _files_on_disk(user_ids):
        if path not in expected:
            kind = (
                "half-written temporary"
                if path.name.endswith(storage.TEMP_SUFFIX)
                else "orphan file"
            )
            report.problems.append(f"{kind} (no row): {path}")
    photos = (
        Photo.objects.all() if user_ids is None else Photo.objects.filter(owner_id__in=user_ids)
    )
    for photo in photos.exclude(blobs__variant=Blob.Variant.ORIGINAL).only("id", "owner_id"):
        report.problems.append(f"photo without an original: {photo.id} (user {photo.owner_id})")
    return report
