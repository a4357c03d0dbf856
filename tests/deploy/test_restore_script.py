"""deploy/restore.sh on a vault whose database is on another host (the multi-host inventory):
it restores with the vault's database password (the db_password credential) into the database
named on the command line, and touches no local PostgreSQL. The system tools it drives
(systemd-run, systemctl, runuser, install) are replaced by scripts that record their arguments:
the restore itself (`manage.py vault_restore`) is tested in test_backup_restore.py."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from vaultdev.pytest_plugin import ROOT

SCRIPT = ROOT / "deploy" / "restore.sh"
TCP_URL = (
    "postgresql://vault@10.0.0.10:5432/vault?sslmode=verify-full&sslrootcert=/etc/vault/tls/ca.pem"
)
SOCKET_URL = "postgresql://vault@/vault?host=/var/run/postgresql"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("bash"), reason="restore.sh runs as root"
)


def _tools(bin_dir: Path, log: Path) -> None:
    """Record every call; systemd-run also records the environment files it is given."""
    bin_dir.mkdir()
    for name in ("systemctl", "runuser", "install"):
        tool = bin_dir / name
        tool.write_text(f'#!/bin/bash\necho "{name} $*" >> {log}\n')
        tool.chmod(0o755)
    tool = bin_dir / "systemd-run"
    tool.write_text(
        f'#!/bin/bash\necho "systemd-run $*" >> {log}\n'
        'for a in "$@"; do case "$a" in EnvironmentFile=*) '
        f'cat "${{a#EnvironmentFile=}}" >> {log};; esac; done\n'
    )
    tool.chmod(0o755)


def _run(tmp_path: Path, url: str, db_password: str, *args: str):
    etc = tmp_path / "etc"
    credentials = etc / "credentials"
    credentials.mkdir(parents=True)
    for name in ("secret_key", "pepper", "s3_secret_key"):
        (credentials / name).write_text("")
    (credentials / "db_password").write_text(db_password)
    env_file = etc / "vault.env"
    env_file.write_text(f'DATABASE_URL="{url}"\nVAULT_DATA_DIR="{tmp_path / "data"}"\n')
    snapshot = tmp_path / "snapshot"
    snapshot.mkdir()
    (snapshot / "manifest.json").write_text("{}")
    log = tmp_path / "calls.log"
    log.touch()
    _tools(tmp_path / "bin", log)
    result = subprocess.run(
        ["bash", str(SCRIPT), str(snapshot), *args],
        env={
            **os.environ,
            "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}",
            "VAULT_RESTORE_ENV_FILE": str(env_file),
            "VAULT_RESTORE_CREDENTIALS": str(credentials),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result, log.read_text(), credentials


def test_restore_beside_a_vault_whose_database_is_on_another_host(tmp_path):
    result, calls, credentials = _run(
        tmp_path, TCP_URL, "p" * 40, "--database", "restored", "--data-dir", str(tmp_path / "n")
    )
    assert result.returncode == 0, result.stderr
    assert f"LoadCredential=db_password:{credentials}/db_password" in calls
    assert "--setenv=DB_PASSWORD_FILE=/run/credentials/vault-restore-" in calls
    # The override points at the named database on the same remote server, TLS kept.
    assert (
        'DATABASE_URL="postgresql://vault@10.0.0.10:5432/restored'
        '?sslmode=verify-full&sslrootcert=/etc/vault/tls/ca.pem"' in calls
    )
    assert "runuser" not in calls  # no local PostgreSQL to create it in
    assert "must exist and be empty" in result.stdout
    assert "p" * 40 not in calls + result.stdout + result.stderr


def test_restore_refuses_a_remote_database_without_its_password(tmp_path):
    result, calls, _ = _run(tmp_path, TCP_URL, "")
    assert result.returncode != 0
    assert "db_password is empty" in result.stderr
    assert "systemctl" not in calls and "systemd-run" not in calls  # the vault kept running


def test_a_one_box_restore_creates_the_database_locally_without_a_password(tmp_path):
    result, calls, _ = _run(
        tmp_path, SOCKET_URL, "", "--database", "restored", "--data-dir", str(tmp_path / "n")
    )
    assert result.returncode == 0, result.stderr
    assert "runuser -u postgres -- createdb --owner=vault" in calls and "restored" in calls
    assert "db_password" not in calls
    assert 'DATABASE_URL="postgresql://vault@/restored?host=/var/run/postgresql"' in calls
