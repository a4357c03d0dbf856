"""Growing delays after failed sign-in attempts, per account and per client address.

Counters live in Valkey so that every web process sees them. Accounts are keyed by an HMAC of
the lower-cased email (no address in the clear there); a lock holds even when the right
password or code is then entered, and unknown emails are counted exactly like known ones.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings

from vault.processing import queue

WINDOW = 60 * 60  # failures are forgotten an hour after the last one
BASE_DELAY = 15  # seconds of the first lock; doubles with each further failure
IP_FACTOR = 4  # an address gets this many times an account's free attempts (shared NAT)


@dataclass(frozen=True)
class Subject:
    scope: str  # "password" or "code"
    account: str
    ip: str

    @classmethod
    def for_request(cls, request, *, scope: str, email: str) -> Subject:
        digest = hmac.new(
            settings.SECRET_KEY.encode(), email.strip().lower().encode(), hashlib.sha256
        ).hexdigest()[:32]
        return cls(scope=scope, account=digest, ip=client_ip(request))

    def counters(self) -> list[tuple[str, int]]:
        free = settings.VAULT_LOGIN_FREE_ATTEMPTS
        return [
            (f"spv:throttle:{self.scope}:acct:{self.account}", free),
            (f"spv:throttle:{self.scope}:ip:{self.ip}", free * IP_FACTOR),
        ]


def client_ip(request) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a proxy we trust rewrites
    # it, and nginx in deploy/ passes the real address as REMOTE_ADDR through gunicorn.
    return request.META.get("REMOTE_ADDR", "unknown")


def _conn():
    return queue.connection()


def seconds_locked(subject: Subject) -> int:
    """How long this subject must still wait (0: it may try now)."""
    conn = _conn()
    waits = [conn.ttl(f"{key}:lock") for key, _ in subject.counters()]
    return max([w for w in waits if w and w > 0] or [0])


def record_failure(subject: Subject) -> int:
    """Count a failure; returns the lock in seconds that it started (0 for none)."""
    conn = _conn()
    started = 0
    for key, free in subject.counters():
        failures = conn.incr(key)
        conn.expire(key, WINDOW)
        if failures >= free:
            delay = min(BASE_DELAY * 2 ** (failures - free), settings.VAULT_LOGIN_MAX_DELAY)
            conn.set(f"{key}:lock", 1, ex=delay)
            started = max(started, delay)
    return started


def record_success(subject: Subject) -> None:
    """A right password (or code) clears the account's counter of that scope; not the
    address's, which others may share."""
    key, _ = subject.counters()[0]
    _conn().delete(key, f"{key}:lock")


def seconds_text(seconds: int) -> str:
    """ "45 seconds", "1 second", "3 minutes" (rounded up from 120 s on)."""
    if seconds >= 120:
        return f"{(seconds + 59) // 60} minutes"
    return "1 second" if seconds == 1 else f"{seconds} seconds"


def wait_message(seconds: int) -> str:
    return (
        "Too many attempts. For your security, sign-in is paused; "
        f"try again in {seconds_text(seconds)}."
    )


def quota_wait(key: str, *, limit: int) -> int:
    """Seconds until the counter at `key` is below `limit` again (0: one more use is allowed)."""
    conn = _conn()
    if int(conn.get(key) or 0) < limit:
        return 0
    return max(conn.ttl(key), 1)


def quota_use(key: str, *, window: int) -> None:
    """Count one use at `key`; the count is forgotten `window` seconds after its first use."""
    conn = _conn()
    conn.set(key, 0, ex=window, nx=True)  # the window starts once, and always ends
    conn.incr(key)
