"""The registry of live worker keys in Valkey (DESIGN §4).

Each worker process advertises its in-memory X25519 public key under its key id with a TTL
that its heartbeat renews; a key that stops being renewed disappears, and grants to it are dead.
The web tier reads this registry to know whom to grant photos to.
"""

from __future__ import annotations

import hashlib
import json

PREFIX = "spv:worker-key:"
QUEUE_PREFIX = "spv-worker-"
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


def advertise(public_key: bytes, *, ttl: int, connection=None) -> None:
    _connection(connection).set(PREFIX + key_id(public_key), public_key, ex=ttl)


def withdraw(public_key: bytes, *, connection=None) -> None:
    _connection(connection).delete(PREFIX + key_id(public_key))


def live_worker_keys(connection=None) -> dict[str, bytes]:
    """{key id: public key} of every worker whose key has not expired."""
    conn = _connection(connection)
    names = list(conn.scan_iter(match=PREFIX + "*", count=100))
    if not names:
        return {}
    values = conn.mget(names)
    live = {}
    for value in values:
        # The id is recomputed from the key, never taken from the entry's name: an entry whose
        # name and key disagree cannot make the web tier file a grant under the wrong id.
        if value is not None and len(value) == 32:
            live[key_id(bytes(value))] = bytes(value)
    return live


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
        except ValueError:
            parsed = None
        found[name] = parsed if isinstance(parsed, dict) else None
    return found
