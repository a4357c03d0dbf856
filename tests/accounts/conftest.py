"""Named users for the account tests: the owner, another user."""

import pytest

from vault.accounts.services import account_create

PASSWORD = "correct horse battery staple 42"
OTHER_PASSWORD = "another long passphrase 7"


@pytest.fixture
def owner(db, redis_conn):
    user, rk = account_create(
        name="Olive Owner", email="olive@example.org", password=PASSWORD, email_verified=True
    )
    user.recovery_key = rk  # for the tests only; the real flow never keeps it
    return user


@pytest.fixture
def other_user(db, redis_conn):
    user, _ = account_create(
        name="Oscar Other", email="oscar@example.org", password=OTHER_PASSWORD, email_verified=True
    )
    return user
