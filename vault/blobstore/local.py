"""The local directory store: object `a/b/c.spv` is the file `<root>/a/b/c.spv`.

The same layout as before the store existed (VAULT_DATA_DIR/blobs/<user>/<photo>/...), so
existing vaults and backups work unchanged. A write goes to a temporary file beside the target
(`.<name>.<random>.tmp`), is fsynced and renamed over it: the object appears whole or not at all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from vault.blobstore.base import (
    BlobMissing,
    BlobStore,
    ObjectReader,
    ObjectWriter,
    check_key,
    check_prefix,
)

TEMP_SUFFIX = ".tmp"
# A few 64 KiB SPV1 chunks per write() system call.
_WRITE_BUFFER = 4 * (64 * 1024 + 16)


def fsync_dir(directory: Path) -> None:
    """fsync a directory, so that a file created or renamed in it survives a power cut (POSIX
    leaves a rename's durability to the directory's fsync). OSError if it is not a directory."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileWriter(ObjectWriter):
    """Write `path` through a temporary file in its directory (created, mode 0700, if absent)."""

    def __init__(self, path: str | os.PathLike[str], *, make_dirs: bool = True) -> None:
        self._path = Path(path)
        if make_dirs:
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(
            prefix=f".{self._path.name}.", suffix=TEMP_SUFFIX, dir=self._path.parent
        )
        self._tmp = Path(tmp)
        self._file = os.fdopen(fd, "wb", buffering=_WRITE_BUFFER)
        self._written = 0
        self._done = False

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._done:
            raise ValueError("write to a finished or aborted object writer")
        n = self._file.write(data)
        self._written += n
        return n

    def finish(self, head: bytes = b"") -> None:
        if self._done:
            raise ValueError("finish of a finished or aborted object writer")
        if len(head) > self._written:
            self.abort()
            raise ValueError("head longer than the object")
        try:
            if head:
                self._file.seek(0)
                self._file.write(head)
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            os.replace(self._tmp, self._path)
            fsync_dir(self._path.parent)
        except BaseException:
            self.abort()
            raise
        self._done = True

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


class FileReader(ObjectReader):
    """pread() over an open file: no seek state, so one reader may serve interleaved ranges."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        try:
            self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - owned until close()
        except FileNotFoundError as exc:
            raise BlobMissing(exc.errno, exc.strerror, exc.filename) from None
        self.size = os.fstat(self._file.fileno()).st_size

    def read_at(self, offset: int, size: int) -> bytes:
        if offset < 0 or size < 0:
            raise ValueError("negative offset or size")
        return os.pread(self._file.fileno(), size, offset)

    def close(self) -> None:
        self._file.close()


class LocalStore(BlobStore):
    """Objects as files below `root` (VAULT_DATA_DIR/blobs)."""

    kind = "local"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """The file that holds `key` (for the local backup and the move command only)."""
        return self.root / check_key(key)

    def writer(self, key: str) -> FileWriter:
        return FileWriter(self.path(key))

    def reader(self, key: str) -> FileReader:
        return FileReader(self.path(key))

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError as exc:
            raise BlobMissing(exc.errno, exc.strerror, exc.filename) from None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def _below(self, prefix: str) -> tuple[Path, str]:
        """The directory to walk for `prefix` and the name prefix within it."""
        check_prefix(prefix)
        directory, _, name = prefix.rpartition("/")
        return (self.root / directory if directory else self.root), name

    def delete_prefix(self, prefix: str) -> int:
        removed = sum(1 for _ in self.list(prefix))
        directory, name = self._below(prefix)
        if not name:  # a whole directory: its temporaries go too
            if directory == self.root:
                for child in list(directory.iterdir()) if directory.is_dir() else []:
                    if child.is_dir():
                        shutil.rmtree(child, ignore_errors=True)
                    else:
                        child.unlink(missing_ok=True)
            else:
                shutil.rmtree(directory, ignore_errors=True)
            return removed
        for key, _size in list(self.list(prefix)):
            self.delete(key)
        return removed

    def list(self, prefix: str = "") -> Iterator[tuple[str, int]]:
        directory, _name = self._below(prefix)
        if not directory.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(directory):
            dirnames.sort()
            for filename in sorted(filenames):
                if filename.startswith("."):  # temporaries and stray dot files are no objects
                    continue
                path = Path(dirpath, filename)
                key = path.relative_to(self.root).as_posix()
                if not key.startswith(prefix):
                    continue
                try:
                    yield key, path.stat().st_size
                except FileNotFoundError:
                    continue

    def remove_incomplete(self, prefix: str) -> int:
        directory, name = self._below(prefix)
        removed = 0
        if directory.is_dir():
            for path in directory.rglob(f".{name}*{TEMP_SUFFIX}"):
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def probe(self) -> dict:
        result = {"kind": self.kind, "ok": False, "reachable": False, "bucket": None}
        result.update(round_trip=False, error=None)
        key = f"probe/{uuid.uuid4().hex}.spv"
        payload = os.urandom(32)
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            result["reachable"] = result["bucket"] = self.root.is_dir()
            with self.writer(key) as writer:
                writer.write(payload)
                writer.finish()
            with self.reader(key) as reader:
                result["round_trip"] = reader.read_at(0, 64) == payload
        except OSError as exc:
            result["error"] = f"{type(exc).__name__}: {exc.strerror or exc}"
        finally:
            with contextlib.suppress(OSError):
                self.delete(key)
                (self.root / "probe").rmdir()
        result["ok"] = bool(result["reachable"] and result["round_trip"])
        return result
