"""Fixtures for the deployment tests: a data directory per test (the worker writes there)."""

import pytest


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.VAULT_DATA_DIR = tmp_path / "data"
    return settings.VAULT_DATA_DIR
