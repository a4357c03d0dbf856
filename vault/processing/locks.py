"""PostgreSQL session advisory locks: one job at a time on a photo, or on an owner's people.
A killed worker's connection closes, which releases its locks."""

from __future__ import annotations

import contextlib

from django.db import connection


@contextlib.contextmanager
def advisory_lock(*key: int):
    """Try to take the lock named by one bigint or two ints; yields whether it was taken
    (never waits: the caller returns "busy" and the other job finishes the work)."""
    placeholders = ", ".join(["%s"] * len(key))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pg_try_advisory_lock({placeholders})", list(key))
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT pg_advisory_unlock({placeholders})", list(key))
