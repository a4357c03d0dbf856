"""Backups of a vault and their restore: a PostgreSQL dump and the blobs it refers to, taken
from one database snapshot, kept as numbered directories under VAULT_BACKUP_DIR.

A snapshot directory (its name is its UTC time, `20260130T031500Z`):

    manifest.json     format, time, the vault version that made it, the dump's sha256 and size,
                      the blob count and bytes
    database.dump     `pg_dump --format=custom` of the vault's database
    blobs/<user>/<photo>/<variant>-<index>.spv   every blob the dump refers to

Blobs are SPV1 ciphertext (DESIGN §5), so a snapshot may be copied off-site as it is; it holds
no secret: the Argon2 pepper and the secret key are kept apart by the operator, and without the
pepper no password opens the restored vault. Blobs are hard links into the data directory when
both are on one file system (a blob is never rewritten in place, only replaced by a rename, so
a link keeps the bytes of the moment), copies otherwise. A vault whose blobs are in an object
store (VAULT_BLOB_STORE=s3) has each object downloaded into the same layout: a snapshot does not
depend on the store that made it, and restores into either. Restoring into the object store
needs an empty bucket; the blobs are uploaded under their keys (their paths below `blobs/`).

Consistency: the dump and the list of blobs to keep are read in one REPEATABLE READ transaction
whose snapshot pg_dump shares (`pg_export_snapshot`), so every row in the dump has its blob, and
a photo uploaded while the backup runs is in neither. A blob deleted between the snapshot and
its link fails the attempt; the backup then starts again (ATTEMPTS in all).

A snapshot becomes visible only complete: it is written under `.partial-<name>` and renamed.
Failures are recorded in `last-failure.json` for /healthz.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction

from vault.blobstore import BlobStore, get_store
from vault.blobstore.local import LocalStore, fsync_dir
from vault.photos import storage
from vault.photos.models import Blob
from vault.version import vault_version

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
DUMP = "database.dump"
BLOBS = "blobs"
FAILURE = "last-failure.json"
PARTIAL = ".partial-"
NAME_FORMAT = "%Y%m%dT%H%M%SZ"
ATTEMPTS = 3
TRANSFER = 1 << 20  # bytes per read while copying a blob to or from the object store


class BackupError(Exception):
    """A backup or restore that did not happen; the message says why, for the operator."""


@dataclass(frozen=True)
class Snapshot:
    path: Path
    created_at: datetime
    dump_sha256: str
    dump_bytes: int
    blob_count: int
    blob_bytes: int
    # The release that made it (vault.version); None for snapshots of releases before 0.3.0.
    vault_version: str | None = None

    @classmethod
    def read(cls, path: Path) -> Snapshot:
        """The snapshot at `path`, from its manifest. Raises BackupError when it is not one."""
        try:
            manifest = json.loads((path / MANIFEST).read_text())
            if manifest["format"] != FORMAT:
                raise BackupError(f"{path}: snapshot format {manifest['format']} is unknown")
            return cls(
                path=path,
                created_at=datetime.fromisoformat(manifest["created_at"]),
                dump_sha256=manifest["database"]["sha256"],
                dump_bytes=manifest["database"]["bytes"],
                blob_count=manifest["blobs"]["count"],
                blob_bytes=manifest["blobs"]["bytes"],
                vault_version=manifest.get("vault_version"),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise BackupError(f"{path} is not a readable vault backup ({error})") from None


# Selectors ------------------------------------------------------------------------------------


def backups_list(root: Path) -> list[Snapshot]:
    """Complete snapshots under `root`, newest first (unreadable ones are left out)."""
    if not root.is_dir():
        return []
    found = []
    for path in sorted(root.iterdir(), reverse=True):
        if path.name.startswith(".") or not path.is_dir():
            continue
        try:
            found.append(Snapshot.read(path))
        except BackupError:
            continue
    return found


def backup_latest(root: Path) -> Snapshot | None:
    snapshots = backups_list(root)
    return snapshots[0] if snapshots else None


def backup_failure_read(root: Path) -> dict | None:
    """The last failed run ({"at": ISO time, "error": text}), or None."""
    try:
        return json.loads((root / FAILURE).read_text())
    except (OSError, ValueError):
        return None


# Services -------------------------------------------------------------------------------------


def backup_create(*, root: Path, keep: int, now: datetime | None = None) -> Snapshot:
    """Take a snapshot under `root` and keep the `keep` newest. Raises BackupError (and records
    it for /healthz) when it cannot."""
    if keep < 1:
        raise BackupError("keep at least one snapshot")
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        _remove_partials(root)
        error: BackupError | None = None
        for attempt in range(1, ATTEMPTS + 1):
            try:
                snapshot = _snapshot_take(root, now or datetime.now(UTC))
                break
            except _BlobVanished as vanished:
                log.warning("backup attempt %d: %s; starting again", attempt, vanished)
                error = BackupError(f"blobs kept vanishing while the backup ran ({vanished})")
        else:
            raise error
        removed = backups_prune(root, keep=keep)
    except BackupError as failure:
        _failure_record(root, str(failure))
        raise
    except OSError as failure:
        _failure_record(root, f"{type(failure).__name__}: {failure}")
        raise BackupError(f"{type(failure).__name__}: {failure}") from failure
    log.info(
        "backup %s: %d blob(s) of %d bytes, database %d bytes; %d old snapshot(s) removed",
        snapshot.path.name,
        snapshot.blob_count,
        snapshot.blob_bytes,
        snapshot.dump_bytes,
        len(removed),
    )
    return snapshot


def backups_prune(root: Path, *, keep: int) -> list[Path]:
    """Remove all but the `keep` newest complete snapshots; returns the removed paths."""
    removed = [snapshot.path for snapshot in backups_list(root)[keep:]]
    for path in removed:
        shutil.rmtree(path)
    return removed


class _BlobVanished(Exception):
    pass


def _snapshot_take(root: Path, now: datetime) -> Snapshot:
    name = now.strftime(NAME_FORMAT)
    final = root / name
    if final.exists():
        raise BackupError(f"{final} exists already (two backups in one second?)")
    partial = root / f"{PARTIAL}{name}"
    partial.mkdir(mode=0o700)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                # The first statement of the transaction; pg_dump then sees exactly this state.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cursor.execute("SELECT pg_export_snapshot()")
                [snapshot_id] = cursor.fetchone()
            _pg_run(
                "pg_dump",
                ["--format=custom", f"--snapshot={snapshot_id}", "--file", str(partial / DUMP)],
            )
            rows = Blob.objects.values_list("photo__owner_id", "photo_id", "variant", "index")
            count, size = _blobs_link(list(rows.iterator()), partial / BLOBS)
        dump = partial / DUMP
        manifest = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "vault_version": vault_version(),
            "database": {"file": DUMP, "sha256": _sha256(dump), "bytes": dump.stat().st_size},
            "blobs": {"count": count, "bytes": size},
        }
        _write_durably(partial / MANIFEST, json.dumps(manifest, indent=2).encode())
        partial.rename(final)
        fsync_dir(root)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Snapshot.read(final)


def _blobs_link(rows: list[tuple], target: Path) -> tuple[int, int]:
    store = get_store()
    total = 0
    for owner_id, photo_id, variant, index in rows:
        key = storage.blob_key(owner_id, photo_id, variant, index)
        copy = target / key
        copy.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            if isinstance(store, LocalStore):
                _file_link(store.path(key), copy)
            else:  # the object store (or one still moving to it): download the ciphertext
                _object_download(store, key, copy)
        except FileNotFoundError:  # BlobMissing is one
            raise _BlobVanished(f"{key} is gone") from None
        total += copy.stat().st_size
    return len(rows), total


def _file_link(source: Path, copy: Path) -> None:
    try:
        os.link(source, copy)
    except OSError as error:
        if not source.exists():
            raise
        log.debug("hard link failed (%s); copying %s", error, source)
        shutil.copy2(source, copy)


def _object_download(store: BlobStore, key: str, copy: Path) -> None:
    """Write the object's bytes to `copy` (only ciphertext: objects are SPV1 blobs)."""
    with store.reader(key) as reader, copy.open("wb") as stream:
        offset = 0
        while offset < reader.size:
            block = reader.read_at(offset, TRANSFER)
            if not block:
                raise BackupError(f"{key} ended early while it was copied")
            stream.write(block)
            offset += len(block)
        stream.flush()
        os.fsync(stream.fileno())


