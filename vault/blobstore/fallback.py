"""The store of a vault moving its blobs to an object store (`manage.py vault_move_blobs`):
writes go to the object store, reads of blobs not yet moved come from the old local directory.

Set by VAULT_BLOB_FALLBACK_DIR beside VAULT_BLOB_STORE=s3 (docs/object-store.md). Every new or
rewritten blob lands in the object store only, so the move never races a newer copy in the
directory; deletes go to both, object store first, so that crypto-shredding a photo (or an
account) leaves nothing behind in either place, and the mover, which checks after each copy
that its source is still there, removes a copy of a blob deleted meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator

from vault.blobstore.base import BlobMissing, BlobStore, ObjectReader, ObjectWriter
from vault.blobstore.local import LocalStore


class FallbackStore(BlobStore):
    """`primary` (the object store) first; `fallback` (the old directory) for reads it lacks."""

    def __init__(self, primary: BlobStore, fallback: LocalStore) -> None:
        self.primary = primary
        self.fallback = fallback
        self.kind = primary.kind

    def __repr__(self) -> str:
        return f"FallbackStore({self.primary!r}, reads also from {self.fallback.root})"

    def writer(self, key: str) -> ObjectWriter:
        return self.primary.writer(key)

    def reader(self, key: str) -> ObjectReader:
        try:
            return self.primary.reader(key)
        except BlobMissing:
            return self.fallback.reader(key)

    def size(self, key: str) -> int:
        try:
            return self.primary.size(key)
        except BlobMissing:
            return self.fallback.size(key)

    def delete(self, key: str) -> None:
        self.primary.delete(key)
        self.fallback.delete(key)

    def delete_prefix(self, prefix: str) -> int:
        moved = {key for key, _size in self.primary.list(prefix)}
        only_local = sum(1 for key, _size in self.fallback.list(prefix) if key not in moved)
        self.primary.delete_prefix(prefix)
        self.fallback.delete_prefix(prefix)
        return len(moved) + only_local

    def list(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        """Both stores' objects, the object store's size where a key is in both (its copy is
        the one readers get)."""
        found = dict(self.fallback.list(prefix))
        found.update(self.primary.list(prefix))
        for key in sorted(found):
            yield key, found[key]

    def remove_incomplete(self, prefix: str) -> int:
        return self.primary.remove_incomplete(prefix) + self.fallback.remove_incomplete(prefix)

    def probe(self) -> dict:
        result = self.primary.probe()
        result["fallback_dir"] = str(self.fallback.root)
        result["fallback_dir_present"] = self.fallback.root.is_dir()
        return result
