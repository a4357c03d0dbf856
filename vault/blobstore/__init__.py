"""The blob store (DESIGN §14): `get_store()` is the one store of this process, chosen by
VAULT_BLOB_STORE ("local", the default: files below VAULT_DATA_DIR/blobs; or "s3": the bucket
VAULT_S3_BUCKET at VAULT_S3_ENDPOINT). Made once per process, remade when a test changes a
setting. vault.photos.storage is the one caller that turns ids into keys.
"""

from __future__ import annotations

import threading
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from vault.blobstore.base import (
    BlobMissing,
    BlobStore,
    ObjectReader,
    ObjectWriter,
    StoreError,
    check_key,
    check_prefix,
)

__all__ = [
    "BlobMissing",
    "BlobStore",
    "ObjectReader",
    "ObjectWriter",
    "StoreError",
    "check_key",
    "check_prefix",
    "get_store",
    "store_from_settings",
]

_lock = threading.Lock()
_store: BlobStore | None = None


def store_from_settings(settings) -> BlobStore:
    """Build the store the settings name. Raises ImproperlyConfigured (naming the setting,
    never showing the secret) when they are incomplete."""
    kind = getattr(settings, "VAULT_BLOB_STORE", "local")
    if kind == "local":
        from vault.blobstore.local import LocalStore

        return LocalStore(Path(settings.VAULT_DATA_DIR) / "blobs")
    if kind == "s3":
        from vault.blobstore.s3 import S3Store

        missing = [
            name
            for name in ("VAULT_S3_ENDPOINT", "VAULT_S3_BUCKET", "VAULT_S3_ACCESS_KEY")
            if not getattr(settings, name, None)
        ]
        if not getattr(settings, "VAULT_S3_SECRET_KEY", None):
            missing.append("VAULT_S3_SECRET_KEY (or VAULT_S3_SECRET_KEY_FILE)")
        if missing:
            raise ImproperlyConfigured(f"VAULT_BLOB_STORE=s3 needs {', '.join(missing)}")
        return S3Store(
            endpoint=settings.VAULT_S3_ENDPOINT,
            bucket=settings.VAULT_S3_BUCKET,
            access_key=settings.VAULT_S3_ACCESS_KEY,
            secret_key=settings.VAULT_S3_SECRET_KEY,
            region=getattr(settings, "VAULT_S3_REGION", None) or "us-east-1",
            ca_file=getattr(settings, "VAULT_S3_CA_FILE", None) or None,
        )
    raise ImproperlyConfigured(f'VAULT_BLOB_STORE must be "local" or "s3", not {kind!r}')


def get_store() -> BlobStore:
    """The process's blob store (thread-safe; boto3 clients are safe to share)."""
    global _store
    store = _store
    if store is None:
        with _lock:
            if _store is None:
                from django.conf import settings

                _store = store_from_settings(settings)
            store = _store
    return store


def reset_store(**_kwargs) -> None:
    global _store
    with _lock:
        _store = None


def _on_setting_changed(*, setting: str, **_kwargs) -> None:
    if setting in {"VAULT_BLOB_STORE", "VAULT_DATA_DIR"} or setting.startswith("VAULT_S3_"):
        reset_store()


setting_changed.connect(_on_setting_changed, dispatch_uid="vault.blobstore.reset")
