"""Photo grants (DESIGN §4): a photo's data key and the owner's metadata key, wrapped with HPKE
to each live worker's in-memory key and bound to (grant id, user, photo, expiry)."""

from __future__ import annotations

import uuid

from django.utils import timezone

from vault.crypto import DecryptionError, hpke_wrap
from vault.photos.models import Photo, ProcessingGrant
from vault.processing.grants.base import GrantedKeys, GrantUnavailable, grant_expiry, grant_info
from vault.processing.worker_keys import live_worker_keys


def _info(grant_id, photo: Photo, expires_at, purpose: str) -> bytes:
    return grant_info(
        grant_id,
        user_id=photo.owner_id,
        photo_id=photo.id,
        expires_at=expires_at,
        purpose=purpose,
    )


def photo_grants_issue(
    *, photo: Photo, data_key: bytes, metadata_key: bytes, workers: dict[str, bytes] | None = None
) -> int:
    """Replace the photo's grants with one per live worker key; return how many were made.
    Zero means no worker is running: the photo waits, and the owner's next visit retries."""
    workers = live_worker_keys() if workers is None else workers
    expires_at = grant_expiry()
    ProcessingGrant.objects.filter(photo=photo).delete()
    grants = []
    for worker_key_id, public_key in workers.items():
        grant_id = uuid.uuid4()
        grants.append(
            ProcessingGrant(
                id=grant_id,
                photo=photo,
                worker_key_id=worker_key_id,
                wrapped_data_key=hpke_wrap.wrap(
                    data_key, public_key, _info(grant_id, photo, expires_at, "data-key")
                ),
                wrapped_metadata_key=hpke_wrap.wrap(
                    metadata_key, public_key, _info(grant_id, photo, expires_at, "metadata-key")
                ),
                expires_at=expires_at,
            )
        )
    ProcessingGrant.objects.bulk_create(grants)
    return len(grants)


def photo_grant_open(*, photo: Photo, worker_key_id: str, private_key: bytes) -> GrantedKeys:
    """The worker's side: unwrap DK and MK from the grant made to its key. Raises
    GrantUnavailable when there is none, it has expired, or it does not open."""
    grant = ProcessingGrant.objects.filter(photo=photo, worker_key_id=worker_key_id).first()
    if grant is None:
        raise GrantUnavailable("no grant to this worker's key")
    if grant.expires_at <= timezone.now():
        raise GrantUnavailable("the grant has expired")
    try:
        data_key = hpke_wrap.unwrap(
            bytes(grant.wrapped_data_key),
            private_key,
            _info(grant.id, photo, grant.expires_at, "data-key"),
        )
        metadata_key = hpke_wrap.unwrap(
            bytes(grant.wrapped_metadata_key),
            private_key,
            _info(grant.id, photo, grant.expires_at, "metadata-key"),
        )
    except DecryptionError:
        raise GrantUnavailable("the grant does not open with this worker's key") from None
    return GrantedKeys(data_key=data_key, metadata_key=metadata_key)


def photo_grants_revoke(*, photo: Photo) -> None:
    ProcessingGrant.objects.filter(photo=photo).delete()
