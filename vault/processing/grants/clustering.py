"""Clustering grants (DESIGN §4): the owner's metadata key wrapped with HPKE to each live
worker's key, bound to (grant id, user, expiry) and to its purpose, for one clustering run.
A run needs no data key: it reads sealed embeddings only."""

from __future__ import annotations

import uuid

from django.utils import timezone

from vault.crypto import DecryptionError, hpke_wrap
from vault.people.models import ClusteringGrant
from vault.processing.grants.base import GrantUnavailable, grant_expiry, grant_info

PURPOSE = "clustering-metadata-key"


def _info(grant_id, owner_id, expires_at) -> bytes:
    # A clustering grant is for all of the owner's faces: no single photo.
    return grant_info(
        grant_id, user_id=owner_id, photo_id="", expires_at=expires_at, purpose=PURPOSE
    )


def clustering_grants_issue(*, user, metadata_key: bytes, workers: dict[str, bytes]) -> int:
    """Replace the owner's clustering grants with one per live worker key; returns how many."""
    expires_at = grant_expiry()
    ClusteringGrant.objects.filter(owner=user).delete()
    rows = []
    for worker_key_id, public_key in workers.items():
        grant_id = uuid.uuid4()
        rows.append(
            ClusteringGrant(
                id=grant_id,
                owner=user,
                worker_key_id=worker_key_id,
                wrapped_metadata_key=hpke_wrap.wrap(
                    metadata_key, public_key, _info(grant_id, user.pk, expires_at)
                ),
                expires_at=expires_at,
            )
        )
    ClusteringGrant.objects.bulk_create(rows)
    return len(rows)


def clustering_grant_open(*, owner_id, worker_key_id: str, private_key: bytes) -> bytes:
    """The worker's side: the owner's metadata key, from the grant made to its key. Raises
    GrantUnavailable when there is none, it has expired, or it does not open."""
    grant = ClusteringGrant.objects.filter(owner_id=owner_id, worker_key_id=worker_key_id).first()
    if grant is None:
        raise GrantUnavailable("no clustering grant to this worker's key")
    if grant.expires_at <= timezone.now():
        raise GrantUnavailable("the clustering grant has expired")
    try:
        return hpke_wrap.unwrap(
            bytes(grant.wrapped_metadata_key),
            private_key,
            _info(grant.id, owner_id, grant.expires_at),
        )
    except DecryptionError:
        raise GrantUnavailable("the clustering grant does not open with this key") from None


def clustering_grants_revoke(*, owner_id) -> None:
    ClusteringGrant.objects.filter(owner_id=owner_id).delete()
