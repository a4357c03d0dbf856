"""A vault whose blobs are in the object store (a real weed) is backed up (database dump and
ciphertext downloaded into the snapshot), its database and bucket are emptied, and
`manage.py vault_restore` brings it back into the empty bucket: every thumbnail, preview and
original decrypts to the very same bytes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.test import Client

from tests.deploy.test_backup_restore import (  # noqa: F401 - fixtures
    _pg_bin_dir,
    _pictures,
    fresh_cluster,
    use_database,
)
from tests.objectstore import s3_bucket, s3_env, s3_settings  # noqa: F401 - a fixture
from tests.photos import support
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.accounts.models import User
from vault.backup import backups_list
from vault.photos.models import Blob, Photo
from vaultdev.pytest_plugin import ROOT, wait_until
from vaultdev.signin import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_s3_vault_restores_into_an_empty_bucket_with_every_photo(
    owner,
    settings,
    tmp_path,
    s3_bucket,  # noqa: F811
    seaweed,
    start_worker,
    fresh_cluster,  # noqa: F811
    use_database,  # noqa: F811
):
    settings.VAULT_PG_BIN_DIR = _pg_bin_dir()
    s3_settings(settings, s3_bucket, seaweed)
    start_worker()
    client = Client()
    sign_in(client, owner, PASSWORD)
    rows = upload(
        client,
        ("IMG_0001.JPG", support.real_photo_jpeg("astronaut.png")),
        ("coffee.png", support.real_photo("coffee.png")),
    )
    ids = [row["photo"] for row in rows]
    wait_until(lambda: Photo.objects.filter(state="ready").count() == 2, timeout=180, interval=0.3)
    before = _pictures(client, ids)
    keys = {key for key, _size in s3_bucket.list("")}
    assert len(keys) == Blob.objects.count() >= 6
    assert not (tmp_path / "data" / "blobs").exists(), "an S3 vault wrote blobs to disk"

    backups = tmp_path / "backups"
    call_command("vault_backup", dir=backups, keep=1)
    [snapshot] = backups_list(backups)
    assert snapshot.blob_count == len(keys)
    stored = {
        path.relative_to(snapshot.path / "blobs").as_posix(): path
        for path in (snapshot.path / "blobs").rglob("*.spv")
    }
    assert set(stored) == keys
    for key, path in stored.items():  # the very ciphertext, nothing decrypted
        with s3_bucket.reader(key) as reader:
            assert path.read_bytes() == reader.read_at(0, reader.size)

    # Restoring over a bucket that still holds blobs is refused, before the database is touched.
    env = {
        **os.environ,
        **s3_env(s3_bucket, seaweed),
        "DATABASE_URL": fresh_cluster.url("vault"),
        "VAULT_DATA_DIR": str(tmp_path / "restored-data"),
        "VAULT_PG_BIN_DIR": _pg_bin_dir(),
    }

    def restore() -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", "vault_restore", str(snapshot.path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    refused = restore()
    assert refused.returncode != 0
    assert "restore into an empty bucket" in refused.stderr
    assert seaweed.secret_key not in refused.stdout + refused.stderr

    # The disaster: the bucket is emptied (and the database is a fresh cluster's).
    s3_bucket.delete_prefix("")
    assert not list(s3_bucket.list(""))
    result = restore()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "into database 'vault'" in result.stdout and "the empty bucket of" in result.stdout
    assert f"ok: {len(keys)} blob(s) checked" in result.stdout
    assert {key for key, _size in s3_bucket.list("")} == keys

    use_database(fresh_cluster.url("vault"))
    restored = Client()
    sign_in(restored, User.objects.get(email=owner.email), PASSWORD)
    assert _pictures(restored, ids) == before
