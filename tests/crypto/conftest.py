"""Fixtures for the crypto tests: an owner, a stranger, a context and a blob directory."""

import pytest

from vault.crypto import BlobContext, keys
from vault.crypto.container import new_data_key


@pytest.fixture(scope="session")
def owner() -> tuple[bytes, bytes]:
    return keys.new_keypair()


@pytest.fixture(scope="session")
def stranger() -> tuple[bytes, bytes]:
    return keys.new_keypair()


@pytest.fixture
def ctx() -> BlobContext:
    return BlobContext(user_id="owner-uuid", photo_id="photo-uuid", variant="original")


@pytest.fixture
def dk() -> bytes:
    return new_data_key()
