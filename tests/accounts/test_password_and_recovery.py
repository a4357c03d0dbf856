"""Password change, forgotten password with the recovery key, and account deletion keep or
destroy access to photos exactly as promised."""

import io
import re

import pytest
from django.core import mail
from django.urls import reverse

from tests.accounts.conftest import PASSWORD
from vault.accounts.models import User, UserKeys
from vault.accounts.services import account_recover, keys_unlock_with_password
from vault.crypto import BlobContext, DecryptionError, container, recovery
from vaultdev.signin import last_emailed_code, login_password_step, sign_in

NEW_PASSWORD = "a brand new passphrase 99"


@pytest.fixture
def photo_blob(owner, tmp_path):
    """A blob encrypted to the owner's public key, as an upload would be."""
    context = BlobContext(user_id=str(owner.pk), photo_id="p1", variant="original")
    path = tmp_path / "blob"
    content = b"\xff\xd8\xff photo bytes " * 1000
    container.encrypt_file(
        io.BytesIO(content),
        path,
        owner_public_key=bytes(owner.keys.public_key),
        context=context,
        data_key=container.new_data_key(),
    )
    return path, context, content


def _readable_with(password, owner, photo_blob) -> bytes:
    path, context, _ = photo_blob
    unlocked = keys_unlock_with_password(User.objects.get(pk=owner.pk), password)
    return container.BlobReader(path, context=context, private_key=unlocked.private_key).read_all()


def test_password_change_keeps_photos_readable(client, owner, photo_blob):
    sign_in(client, owner, PASSWORD)
    response = client.post(
        reverse("accounts:password_change"),
        {"current": PASSWORD, "new1": NEW_PASSWORD, "new2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert client.get(reverse("accounts:security")).status_code == 200  # this session stays

    assert _readable_with(NEW_PASSWORD, owner, photo_blob) == photo_blob[2]
    with pytest.raises(DecryptionError):
        _readable_with(PASSWORD, owner, photo_blob)
    # The recovery key still unlocks the same master key.
    umk = recovery.unwrap_master_key(bytes(owner.keys.umk_recovery_wrap), owner.recovery_key)
    assert umk == keys_unlock_with_password(owner, NEW_PASSWORD).umk


def test_password_change_signs_out_other_sessions(client, owner, django_client_factory=None):
    from django.test import Client

    elsewhere = Client()
    sign_in(elsewhere, owner, PASSWORD)
    sign_in(client, owner, PASSWORD)
    client.post(
        reverse("accounts:password_change"),
        {"current": PASSWORD, "new1": NEW_PASSWORD, "new2": NEW_PASSWORD},
    )
    assert elsewhere.get(reverse("accounts:security")).status_code == 302


def test_password_change_needs_the_current_password(client, owner):
    sign_in(client, owner, PASSWORD)
    response = client.post(
        reverse("accounts:password_change"),
        {"current": "not my password", "new1": NEW_PASSWORD, "new2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "That is not your current password." in response.content.decode()
    assert keys_unlock_with_password(owner, PASSWORD)


def _recovery_link(client, email) -> str:
    client.post(reverse("accounts:forgot"), {"email": email})
    body = mail.outbox[-1].body
    return re.search(r"http://testserver(/accounts/recover/\S+/)", body).group(1)


def test_forgotten_password_with_recovery_key(client, owner, photo_blob):
    link = _recovery_link(client, owner.email)
    client.post(link, {"action": "send_code"})
    response = client.post(
        link,
        {
            "action": "recover",
            "code": last_emailed_code(owner.email),
            "recovery_key": recovery.format_recovery_key(owner.recovery_key).lower(),
            "new1": NEW_PASSWORD,
            "new2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "old recovery key no longer works" in response.content.decode()
    new_key = response.context["recovery_key"]

    assert _readable_with(NEW_PASSWORD, owner, photo_blob) == photo_blob[2]
    owner.keys.refresh_from_db()
    with pytest.raises(DecryptionError):
        recovery.unwrap_master_key(bytes(owner.keys.umk_recovery_wrap), owner.recovery_key)
    assert recovery.unwrap_master_key(
        bytes(owner.keys.umk_recovery_wrap), recovery.parse_recovery_key(new_key)
    )
    # The link worked once.
    assert client.get(link).status_code == 400


def test_forgotten_password_with_a_mistyped_recovery_key(client, owner):
    link = _recovery_link(client, owner.email)
    client.post(link, {"action": "send_code"})
    text = recovery.format_recovery_key(owner.recovery_key)
    typo = ("B" if text[0] != "B" else "C") + text[1:]
    response = client.post(
        link,
        {
            "action": "recover",
            "code": last_emailed_code(owner.email),
            "recovery_key": typo,
            "new1": NEW_PASSWORD,
            "new2": NEW_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["recovery_key"]
    assert keys_unlock_with_password(owner, PASSWORD)  # nothing changed


def test_wrong_recovery_key_is_refused(owner):
    other = recovery.format_recovery_key(recovery.new_recovery_key())
    with pytest.raises(DecryptionError):
        account_recover(user=owner, recovery_text=other, new_password=NEW_PASSWORD)


def test_forgot_password_page_answers_alike_for_unknown_email(client, owner):
    known = client.post(reverse("accounts:forgot"), {"email": owner.email})
    unknown = client.post(reverse("accounts:forgot"), {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200
    assert known.content.decode().replace(owner.email, "E") == unknown.content.decode().replace(
        "nobody@example.org", "E"
    )


def test_without_recovery_key_the_page_says_photos_are_lost(client, owner):
    link = _recovery_link(client, owner.email)
    page = client.get(link).content.decode()
    assert "Without the recovery key, your existing photos cannot be recovered" in page


def test_account_deletion_leaves_nothing_that_decrypts(client, owner, photo_blob):
    keys_before = UserKeys.objects.get(user=owner)
    sign_in(client, owner, PASSWORD)
    response = client.post(reverse("accounts:delete"), {"password": PASSWORD, "confirm": "DELETE"})
    assert response.status_code == 302

    assert not User.objects.filter(pk=owner.pk).exists()
    assert not UserKeys.objects.filter(pk=keys_before.pk).exists()
    # Old password and recovery key have nothing left to unwrap: signing in fails.
    response = login_password_step(client, email=owner.email, password=PASSWORD)
    assert b"do not match" in response.content
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_userkeys")
        assert cursor.fetchone()[0] == 0


def test_account_deletion_needs_the_password(client, owner):
    sign_in(client, owner, PASSWORD)
    response = client.post(reverse("accounts:delete"), {"password": "nope", "confirm": "DELETE"})
    assert response.status_code == 200
    assert User.objects.filter(pk=owner.pk).exists()
