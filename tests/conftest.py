"""Fixtures for the whole suite live in vaultdev/pytest_plugin.py (loaded with -p)."""

import pytest

from tests.users import OTHER_PASSWORD, PASSWORD


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, vault_services):
    """pytest-django's hook to adjust DATABASES before the test database is created.

    Declared in a conftest because a conftest fixture overrides pytest-django's own; the
    embedded servers start here, on the first test that needs the database.
    """


@pytest.fixture
def owner(db, redis_conn):
    from vault.accounts.services import account_create

    user, rk = account_create(
        name="Olive Owner", email="olive@example.org", password=PASSWORD, email_verified=True
    )
    user.recovery_key = rk  # for the tests only; the real flow never keeps it
    return user


@pytest.fixture
def other_user(db, redis_conn):
    from vault.accounts.services import account_create

    user, _ = account_create(
        name="Oscar Other", email="oscar@example.org", password=OTHER_PASSWORD, email_verified=True
    )
    return user
