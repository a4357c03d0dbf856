"""RQ job entry points. Each takes ids only (never keys or file bytes) and calls a service."""

from __future__ import annotations

from rq import get_current_job


def queue_probe(probe_id: int) -> bool:
    from vault.health.services import queue_probe_receive

    job = get_current_job()
    worker_name = job.worker_name if job is not None and job.worker_name else "unknown"
    return queue_probe_receive(probe_id=probe_id, worker_name=worker_name)


def photo_process(photo_id: str, passed_on: bool = False) -> str:
    """Decrypt, read, thumbnail, tag and find faces in one photo. `passed_on`: the
    job came from a worker that held no grant for the photo (see pipeline.photo_process_run)."""
    from worker.pipeline import photo_process_run

    return photo_process_run(photo_id, passed_on=passed_on)


def photo_update(photo_id: str, passed_on: bool = False) -> str:
    """Run the pipeline steps a ready photo is missing (a new tagger, say). `passed_on`: the
    job came from a worker that held no grant for the photo (see update.photo_update_run)."""
    from worker.update import photo_update_run

    return photo_update_run(photo_id, passed_on=passed_on)


def people_cluster(user_id: int) -> str:
    """Group the owner's faces into people (a full clustering run under a clustering grant)."""
    from worker.people import people_cluster_run

    return people_cluster_run(user_id)
