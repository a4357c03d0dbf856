"""Fixtures for the deployment tests: a data directory per test (the worker writes there), and
the systemd exposure scores, printed at the end of the run (`make test` shows them)."""

import pytest

# unit name -> "1.5 OK", filled by tests/deploy/test_systemd_units.py
EXPOSURE: dict[str, str] = {}


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.VAULT_DATA_DIR = tmp_path / "data"
    return settings.VAULT_DATA_DIR


def pytest_terminal_summary(terminalreporter):
    if EXPOSURE:
        terminalreporter.section("systemd-analyze security (exposure, lower is better)")
        for unit, score in sorted(EXPOSURE.items()):
            terminalreporter.write_line(f"{unit:28} {score}")
