"""The unit files in systemd/ as systemd itself reads them: `systemd-analyze verify` finds no
error or warning, and `systemd-analyze security --offline=yes` rates every vault service OK or
better (the scores are printed at the end of the run).

Both run against a throwaway root (`--root`): the units under etc/systemd/system, the host's
own system units (sysinit.target and friends) and an empty executable at every command path
the units name, since `verify` checks that /opt/vault/venv/bin/... exists and is executable
and those only exist on a provisioned server.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.conftest import EXPOSURE
from tests.deploy.systemd_root import HOST_UNITS, systemd_root
from vaultdev.pytest_plugin import ROOT

UNITS_DIR = ROOT / "systemd"
UNITS = sorted(
    path.name
    for path in UNITS_DIR.iterdir()
    if path.suffix in {".service", ".socket", ".target", ".timer"}
)
SERVICES = [
    "vault-web.service",
    "vault-worker@1.service",
    "vault-backup.service",
    "vault-trash-expire.service",
]
ANALYZE = shutil.which("systemd-analyze")

pytestmark = pytest.mark.skipif(
    ANALYZE is None or not HOST_UNITS.is_dir(),
    reason="systemd-analyze is missing (Debian: apt-get install systemd)",
)


def _instance(name: str) -> str:
    return name.replace("@.", "@1.")


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory) -> Path:
    units = {name: (UNITS_DIR / name).read_text() for name in UNITS}
    return systemd_root(tmp_path_factory.mktemp("sdroot"), units)


def _analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ANALYZE, *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize("name", UNITS)
def test_unit_verifies_without_a_word(unit_root, name):
    result = _analyze("verify", f"--root={unit_root}", _instance(name))
    # verify exits 0 on unknown keys and bad values, and only warns: any output is a defect.
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), (
        result.stdout + result.stderr
    )


def test_verify_catches_a_bad_unit(unit_root, tmp_path):
    """The check above can fail: a misspelt directive is reported."""
    bad = unit_root / "etc/systemd/system/vault-web.service"
    good = bad.read_text()
    try:
        bad.write_text(good.replace("ProtectHome=yes", "ProtectHom=yes"))
        result = _analyze("verify", f"--root={unit_root}", "vault-web.service")
        assert "Unknown key 'ProtectHom'" in result.stdout + result.stderr
    finally:
        bad.write_text(good)


@pytest.mark.parametrize("name", SERVICES)
def test_service_exposure_is_ok_or_better(unit_root, name):
    result = _analyze("security", "--offline=yes", f"--root={unit_root}", "--no-pager", name)
    output = result.stdout + result.stderr
    match = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", output)
    assert match, output
    score, rating = float(match.group(1)), match.group(2)
    EXPOSURE[name] = f"{score:.1f} {rating}"
    assert rating in {"SAFE", "OK"}, output


def _directives(name: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in (UNITS_DIR / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            found.setdefault(key, []).append(value)
    return found


@pytest.mark.parametrize(
    "name", ["vault-web.service", "vault-worker@.service", "vault-backup.service"]
)
def test_service_runs_as_the_vault_user_and_writes_only_its_data_directory(name):
    unit = _directives(name)
    assert unit["User"] == ["vault"] and unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"] and unit["ProtectHome"] == ["yes"]
    assert unit["PrivateTmp"] == ["yes"] and unit["StateDirectory"] == ["vault"]
    assert "ReadWritePaths" not in unit  # StateDirectory is the one writable place
    # Secrets come as credentials, never in the environment file.
    assert any(value.startswith("secret_key:") for value in unit["LoadCredential"])
    assert "SECRET_KEY_FILE=%d/secret_key" in unit["Environment"]


def test_only_the_web_gets_the_pepper_and_workers_have_no_network():
    web, worker = _directives("vault-web.service"), _directives("vault-worker@.service")
    assert "pepper:/etc/vault/credentials/pepper" in web["LoadCredential"]
    assert not any("pepper" in value for value in worker["LoadCredential"])
    assert worker["RestrictAddressFamilies"] == ["AF_UNIX"]
    assert worker["PrivateNetwork"] == ["yes"]
    assert worker["MemoryMax"] and worker["Restart"] == ["on-failure"]
    # The warm shutdown waits for a job: RQ's timeout + the worker's own hung-job margin.
    from vault.processing.queue import JOB_TIMEOUT
    from worker.vault_worker import HUNG_MARGIN

    assert worker["TimeoutStopSec"] == [f"{(JOB_TIMEOUT + HUNG_MARGIN) // 60}min"]


def test_the_worker_unit_listens_to_the_queue_the_web_enqueues_to():
    """The queue's name is written once, in vault.processing.queue; the unit cannot import it,
    so this keeps the two in step (a worker on another queue would leave every photo pending)."""
    from vault.processing.queue import QUEUE

    [command] = _directives("vault-worker@.service")["ExecStart"]
    args = command.split()
    assert args[args.index("rqworker") + 1] == QUEUE
