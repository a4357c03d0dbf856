"""Fixtures of the people tests: those of the photo tests (a data directory per test, signed-in
clients, an in-process worker key), and each user's metadata key."""

import pytest

from tests.people.faces_support import keyring_of
from tests.photos.conftest import (  # noqa: F401 - fixtures, re-exported for this package
    data_dir,
    other_client,
    owner_client,
    worker_key,
)
from tests.users import OTHER_PASSWORD, PASSWORD


@pytest.fixture
def mk(owner):
    return keyring_of(owner, PASSWORD).metadata_key


@pytest.fixture
def other_mk(other_user):
    return keyring_of(other_user, OTHER_PASSWORD).metadata_key
