"""Fixtures for tests of an S3-stored vault: a fresh bucket per test on the run's real
`weed server -s3` (the plugin's `seaweed` fixture), and the settings that point the vault at it."""

from __future__ import annotations

import secrets

import pytest


@pytest.fixture
def s3_bucket(seaweed):
    """A new, empty bucket on the run's weed; returns its S3Store (deleted afterwards)."""
    from vault.blobstore.s3 import S3Store

    store = S3Store(
        endpoint=seaweed.endpoint,
        bucket=f"t{secrets.token_hex(6)}",
        access_key=seaweed.access_key,
        secret_key=seaweed.secret_key,
    )
    store.create_bucket()
    yield store
    # Deleting the bucket frees its collection's volumes: weed runs with few (-volume.max), and
    # a bucket left behind would leave the next tests' writes no volume to grow into.
    store.delete_prefix("")
    store.client.delete_bucket(Bucket=store.bucket)


def s3_settings(settings, store, weed, *, fallback_dir=None) -> None:
    """Point this process's vault at `store` (VAULT_BLOB_STORE=s3), optionally reading blobs
    not yet moved from `fallback_dir`."""
    settings.VAULT_S3_ENDPOINT = store.endpoint
    settings.VAULT_S3_BUCKET = store.bucket
    settings.VAULT_S3_ACCESS_KEY = weed.access_key
    settings.VAULT_S3_SECRET_KEY = weed.secret_key
    settings.VAULT_BLOB_FALLBACK_DIR = fallback_dir
    settings.VAULT_BLOB_STORE = "s3"


def s3_env(store, weed, **extra: str) -> dict[str, str]:
    """The same as environment variables, for a subprocess (manage.py, a worker)."""
    return {
        "VAULT_BLOB_STORE": "s3",
        "VAULT_S3_ENDPOINT": store.endpoint,
        "VAULT_S3_BUCKET": store.bucket,
        "VAULT_S3_ACCESS_KEY": weed.access_key,
        "VAULT_S3_SECRET_KEY": weed.secret_key,
        **extra,
    }
