"""VAULT_BLOB_FALLBACK_DIR: the local read fallback of a vault moving to the object store is
built only beside VAULT_BLOB_STORE=s3, and a local vault that sets it stops at start-up."""

from __future__ import annotations

import os
import subprocess
import sys

from vault.blobstore import get_store
from vault.blobstore.fallback import FallbackStore
from vault.blobstore.s3 import S3Store
from vaultdev.pytest_plugin import ROOT


def test_a_local_vault_with_a_fallback_dir_stops_naming_the_setting(tmp_path):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_S3_", "VAULT_BLOB"))}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "vault.settings",
            "VAULT_BLOB_STORE": "local",
            "VAULT_BLOB_FALLBACK_DIR": str(tmp_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "VAULT_BLOB_FALLBACK_DIR is only for VAULT_BLOB_STORE=s3" in result.stderr


def test_the_s3_store_reads_from_the_fallback_dir_only_while_it_is_set(settings, tmp_path):
    settings.VAULT_S3_ENDPOINT = "http://127.0.0.1:8333"
    settings.VAULT_S3_BUCKET = "vault"
    settings.VAULT_S3_ACCESS_KEY = "vault"
    settings.VAULT_S3_SECRET_KEY = "not-a-real-secret"
    settings.VAULT_BLOB_STORE = "s3"
    settings.VAULT_BLOB_FALLBACK_DIR = tmp_path / "blobs"
    store = get_store()
    assert isinstance(store, FallbackStore) and store.kind == "s3"
    assert store.fallback.root == tmp_path / "blobs"
    assert "not-a-real-secret" not in repr(store)
    settings.VAULT_BLOB_FALLBACK_DIR = None
    assert isinstance(get_store(), S3Store)


def test_a_child_process_started_by_the_harness_reads_the_same_fallback_dir(settings, tmp_path):
    """Workers and manage.py commands started by the tests get VAULT_BLOB_FALLBACK_DIR from
    the harness: a worker without it could not read the originals not yet moved."""
    from vaultdev.pytest_plugin import blob_store_env

    settings.VAULT_S3_ENDPOINT = "http://127.0.0.1:8333"
    settings.VAULT_S3_BUCKET = "vault"
    settings.VAULT_S3_ACCESS_KEY = "vault"
    settings.VAULT_S3_SECRET_KEY = "not-a-real-secret"
    settings.VAULT_BLOB_STORE = "s3"
    settings.VAULT_BLOB_FALLBACK_DIR = tmp_path / "blobs"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_S3_", "VAULT_BLOB"))}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from vault.blobstore import get_store; "
            "s = get_store(); print(type(s).__name__, getattr(getattr(s, 'fallback', None), "
            "'root', None))",
        ],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "vault.settings", **blob_store_env(settings)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["FallbackStore", str(tmp_path / "blobs")]
