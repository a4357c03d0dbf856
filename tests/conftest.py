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


# Markers by what a test uses, so that `make test-fast` (-m "not browser and not worker and not
# slow") can leave the slow kinds out without a marker in every test file.
WORKER_FIXTURES = {"rq_worker", "start_worker"}  # a real `manage.py rqworker` process
BROWSER_FIXTURES = {"page", "browser"}  # real Chromium
WORKER_PATHS = ("tests/test_make_run.py",)  # `make run` starts its own workers
SLOW_PATHS = (
    "tests/training/",  # notebooks and model evaluation
    "tests/deploy/test_ansible.py",  # ansible-lint and rendering the roles: half a minute
)


def pytest_collection_modifyitems(config, items):
    root = config.rootpath
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        path = item.path.relative_to(root).as_posix() if item.path.is_relative_to(root) else ""
        if fixtures & WORKER_FIXTURES or path.startswith(WORKER_PATHS):
            item.add_marker(pytest.mark.worker)
        if fixtures & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if path.startswith(SLOW_PATHS):
            item.add_marker(pytest.mark.slow)
