"""Read-only checks of what the vault depends on: database, queue, workers, model files, the
age of the last good backup and the blob store (its probe object is the one write)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import connection
from rq import Worker

from vault import backup, modelcards
from vault.health.checks import REQUIRED_TASKS
from vault.processing import queue
from vault.processing.worker_keys import (
    advertised_models,
    enrolment_check_publish,
    worker_adverts,
)
from vault.version import vault_version


@dataclass
class Check:
    ok: bool
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"ok": self.ok, **self.detail}


def database_check() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any failure means "not fine"; the class name says which
        return Check(False, {"error": type(exc).__name__})
    return Check(True)


def _redis():
    return queue.connection()


def queue_check() -> Check:
    try:
        shared = queue.shared_queue()
        shared.connection.ping()
        return Check(True, {"queued_jobs": shared.count})
    except Exception as exc:
        return Check(False, {"error": type(exc).__name__})


def _worker_records() -> tuple[list[Worker], int]:
    """(RQ's records of the registered workers, how many records could not be read). One by
    one, unlike Worker.all(): whoever can write to Valkey could plant a malformed record, which
    must not hide the real workers."""
    connection = _redis()
    workers, unreadable = [], 0
    for key in Worker.all_keys(connection=connection):
        try:
            worker = Worker.find_by_key(key, connection=connection)
        except (ValueError, TypeError, KeyError, OverflowError):
            unreadable += 1
            continue
        if worker is not None:
            workers.append(worker)
    return workers, unreadable


def workers_check(*, now: datetime | None = None) -> Check:
    """Live workers are those whose last heartbeat is younger than VAULT_WORKER_TTL + 15 s."""
    now = now or datetime.now(UTC)
    limit = settings.VAULT_WORKER_TTL + 15
    try:
        workers, unreadable = _worker_records()
    except Exception as exc:
        return Check(False, {"error": type(exc).__name__, "workers": []})
    rows = []
    for worker in workers:
        beat = worker.last_heartbeat
        if beat is not None and beat.tzinfo is None:
            beat = beat.replace(tzinfo=UTC)
        age = (now - beat).total_seconds() if beat else None
        rows.append(
            {
                "name": worker.name,
                "state": worker.get_state(),
                "heartbeat_age_s": round(age, 1) if age is not None else None,
                "alive": age is not None and age < limit,
                "rq_host": worker.hostname,
            }
        )
    try:
        loaded = advertised_models([row["name"] for row in rows], _redis())
    except Exception:
        loaded = {}
    for row in rows:
        # What the worker process has loaded, as it publishes with its heartbeat ({task:
        # [model id]}; None: it publishes nothing). Compare with "models" (the active cards).
        row["loaded_models"] = loaded.get(row["name"])
    alive = [row for row in rows if row["alive"]]
    # A worker that advertises no key (started without the vault's worker class) runs jobs but
    # can be granted no photo, nor can one whose key is not enrolled (its advert's tag does not
    # verify under VAULT_WORKER_ENROLMENT_SECRET): photo processing needs an enrolled key.
    try:
        adverts = worker_adverts(_redis())
        enrolment_check_publish(_redis())  # a worker with another secret then says so
    except Exception as exc:
        return Check(False, {"error": type(exc).__name__, "workers": rows})
    # An enrolled advert wins over another naming the same worker (a forged one cannot hide it).
    by_worker = {advert.worker: advert for advert in sorted(adverts, key=lambda a: a.enrolled)}
    for row in rows:
        advert = by_worker.get(row["name"])
        # The host the worker names in its advert (RQ's own record is the fallback).
        row["host"] = advert.host if advert else row.pop("rq_host")
        row.pop("rq_host", None)
        row["enrolled"] = advert.enrolled if advert else False
    keys = sum(advert.enrolled for advert in adverts)
    detail = {"alive": len(alive), "processing_keys": keys, "workers": rows}
    if unreadable:
        detail["unreadable_worker_records"] = unreadable
    unenrolled = len(adverts) - keys
    if unenrolled:
        detail["unenrolled_keys"] = unenrolled
    if alive and not keys:
        detail["error"] = (
            "no worker advertises an enrolled processing key (use VaultWorker, with the "
            "web's VAULT_WORKER_ENROLMENT_SECRET)"
        )
    return Check(bool(alive) and keys > 0, detail)


def models_check() -> Check:
    """Every model card read and its file checked against its sha256 (vault.modelcards), and
    the active model of each task the workers need. No model is loaded here."""
    models_dir = Path(settings.VAULT_MODELS_DIR)
    rows = [row.as_dict() for row in modelcards.cards_scan(models_dir)]
    detail: dict = {"files": rows}
    for task in REQUIRED_TASKS:
        try:
            detail[task] = {
                "ok": True,
                "model": modelcards.active_card(models_dir, task).model_id,
            }
        except modelcards.CardError as error:
            # Photos are still stored and thumbnailed; they are tagged, or their faces found,
            # once a usable model is active.
            detail[task] = {"ok": False, "error": str(error)}
    tasks_ok = all(detail[task]["ok"] for task in REQUIRED_TASKS)
    return Check(all(row["ok"] for row in rows) and tasks_ok, detail)


def backup_check(*, now: datetime | None = None) -> Check:
    """The last good backup under VAULT_BACKUP_DIR is younger than VAULT_BACKUP_MAX_AGE; a
    failed run since then is shown with its error. Without VAULT_BACKUP_DIR (development)
    there is nothing to check."""
    root = settings.VAULT_BACKUP_DIR
    if root is None:
        return Check(True, {"configured": False})
    now = now or datetime.now(UTC)
    limit = settings.VAULT_BACKUP_MAX_AGE
    detail: dict = {"max_age_s": limit}
    try:
        latest = backup.backup_latest(Path(root))
        failure = backup.backup_failure_read(Path(root))
    except OSError as exc:
        return Check(False, {**detail, "error": type(exc).__name__})
    if failure and (latest is None or failure.get("at", "") > latest.created_at.isoformat()):
        detail["last_failure"] = failure
    if latest is None:
        return Check(False, {**detail, "error": "no backup yet"})
    age = (now - latest.created_at).total_seconds()
    detail.update(
        {
            "last_good": latest.created_at.isoformat(),
            "age_s": round(age),
            "blobs": latest.blob_count,
        }
    )
    if age > limit:
        detail["error"] = "the last good backup is too old"
    return Check(age <= limit, detail)


def blob_store_check() -> Check:
    """The blob store end to end (vault.blobstore probe): reachable, bucket present, a probe
    object written, read back and deleted. The detail names the endpoint, never a credential."""
    from django.core.exceptions import ImproperlyConfigured

    from vault.blobstore import get_store

    try:
        probe = get_store().probe()
    except ImproperlyConfigured as exc:  # names the setting, never its value
        return Check(False, {"error": str(exc)})
    except Exception as exc:  # a store that cannot even be built: the class name says why
        return Check(False, {"error": type(exc).__name__})
    return Check(bool(probe.pop("ok")), probe)


def health_report() -> dict:
    checks = {
        "database": database_check(),
        "queue": queue_check(),
        "workers": workers_check(),
        "models": models_check(),
        "backup": backup_check(),
        "blob_store": blob_store_check(),
    }
    return {
        "ok": all(check.ok for check in checks.values()),
        "version": vault_version(),
        **{name: check.as_dict() for name, check in checks.items()},
    }
