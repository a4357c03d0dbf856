"""Processing grants (DESIGN §4): a photo's data key and the owner's metadata key, wrapped with
HPKE to each live worker's in-memory key and bound to (grant id, user, photo, expiry)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from vault.crypto import DecryptionError, hpke_wrap
from vault.photos.models import Photo, ProcessingGrant
from vault.processing.worker_keys import live_worker_keys


class GrantUnavailable(Exception):
    """No usable grant for this worker: none to its key, expired, or it does not open."""


@dataclass(frozen=True)
class GrantedKeys:
    data_key: bytes
    metadata_key: bytes

    def __repr__(self) -> str:  # keep keys out of logs and tracebacks
        return "GrantedKeys(...)"


def _info(grant_id, photo: Photo, expires_at: dt.datetime, purpose: str) -> bytes:
    return hpke_wrap.grant_info(
        grant_id=str(grant_id),
        user_id=str(photo.owner_id),
        photo_id=str(photo.id),
        expires_at=int(expires_at.timestamp()),
        purpose=purpose,
    )


def grants_issue(
    *, photo: Photo, data_key: bytes, metadata_key: bytes, workers: dict[str, bytes] | None = None
) -> int:
    """Replace the photo's grants with one per live worker key; return how many were made.
    Zero means no worker is running: the photo waits, and the owner's next visit retries."""
    workers = live_worker_keys() if workers is None else workers
    expires_at = timezone.now().replace(microsecond=0) + dt.timedelta(
        seconds=settings.VAULT_GRANT_LIFETIME
    )
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


def grant_open(*, photo: Photo, worker_key_id: str, private_key: bytes) -> GrantedKeys:
    """The worker's side: unwrap DK and MK from the grant made to its key."""
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


def grants_revoke(*, photo: Photo) -> None:
    ProcessingGrant.objects.filter(photo=photo).delete()
