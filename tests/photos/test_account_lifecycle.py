"""Photos across the account's life: a password change keeps them readable; deleting the
account removes every blob and row."""

import pytest
from django.urls import reverse

from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.accounts.services import account_delete, keys_unlock_with_password, password_change
from vault.photos import storage
from vault.photos.models import Blob, Photo

pytestmark = pytest.mark.django_db


def test_password_change_keeps_every_photo_readable(owner_client, owner, worker_key):
    upload(owner_client, ("a.jpg", support.jpeg()))
    run_jobs()
    new_password = "a brand new passphrase 99"
    password_change(
        user=owner, unlocked=keys_unlock_with_password(owner, PASSWORD), new_password=new_password
    )
    from django.test import Client

    from vaultdev.signin import sign_in

    client = Client()
    sign_in(client, owner, new_password)
    photo = Photo.objects.get()
    for name in ("photos:thumb", "photos:preview", "photos:download"):
        assert client.get(reverse(name, args=[photo.id])).status_code == 200


def test_account_deletion_removes_every_blob_and_row(owner_client, owner, other_client, worker_key):
    upload(owner_client, ("a.jpg", support.jpeg()), ("b.png", support.png()))
    upload(other_client, ("c.jpg", support.jpeg(support.picture(seed=5))))
    run_jobs()
    assert storage.user_dir(owner.pk).exists()
    owner_id = owner.pk
    account_delete(user=owner)
    assert not storage.user_dir(owner_id).exists()
    assert not Photo.objects.filter(owner_id=owner_id).exists()
    assert not Blob.objects.filter(photo__owner_id=owner_id).exists()
    assert Photo.objects.count() == 1  # the other user's photo is untouched