def backup_restore(path: Path, *, data_dir: Path) -> Snapshot:
    """Restore the snapshot at `path` into the configured database and blob store, both fresh:
    an empty database (no tables) and, for the local store, a `data_dir` without blobs, for an
    object store an empty bucket. Checks the dump's sha256 and the blob count first.
    Migrations and `vault_check` are the caller's next steps. Raises BackupError."""
    snapshot = Snapshot.read(path)
    dump = path / DUMP
    if _sha256(dump) != snapshot.dump_sha256:
        raise BackupError(f"{dump} does not match the sha256 in its manifest: damaged copy")
    blob_files = (
        [p for p in (path / BLOBS).rglob("*") if p.is_file()] if (path / BLOBS).is_dir() else []
    )
    if len(blob_files) != snapshot.blob_count:
        raise BackupError(
            f"{path / BLOBS} holds {len(blob_files)} blob(s), the manifest {snapshot.blob_count}"
        )
    tables = connection.introspection.table_names()
    if tables:
        name = connection.settings_dict["NAME"]
        raise BackupError(
            f"database {name!r} is not empty ({len(tables)} tables): restore into a fresh database"
        )
    store = get_store()
    into_directory = isinstance(store, LocalStore)
    blobs = data_dir / BLOBS
    if into_directory:
        if blobs.exists() and any(blobs.iterdir()):
            raise BackupError(f"{blobs} is not empty: restore into a fresh data directory")
    else:
        _bucket_require_empty(store)
    connection.close()  # pg_restore works in its own session
    _pg_run(
        "pg_restore",
        ["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", str(dump)],
        database_option=True,
    )
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not into_directory:
        _objects_upload(store, path / BLOBS, blob_files)
        return snapshot
    staging = data_dir / f"{PARTIAL}{BLOBS}"
    shutil.rmtree(staging, ignore_errors=True)
    # Copies, not links: the restored vault must not share files with the backup it came from.
    if (path / BLOBS).is_dir():
        shutil.copytree(path / BLOBS, staging, copy_function=shutil.copy2)
    else:
        staging.mkdir(mode=0o700)
    if blobs.exists():
        blobs.rmdir()
    staging.rename(blobs)
    return snapshot


