"""The blob store interface (DESIGN §14): objects named by ids, written whole or not at all,
read by byte range. Only SPV1 ciphertext is ever given to a store.

Keys are `<user_id>/<photo_id>/<variant>-<index>.spv` (vault.photos.storage builds them); a
store never sees a file name, a media type or anything a user typed.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from types import TracebackType
from typing import Self

# One to three segments of letters, digits, '-', '_' and '.', no segment starting with '.':
# nothing that could climb out of a local root or look like a temporary file.
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}"
_KEY = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT}){{0,3}}")
_PREFIX = re.compile(rf"(?:{_SEGMENT}/){{0,3}}(?:{_SEGMENT})?")


class BlobMissing(FileNotFoundError):
    """The object does not exist (callers already catch OSError / FileNotFoundError)."""


class StoreError(OSError):
    """The store failed or could not be reached (the message never carries a credential)."""


def check_key(key: str) -> str:
    """Return `key` if it is a well-formed object key, else raise ValueError."""
    if not isinstance(key, str) or not _KEY.fullmatch(key) or ".." in key:
        raise ValueError(f"not a blob key: {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """Return `prefix` if it is a key prefix ('' for all, '1/' for a user...), else ValueError."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix) or ".." in prefix:
        raise ValueError(f"not a blob key prefix: {prefix!r}")
    return prefix


class ObjectWriter(ABC):
    """Sequential writer of one object; nothing is visible under the key before `finish()`.

    `write()` copies what it is given (callers reuse their buffers). Leaving a `with` block by
    an exception, or without having called `finish()`, aborts.
    """

    @abstractmethod
    def write(self, data: bytes | bytearray | memoryview) -> int:
        """Append `data`; return len(data)."""

    @abstractmethod
    def finish(self, head: bytes = b"") -> None:
        """Overwrite the first len(head) bytes with `head`, then commit atomically: afterwards
        the whole object is visible under its key, replacing any earlier one. Raises
        ValueError if fewer than len(head) bytes were written, StoreError on store failure
        (and then nothing was committed)."""

    @abstractmethod
    def abort(self) -> None:
        """Discard everything written; the key keeps whatever it held before. Idempotent."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()  # a no-op after finish()


class ObjectReader(ABC):
    """Random access to one committed object."""

    size: int

    @abstractmethod
    def read_at(self, offset: int, size: int) -> bytes:
        """Bytes [offset, offset + size) clipped to the object's end (so fewer near the end,
        b'' at or past it). Raises ValueError for a negative offset or size."""

    def close(self) -> None:  # noqa: B027 - most readers hold nothing to release
        """Release what the reader holds."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class BlobStore(ABC):
    """Where SPV1 blobs live. Missing objects raise BlobMissing, store failures StoreError."""

    kind: str  # "local" or "s3", for /healthz and messages

    @abstractmethod
    def writer(self, key: str) -> ObjectWriter:
        """A writer that will commit the object under `key`."""

    @abstractmethod
    def reader(self, key: str) -> ObjectReader:
        """Open `key` for range reads (BlobMissing if absent)."""

    @abstractmethod
    def size(self, key: str) -> int:
        """The object's size in bytes (BlobMissing if absent)."""

    def exists(self, key: str) -> bool:
        try:
            self.size(key)
        except BlobMissing:
            return False
        return True

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object; a missing one is fine."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with `prefix` (and abandoned partial writes
        below it); return how many objects were removed. `prefix` '' removes everything."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        """(key, size) of every committed object whose key starts with `prefix`, in key order."""

    @abstractmethod
    def remove_incomplete(self, prefix: str) -> int:
        """Discard partial writes a killed process left below `prefix` (temporary files, or
        unfinished multipart uploads); return how many."""

    @abstractmethod
    def probe(self) -> dict:
        """Check the store end to end for /healthz: {"kind", "ok", "reachable", "bucket",
        "round_trip", "error"} (error: a short message without credentials, or None)."""
