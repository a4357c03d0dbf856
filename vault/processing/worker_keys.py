"""The registry of live worker keys in Valkey (DESIGN §4, §14).

Each worker process advertises its in-memory X25519 public key under its key id with a TTL
that its heartbeat renews; a key that stops being renewed disappears, and grants to it are dead.
The web tier reads this registry to know whom to grant photos to, and counts only keys whose
advert carries a valid enrolment tag (vault.processing.enrolment): writing to Valkey is not
enough to be granted photos.

An advert is JSON: {"key": base64 public key, "expires_at": Unix seconds, "host": host name,
"worker": RQ worker name, "tag": base64 HMAC-SHA-256 enrolment tag}.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from vault.processing import enrolment

PREFIX = "spv:worker-key:"
# A real advert is about 250 bytes; anything far longer is not one (and is not parsed).
ADVERT_MAX_BYTES = 4096
QUEUE_PREFIX = "spv-worker-"
# The web's enrolment check value (vault.processing.enrolment.enrolment_check_value).
CHECK_KEY = "spv:worker-enrolment-check"
MODELS_PREFIX = "spv:worker-models:"


def queue_name(worker_key_id: str) -> str:
    """The worker's own queue, which it listens to before the shared one: a job taken by a
    worker that holds no grant for the photo is passed on to one that does, through it."""
    return QUEUE_PREFIX + worker_key_id


def key_id(public_key: bytes) -> str:
    return hashlib.sha256(public_key).digest()[:8].hex()


def _connection(connection=None):
    if connection is not None:
        return connection
    from vault.processing.queue import connection as queue_connection  # (imports this module)

    return queue_connection()


def _settings_secret() -> bytes:
    from django.conf import settings

    return settings.VAULT_WORKER_ENROLMENT_SECRET


def _settings_host() -> str:
    from django.conf import settings

    return settings.VAULT_WORKER_HOST


def advertise(
    public_key: bytes,
    *,
    ttl: int,
    connection=None,
    worker: str = "",
    host: str | None = None,
    secret: bytes | None = None,
) -> None:
    """Publish the key for `ttl` seconds, tagged with the enrolment secret (by default
    VAULT_WORKER_ENROLMENT_SECRET) and naming this host (VAULT_WORKER_HOST) and RQ worker."""
    secret = _settings_secret() if secret is None else secret
    host = _settings_host() if host is None else host
    expires_at = int(time.time()) + ttl
    tag = enrolment.enrolment_tag(
        secret, public_key=public_key, expires_at=expires_at, host=host, worker=worker
    )
    advert = {
        "key": base64.b64encode(public_key).decode(),
        "expires_at": expires_at,
        "host": host,
        "worker": worker,
        "tag": base64.b64encode(tag).decode(),
    }
    _connection(connection).set(PREFIX + key_id(public_key), json.dumps(advert), ex=ttl)


def withdraw(public_key: bytes, *, connection=None) -> None:
    _connection(connection).delete(PREFIX + key_id(public_key))


@dataclass(frozen=True)
class WorkerAdvert:
    """One advertised worker key as read from Valkey; `enrolled` says whether its tag verified
    under this process's enrolment secret (only enrolled keys are granted photos)."""

    key_id: str
    public_key: bytes
    host: str
    worker: str
    enrolled: bool


def _advert_parse(value: bytes, secret: bytes, now: float) -> WorkerAdvert | None:
    if len(value) == 32:
        # A bare key, as adverts were before enrolment (or as anyone can write): not enrolled.
        return WorkerAdvert(key_id(bytes(value)), bytes(value), "", "", enrolled=False)
    if len(value) > ADVERT_MAX_BYTES:
        return None
    try:
        advert = json.loads(value)
        public_key = base64.b64decode(advert["key"], validate=True)
        tag = base64.b64decode(advert["tag"], validate=True)
        expires_at, host, worker = advert["expires_at"], advert["host"], advert["worker"]
    except (ValueError, TypeError, KeyError, RecursionError):
        # Not an advert at all. RecursionError: JSON nested deeper than Python's stack, which
        # anyone who can write to Valkey could plant to make every grant (upload) fail.
        return None
    if not (
        len(public_key) == 32
        and isinstance(expires_at, int)
        and isinstance(host, str)
        and isinstance(worker, str)
    ):
        return None
    enrolled = enrolment.enrolment_verify(
        secret, tag, public_key=public_key, expires_at=expires_at, host=host, worker=worker, now=now
    )
    # The id is recomputed from the key, never taken from the entry's name: an entry whose
    # name and key disagree cannot make the web tier file a grant under the wrong id.
    return WorkerAdvert(key_id(public_key), public_key, host, worker, enrolled)


def worker_adverts(connection=None, *, secret: bytes | None = None) -> list[WorkerAdvert]:
    """Every advertised worker key that has not expired, enrolled or not (for /healthz)."""
    conn = _connection(connection)
    secret = _settings_secret() if secret is None else secret
    names = list(conn.scan_iter(match=PREFIX + "*", count=100))
    if not names:
        return []
    now = time.time()
    parsed = (_advert_parse(value, secret, now) for value in conn.mget(names) if value is not None)
    return [advert for advert in parsed if advert is not None]


def live_worker_keys(connection=None) -> dict[str, bytes]:
    """{key id: public key} of every enrolled worker whose key has not expired: the keys the
    web tier may grant photos to. Also publishes the web's enrolment check value, by which a
    worker holding another secret finds out and says so in its log (enrolment_secret_matches)."""
    conn = _connection(connection)
    enrolment_check_publish(conn)
    return {advert.key_id: advert.public_key for advert in worker_adverts(conn) if advert.enrolled}


def enrolment_check_publish(connection=None) -> None:
    """Publish the web's enrolment check value (the web tier only: grants and /healthz)."""
    _connection(connection).set(CHECK_KEY, enrolment.enrolment_check_value(_settings_secret()))


def enrolment_secret_matches(connection=None, *, secret: bytes | None = None) -> bool | None:
    """Whether this process's enrolment secret is the web's, as far as the check value the web
    last published says; None before the web has published one."""
    published = _connection(connection).get(CHECK_KEY)
    if published is None:
        return None
    secret = _settings_secret() if secret is None else secret
    return hmac.compare_digest(bytes(published), enrolment.enrolment_check_value(secret))


def advertise_models(worker_name: str, models: dict, *, ttl: int, connection=None) -> None:
    """Publish which models a worker process has loaded ({task: [model id, ...]}), renewed
    with its heartbeat like its key, so that /healthz can show them per worker."""
    _connection(connection).set(MODELS_PREFIX + worker_name, json.dumps(models), ex=ttl)


def advertised_models(worker_names: list[str], connection=None) -> dict[str, dict | None]:
    """{worker name: {task: [model id, ...]}} as each worker last published it; None for a
    worker that publishes nothing (not the vault's worker class, or its entry expired)."""
    if not worker_names:
        return {}
    values = _connection(connection).mget([MODELS_PREFIX + name for name in worker_names])
    found: dict[str, dict | None] = {}
    for name, value in zip(worker_names, values, strict=True):
        try:
            parsed = json.loads(value) if value is not None else None
        except (ValueError, RecursionError):  # anyone who can write to Valkey could plant it
            parsed = None
        found[name] = parsed if isinstance(parsed, dict) else None
    return found