def _bucket_require_empty(store: BlobStore) -> None:
    try:
        for key, _size in store.list(""):
            if not key.startswith("probe/"):  # a /healthz probe in flight is no blob
                raise BackupError(
                    f"the object store ({store!r}) already holds blobs ({key}, ...): restore "
                    "into an empty bucket"
                )
    except OSError as error:  # StoreError: unreachable, no such bucket, refused credentials
        raise BackupError(f"cannot list the object store: {error}") from None


def _objects_upload(store: BlobStore, root: Path, files: list[Path]) -> None:
    """Put every blob file of a snapshot into the object store under its key (its path below
    `root`), each checked afterwards by its size in the store."""
    for file in sorted(files):
        key = file.relative_to(root).as_posix()
        size = file.stat().st_size
        try:
            with file.open("rb") as stream, store.writer(key) as writer:
                for block in iter(lambda s=stream: s.read(TRANSFER), b""):
                    writer.write(block)
                writer.finish()
            stored = store.size(key)
        except OSError as error:
            raise BackupError(f"cannot put {key} into the object store: {error}") from None
        if stored != size:
            raise BackupError(f"{key}: the object store holds {stored} bytes, the backup {size}")


# Helpers --------------------------------------------------------------------------------------


def _pg_run(program: str, args: list[str], *, database_option: bool = False) -> None:
    """Run pg_dump or pg_restore against the configured database. The password goes through
    the environment (PGPASSWORD), never the command line; peer authentication needs none."""
    db = connection.settings_dict
    env = dict(os.environ)
    for variable, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER")):
        env.pop(variable, None)
        if db.get(key):
            env[variable] = str(db[key])
    env.pop("PGPASSWORD", None)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    env["PGDATABASE"] = db["NAME"]
    binary = Path(settings.VAULT_PG_BIN_DIR) / program if settings.VAULT_PG_BIN_DIR else program
    command = [str(binary), *args]
    if database_option:
        command[1:1] = ["--dbname", db["NAME"]]
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    except OSError as error:
        raise BackupError(f"cannot run {binary}: {error}") from None
    if result.returncode != 0:
        raise BackupError(
            f"{program} failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as stream:
        stream.write(data)
        stream.flush()
        os.fsync(stream.fileno())


def _remove_partials(root: Path) -> None:
    """Leftovers of a run that was killed; never a usable snapshot."""
    for path in root.glob(f"{PARTIAL}*"):
        shutil.rmtree(path, ignore_errors=True)


def _failure_record(root: Path, error: str) -> None:
    log.error("backup failed: %s", error)
    try:
        record = {"at": datetime.now(UTC).isoformat(), "error": error}
        (root / FAILURE).write_text(json.dumps(record))
    except OSError:
        log.exception("could not record the failure in %s", root / FAILURE)
