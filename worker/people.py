"""The `people_cluster` job (DESIGN §8): group all of an owner's faces into people, under the
clustering grant made on one of their visits (it cannot run while they are signed out).

Orchestration only: People's services (vault/people/clustering_run.py) read the faces and
write the result; worker/clustering.py computes it. The owner's corrections are constraints,
not hints: faces the owner placed stay, vetoed faces never join the person, named or merged
people are never renamed, split, merged or dropped. Changes the owner makes while the run
computes win: a face whose person or assignment changed meanwhile is left as the owner left it.
"""

from __future__ import annotations

import logging

from vault.people.clustering_run import (
    clustering_input,
    clustering_run_apply,
    clustering_run_finish,
)
from vault.processing.grants.base import GrantUnavailable
from vault.processing.grants.clustering import clustering_grant_open, clustering_grants_revoke
from vault.processing.locks import advisory_lock
from worker import identity

log = logging.getLogger(__name__)

# PostgreSQL advisory-lock namespace of the clustering run (photo locks use the photo uuid).
_LOCK_NAMESPACE = 0x5350_5650  # "SPVP"


def _owner_lock(owner_id: int):
    """One clustering run per owner at a time (see vault.processing.locks)."""
    return advisory_lock(_LOCK_NAMESPACE, int(owner_id))


def people_cluster_run(user_id) -> str:
    try:
        owner_id = int(user_id)
    except (TypeError, ValueError):
        return "bad id"
    with _owner_lock(owner_id) as acquired:
        if not acquired:
            return "busy"
        me = identity.current()
        try:
            metadata_key = clustering_grant_open(
                owner_id=owner_id, worker_key_id=me.key_id, private_key=me.private_key
            )
        except GrantUnavailable as error:
            log.info("user %s: %s", owner_id, error)
            return "no grant"
        try:
            return _cluster(owner_id, metadata_key)
        finally:
            clustering_grants_revoke(owner_id=owner_id)


def _cluster(owner_id: int, metadata_key: bytes) -> str:
    from vault.people.suggestions import people_suggestions_refresh
    from worker.clustering import cluster_faces

    run = clustering_input(owner_id=owner_id, metadata_key=metadata_key)
    result = cluster_faces(run.faces, run.people)
    changed = clustering_run_apply(run=run, result=result, metadata_key=metadata_key)
    # Steps that follow an applied run (computed from the people it left) go here, before the
    # run is called done: the pages show its results once it is.
    # Review candidates and merge suggestions for the pages, sealed (issue 25).
    people_suggestions_refresh(
        owner_id=owner_id,
        metadata_key=metadata_key,
        vectors={face.face_id: face.embedding for face in run.faces},
    )
    clustering_run_finish(run=run)
    log.info(
        "user %s: clustered %d face(s) into %d new and existing people; %d face(s) moved",
        owner_id,
        len(run.faces),
        len({p for p in result.assignments.values() if p}),
        changed,
    )
    return "clustered"
