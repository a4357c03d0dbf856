"""Fixtures of the people tests: those of the photo tests (a data directory per test, signed-in
clients, an in-process worker key)."""

from tests.photos.conftest import (  # noqa: F401 - fixtures, re-exported for this package
    data_dir,
    other_client,
    owner_client,
    worker_key,
)
