"""Fixtures for the training tests: the photo tests' per-test data directory, signed-in clients
and in-process worker key, for `manage.py export_training_set`."""

from tests.photos.conftest import data_dir, other_client, owner_client, worker_key  # noqa: F401
