"""Fixtures for the whole suite live in vaultdev/pytest_plugin.py (loaded with -p)."""

import pytest


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, vault_services):
    """pytest-django's hook to adjust DATABASES before the test database is created.

    Declared in a conftest because a conftest fixture overrides pytest-django's own; the
    embedded servers start here, on the first test that needs the database.
    """
