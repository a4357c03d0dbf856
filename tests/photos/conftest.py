"""Fixtures for the photo tests: named users, a signed-in client, a data directory per test,
and an in-process worker key for tests that run the pipeline synchronously."""

from __future__ import annotations

import pytest

from tests.users import OTHER_PASSWORD, PASSWORD
from vault.photos.models import Photo
from vault.processing.worker_keys import advertise, withdraw
from vaultdev.signin import sign_in
from worker import identity
from worker.pipeline import photo_process_run


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    settings.VAULT_DATA_DIR = tmp_path / "data"
    return settings.VAULT_DATA_DIR


@pytest.fixture
def owner_client(client, owner):
    sign_in(client, owner, PASSWORD)
    return client


@pytest.fixture
def other_client(django_user_model, other_user):
    from django.test import Client

    other = Client()
    sign_in(other, other_user, OTHER_PASSWORD)
    return other


@pytest.fixture
def worker_key(redis_conn):
    """This test process plays a live worker: its key is advertised, so uploads are granted to
    it and `run_jobs()` can process them here (RQ's synchronous mode, in effect)."""
    identity.forget()
    me = identity.current()
    advertise(me.public_key, ttl=300)
    yield me
    withdraw(me.public_key)
    identity.forget()


def run_jobs() -> list[str]:
    """Process every pending photo in this process, as the worker would."""
    pending = Photo.objects.filter(state__in=[Photo.State.PENDING, Photo.State.PROCESSING])
    return [photo_process_run(str(photo_id)) for photo_id in pending.values_list("id", flat=True)]
