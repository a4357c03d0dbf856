"""Fixtures of the album tests: the photo tests' fixtures, a third user (the member), the
owner's processed photos and an album holding two of them."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.photos import support
from tests.photos.conftest import (  # noqa: F401 - fixtures, re-exported for this package
    data_dir,
    other_client,
    owner_client,
    run_jobs,
    worker_key,
)
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.photos.models import Photo
from vaultdev.signin import sign_in

MEMBER_PASSWORD = "member passphrase of nine words 9"
ALBUM_NAME = "Holiday at Lake Zyxwv"
ALBUM_DESCRIPTION = "Grandma's secret birthday qwerty"


@pytest.fixture
def member(db, redis_conn):
    from vault.accounts.services import account_create

    user, _ = account_create(
        name="Mia Member", email="mia@example.org", password=MEMBER_PASSWORD, email_verified=True
    )
    return user


@pytest.fixture
def member_client(member):
    client = Client()
    sign_in(client, member, MEMBER_PASSWORD)
    return client


def upload_ready(client, *files) -> list[Photo]:
    """Upload and process in this process; return the photos, ready."""
    outcomes = upload(client, *files)
    run_jobs()
    photos = [Photo.objects.get(pk=o["photo"]) for o in outcomes]
    assert all(p.state == "ready" for p in photos), [p.failure_reason for p in photos]
    return photos


@pytest.fixture
def owner_photos(owner_client, worker_key):  # noqa: F811 - the fixtures imported above
    return upload_ready(
        owner_client,
        ("beach.jpg", support.jpeg(support.picture(seed=1))),
        ("lake.jpg", support.jpeg(support.picture(seed=2))),
        ("private.jpg", support.jpeg(support.picture(seed=3))),
    )


def keyring_for(user, password):
    from tests.people.faces_support import keyring_of

    return keyring_of(user, password)


@pytest.fixture
def album(owner, owner_photos):
    """The owner's album with the first two photos (the third stays private)."""
    from vault.albums import services

    ring = keyring_for(owner, PASSWORD)
    album = services.album_create(
        owner=owner, keyring=ring, name=ALBUM_NAME, description=ALBUM_DESCRIPTION
    )
    services.album_photos_add(
        album=album, keyring=ring, user=owner, photo_ids=[p.id for p in owner_photos[:2]]
    )
    return album
