"""Choosing the store: VAULT_BLOB_STORE and VAULT_S3_* are read at start-up; a misconfigured
S3 store stops the process with a message naming the setting and never the secret; the store
follows a changed setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vault.blobstore import get_store
from vault.blobstore.local import LocalStore
from vault.blobstore.s3 import S3Store

ROOT = Path(__file__).resolve().parent.parent.parent
SECRET = "do-not-print-this-9f2c1e"


def _start(tmp_path, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_S3_", "VAULT_BLOB"))}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "vault.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _s3(**overrides) -> dict[str, str]:
    settings = {
        "VAULT_BLOB_STORE": "s3",
        "VAULT_S3_ENDPOINT": "http://127.0.0.1:8333",
        "VAULT_S3_BUCKET": "vault",
        "VAULT_S3_ACCESS_KEY": "vault",
        "VAULT_S3_SECRET_KEY": SECRET,
    }
    settings.update(overrides)
    return {k: v for k, v in settings.items() if v is not None}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (_s3(VAULT_S3_BUCKET=None), "VAULT_BLOB_STORE=s3 needs VAULT_S3_BUCKET"),
        (_s3(VAULT_S3_SECRET_KEY=None), "VAULT_S3_SECRET_KEY (or VAULT_S3_SECRET_KEY_FILE)"),
        (_s3(VAULT_S3_ENDPOINT="127.0.0.1:8333"), "VAULT_S3_ENDPOINT must be an http"),
        (_s3(VAULT_S3_CA_FILE="/nonexistent/ca.pem"), "VAULT_S3_CA_FILE"),
        # /healthz names the endpoint: a password in it would be shown there.
        (
            _s3(VAULT_S3_ENDPOINT=f"https://vault:{SECRET}@s3.example:8333"),
            "VAULT_S3_ENDPOINT must not carry a user or password",
        ),
        ({"VAULT_BLOB_STORE": "ftp"}, 'VAULT_BLOB_STORE must be "local" or "s3"'),
    ],
)
def test_a_misconfigured_store_stops_the_process_without_showing_the_secret(tmp_path, env, message):
    result = _start(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
    assert SECRET not in result.stderr + result.stdout


def test_the_secret_can_come_from_a_file(tmp_path):
    secret = tmp_path / "s3-secret"
    secret.write_text(SECRET + "\n")
    env = _s3(VAULT_S3_SECRET_KEY=None)
    env["VAULT_S3_SECRET_KEY_FILE"] = str(secret)
    code = "import django; django.setup(); from django.conf import settings; "
    code += f"assert settings.VAULT_S3_SECRET_KEY == {SECRET!r}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VAULT_S3_", "VAULT_BLOB"))}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "vault.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_store_follows_the_settings(settings, tmp_path, seaweed):
    settings.VAULT_BLOB_STORE = "local"
    settings.VAULT_DATA_DIR = tmp_path / "one"
    first = get_store()
    assert isinstance(first, LocalStore) and first.root == tmp_path / "one" / "blobs"
    assert get_store() is first  # made once
    settings.VAULT_DATA_DIR = tmp_path / "two"
    assert get_store().root == tmp_path / "two" / "blobs"
    settings.VAULT_BLOB_STORE = "s3"
    settings.VAULT_S3_ENDPOINT = seaweed.endpoint
    settings.VAULT_S3_BUCKET = seaweed.bucket
    settings.VAULT_S3_ACCESS_KEY = seaweed.access_key
    settings.VAULT_S3_SECRET_KEY = seaweed.secret_key
    store = get_store()
    assert isinstance(store, S3Store) and store.probe()["ok"]
    assert seaweed.secret_key not in repr(store)


def test_the_container_and_the_store_interface_load_neither_django_nor_boto3():
    """vault.crypto stays pure Python (DESIGN §3): the SPV1 container uses the store's base and
    local modules, and importing them must not pull Django or the S3 client in."""
    probe = (
        "import json, sys; import vault.crypto.container, vault.blobstore.local;"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert "vault" in loaded
    assert not loaded & {"django", "boto3", "botocore"}
