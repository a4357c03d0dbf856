"""What every kind of grant shares: the one exception, the `info` binding, the expiry and the
live-grant query."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from redis.exceptions import RedisError

from vault.crypto import hpke_wrap
from vault.processing.worker_keys import live_worker_keys

log = logging.getLogger(__name__)


class GrantUnavailable(Exception):
    """No usable grant for this worker: none to its key, expired, or it does not open."""


@dataclass(frozen=True)
class GrantedKeys:
    """What a photo grant opens to: the photo's data key and the owner's metadata key."""

    data_key: bytes
    metadata_key: bytes

    def __repr__(self) -> str:  # keep keys out of logs and tracebacks
        return "GrantedKeys(...)"


def grant_expiry() -> dt.datetime:
    """When grants issued now expire: VAULT_GRANT_LIFETIME seconds from now, whole seconds (the
    expiry is bound into `info` as Unix seconds)."""
    return timezone.now().replace(microsecond=0) + dt.timedelta(
        seconds=settings.VAULT_GRANT_LIFETIME
    )


def grant_info(grant_id, *, user_id, photo_id, expires_at: dt.datetime, purpose: str) -> bytes:
    """The HPKE `info` a grant's wrap is bound to (vault.crypto.hpke_wrap.grant_info)."""
    return hpke_wrap.grant_info(
        grant_id=str(grant_id),
        user_id=str(user_id),
        photo_id=str(photo_id),
        expires_at=int(expires_at.timestamp()),
        purpose=purpose,
    )


def live_grants(grants: QuerySet, workers: Collection[str]) -> QuerySet:
    """The rows of `grants` (any kind) that a live worker can still open: made to one of
    `workers` (key ids, or live_workers()' {key id: public key}) and not expired."""
    return grants.filter(worker_key_id__in=list(workers), expires_at__gt=timezone.now())


def live_workers() -> dict[str, bytes]:
    """The live worker keys; none when Valkey cannot be reached (photos then wait, pending,
    and the owner's pages keep working)."""
    try:
        return live_worker_keys()
    except RedisError:
        log.warning("the worker key registry cannot be read", exc_info=True)
        return {}
