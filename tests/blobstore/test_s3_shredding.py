"""Deletion on the S3 store (a real `weed server -s3`): a photo expired from the trash and a
deleted account leave no object and no unfinished multipart upload of theirs in the bucket,
and touch nobody else's."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone

from tests.photos.uploads import upload
from tests.users import OTHER_PASSWORD, PASSWORD
from vault.accounts.services import account_delete
from vault.blobstore import get_store
from vault.blobstore.s3 import PART_BYTES
from vault.photos import storage, trash
from vaultdev.samples.pictures import jpeg, picture
from vaultdev.signin import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


def _upload(user, password, *seeds) -> list[str]:
    client = Client()
    sign_in(client, user, password)
    outcomes = upload(
        client, *[(f"{seed}.jpg", jpeg(picture(48, 48, seed=seed))) for seed in seeds]
    )
    assert {o["status"] for o in outcomes} == {"stored"}, outcomes
    return [o["photo"] for o in outcomes]


def _keys(prefix: str) -> set[str]:
    return {key for key, _size in get_store().list(prefix)}


def test_trash_expiry_and_account_deletion_remove_every_object(
    owner, other_user, s3_blob_store, redis_conn
):
    kept, expiring = _upload(owner, PASSWORD, 1, 2)
    [others] = _upload(other_user, OTHER_PASSWORD, 3)
    others_keys = _keys(storage.photo_prefix(other_user.pk, others))
    assert others_keys

    trash.photos_trash(user=owner, photo_ids=[expiring])
    assert trash.trash_expire(now=timezone.now() + dt.timedelta(days=trash.TRASH_DAYS + 1)) == 1
    assert _keys(storage.photo_prefix(owner.pk, expiring)) == set()
    assert _keys(storage.photo_prefix(owner.pk, kept))

    # A write of the owner's still in progress (a multipart upload, parts already sent).
    writer = storage.blob_writer(owner.pk, kept, "rendition")
    writer.write(b"\0" * (2 * PART_BYTES + 1))
    assert get_store().incomplete(storage.user_prefix(owner.pk))

    user_prefix = storage.user_prefix(owner.pk)
    account_delete(user=owner)
    assert _keys(user_prefix) == set()
    assert get_store().incomplete(user_prefix) == []
    assert _keys(storage.photo_prefix(other_user.pk, others)) == others_keys
