"""The password is verified only by the Argon2id wrap of the master key (DESIGN §4): no cheaper
verifier is stored anywhere, unknown emails cost the same Argon2id, and old accounts and old
wraps are brought up to date at their next sign-in."""

import importlib
import re

import pytest
from django.apps import apps
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.core import mail
from django.db import connection
from django.urls import reverse

from tests.users import PASSWORD
from vault.accounts import services
from vault.accounts.forms import PasswordChangeForm
from vault.accounts.models import User, UserKeys
from vault.accounts.services import keys_unlock_with_password, password_change
from vault.crypto import Argon2Params, DecryptionError, password, recovery
from vaultdev.signin import (
    last_emailed_code,
    login_code_step,
    login_password_step,
    sign_in,
)

NEW_PASSWORD = "a brand new passphrase 99"
STRONGER = Argon2Params(memory_kib=512, iterations=2, lanes=1)  # above FOR_TESTS, still fast
# How Django's hashers (and common others) begin an encoded password.
HASH_PREFIXES = re.compile(r"pbkdf2_|argon2|bcrypt|md5\$|sha1\$|scrypt\$", re.IGNORECASE)
TEXT_TYPES = {"text", "character varying", "character", "json", "jsonb"}


def password_verifiers_in_database() -> list[str]:
    """Every (table.column) of the database holding a string shaped like a password hash."""
    found = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns"
            " WHERE table_schema = current_schema()"
        )
        columns = cursor.fetchall()
        for table, column, data_type in columns:
            if data_type in TEXT_TYPES:
                as_text = f'"{column}"::text'
            elif data_type == "bytea":
                as_text = f"encode(\"{column}\", 'escape')"  # printable bytes stay as they are
            else:
                continue
            cursor.execute(
                f'SELECT count(*) FROM "{table}" WHERE {as_text} ~* %s',  # noqa: S608 - catalog names
                [HASH_PREFIXES.pattern],
            )
            if cursor.fetchone()[0]:
                found.append(f"{table}.{column}")
    return found


@pytest.fixture
def argon2_calls(monkeypatch):
    """The parameters of every Argon2id derivation made from now on."""
    calls: list[Argon2Params] = []
    real = password._kek

    def counting(secret, salt, params, pepper):
        calls.append(params)
        return real(secret, salt, params, pepper)

    monkeypatch.setattr(password, "_kek", counting)
    return calls


def _stored_wrap(user) -> bytes:
    return bytes(UserKeys.objects.get(user=user).umk_password_wrap)


def _umk_from_recovery(user) -> bytes:
    return recovery.unwrap_master_key(
        bytes(UserKeys.objects.get(user=user).umk_recovery_wrap), user.recovery_key
    )


def _give_legacy_hash(user, password_text: str) -> None:
    # What sign-up wrote before the key wrap became the only verifier.
    User.objects.filter(pk=user.pk).update(password=make_password(password_text))


def test_sign_up_and_sign_in_store_no_verifier_but_the_key_wrap(client, db, redis_conn):
    email = "rita@example.org"
    page = client.post(
        reverse("accounts:register"),
        {"name": "Rita", "email": email, "password1": PASSWORD, "password2": PASSWORD},
    )
    groups, (first, second) = page.context["groups"], page.context["form"].positions
    client.post(
        reverse("accounts:recovery_key_confirm"),
        {"first": groups[first - 1], "second": groups[second - 1]},
    )
    client.post(reverse("accounts:verify_email"), {"code": last_emailed_code(email)})
    assert client.get(reverse("accounts:security")).status_code == 200
    client.post(reverse("accounts:logout"))
    user = User.objects.get(email=email)
    sign_in(client, user, PASSWORD)
    assert client.get(reverse("accounts:security")).status_code == 200

    user.refresh_from_db()
    assert not user.has_usable_password()
    assert password_verifiers_in_database() == []


def test_the_scan_finds_a_django_hash(owner):
    _give_legacy_hash(owner, PASSWORD)
    assert password_verifiers_in_database() == ["accounts_user.password"]


def test_wrong_password_is_refused(client, owner, argon2_calls):
    assert authenticate(None, username=owner.email, password="not the password") is None
    response = login_password_step(client, email=owner.email, password="not the password")
    assert b"do not match" in response.content
    assert not any(owner.email in m.to for m in mail.outbox)  # no code: the step failed
    assert len(argon2_calls) == 2


def test_unknown_email_costs_the_same_argon2id(owner, argon2_calls):
    attempts = [
        (owner.email, PASSWORD),
        (owner.email, "not the password"),
        ("nobody-here@example.org", PASSWORD),
    ]
    for email, password_text in attempts:
        argon2_calls.clear()
        authenticate(None, username=email, password=password_text)
        assert argon2_calls == [services._params()], email


def test_an_account_without_keys_costs_the_same_argon2id(owner, argon2_calls):
    UserKeys.objects.filter(user=owner).delete()
    assert authenticate(None, username=owner.email, password=PASSWORD) is None
    assert argon2_calls == [services._params()]


def test_inactive_account_cannot_sign_in(owner):
    User.objects.filter(pk=owner.pk).update(is_active=False)
    assert authenticate(None, username=owner.email, password=PASSWORD) is None


def test_the_password_step_unwraps_once(client, owner, argon2_calls):
    response = login_password_step(client, email=owner.email, password=PASSWORD)
    assert response.status_code == 200
    assert len(argon2_calls) == 1, "the keys of the backend's unwrap should be reused"
    login_code_step(client, last_emailed_code(owner.email))
    assert client.get(reverse("accounts:security")).status_code == 200
    assert len(argon2_calls) == 1


def test_a_legacy_hash_is_dropped_at_the_next_sign_in(client, owner):
    _give_legacy_hash(owner, PASSWORD)
    sign_in(client, owner, PASSWORD)
    owner.refresh_from_db()
    assert not owner.has_usable_password()
    assert password_verifiers_in_database() == []


def test_a_legacy_hash_is_no_way_in(client, owner):
    # A hash of another password than the one the master key is wrapped under.
    _give_legacy_hash(owner, "the old hashed password 5")
    response = login_password_step(client, email=owner.email, password="the old hashed password 5")
    assert b"do not match" in response.content
    assert not owner.check_password("the old hashed password 5")
    assert owner.check_password(PASSWORD)
    assert User.objects.get(pk=owner.pk).has_usable_password()  # untouched by a failed attempt


def test_the_migration_drops_every_hash(owner, other_user):
    for user in (owner, other_user):
        _give_legacy_hash(user, PASSWORD)
    migration = importlib.import_module("vault.accounts.migrations.0002_drop_password_hashes")
    migration.drop_password_hashes(apps, None)

    assert password_verifiers_in_database() == []
    markers = {User.objects.get(pk=user.pk).password for user in (owner, other_user)}
    assert len(markers) == 2  # one random marker each, so their session hashes differ
    assert keys_unlock_with_password(owner, PASSWORD)


def test_raised_argon2_parameters_rewrap_at_the_next_sign_in(client, owner, settings, argon2_calls):
    umk = _umk_from_recovery(owner)
    settings.VAULT_ARGON2_PARAMS = STRONGER
    sign_in(client, owner, PASSWORD)
    assert argon2_calls == [Argon2Params.FOR_TESTS, STRONGER]  # the unwrap, then the new wrap

    wrap = _stored_wrap(owner)
    assert password.blob_params(wrap) == STRONGER
    assert password.unwrap_master_key(wrap, PASSWORD) == umk
    client.post(reverse("accounts:logout"))
    argon2_calls.clear()
    sign_in(client, owner, PASSWORD)
    assert argon2_calls == [STRONGER]  # once is enough
    assert _stored_wrap(owner) == wrap


def test_lower_parameters_never_weaken_a_wrap(client, owner, settings):
    settings.VAULT_ARGON2_PARAMS = STRONGER
    sign_in(client, owner, PASSWORD)
    client.post(reverse("accounts:logout"))
    settings.VAULT_ARGON2_PARAMS = Argon2Params.FOR_TESTS
    sign_in(client, owner, PASSWORD)
    assert password.blob_params(_stored_wrap(owner)) == STRONGER


def test_an_added_pepper_rewraps_at_the_next_sign_in(client, owner, settings, tmp_path):
    umk = _umk_from_recovery(owner)
    pepper = b"a pepper of at least sixteen bytes"
    (tmp_path / "pepper").write_bytes(pepper)
    settings.VAULT_PEPPER_FILE = str(tmp_path / "pepper")
    sign_in(client, owner, PASSWORD)

    wrap = _stored_wrap(owner)
    assert not password.needs_rewrap(wrap, params=services._params(), pepper=pepper)
    assert password.unwrap_master_key(wrap, PASSWORD, pepper=pepper) == umk
    with pytest.raises(DecryptionError):
        password.unwrap_master_key(wrap, PASSWORD)  # the pepper is now needed


def test_unknown_email_costs_the_same_with_a_pepper(owner, settings, tmp_path, argon2_calls):
    (tmp_path / "pepper").write_bytes(b"a pepper of at least sixteen bytes")
    settings.VAULT_PEPPER_FILE = str(tmp_path / "pepper")
    assert authenticate(None, username="nobody-here@example.org", password=PASSWORD) is None
    assert argon2_calls == [services._params()]


def test_a_rewrap_never_undoes_a_password_change(owner, settings):
    # A sign-in with the old password opened the old wrap; before its re-wrap is written, a
    # password change commits. The re-wrap of the old password must then be dropped.
    old_wrap = _stored_wrap(owner)
    unlocked = keys_unlock_with_password(owner, PASSWORD)
    password_change(user=owner, unlocked=unlocked, new_password=NEW_PASSWORD)
    settings.VAULT_ARGON2_PARAMS = STRONGER
    services._sign_in_upgrade(user=owner, blob=old_wrap, umk=unlocked.umk, password_text=PASSWORD)
    assert owner.check_password(NEW_PASSWORD)
    assert not owner.check_password(PASSWORD)


def test_password_change_checks_the_old_password_through_the_key_wrap(owner):
    _give_legacy_hash(owner, "the old hashed password 5")  # must not count as the password
    user = User.objects.get(pk=owner.pk)
    for current, valid in (("the old hashed password 5", False), (PASSWORD, True)):
        form = PasswordChangeForm(
            {"current": current, "new1": NEW_PASSWORD, "new2": NEW_PASSWORD}, user=user
        )
        assert form.is_valid() is valid, current


def test_password_change_stores_no_password_hash(client, owner):
    sign_in(client, owner, PASSWORD)
    response = client.post(
        reverse("accounts:password_change"),
        {"current": PASSWORD, "new1": NEW_PASSWORD, "new2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert not owner.has_usable_password()
    assert password_verifiers_in_database() == []
    assert owner.check_password(NEW_PASSWORD) and not owner.check_password(PASSWORD)
    client.post(reverse("accounts:logout"))
    sign_in(client, owner, NEW_PASSWORD)


def test_recovery_stores_no_password_hash(client, owner):
    client.post(reverse("accounts:forgot"), {"email": owner.email})
    link = re.search(r"http://testserver(/accounts/recover/\S+/)", mail.outbox[-1].body).group(1)
    client.post(link, {"action": "send_code"})
    response = client.post(
        link,
        {
            "action": "recover",
            "code": last_emailed_code(owner.email),
            "recovery_key": recovery.format_recovery_key(owner.recovery_key),
            "new1": NEW_PASSWORD,
            "new2": NEW_PASSWORD,
        },
    )
    assert "old recovery key no longer works" in response.content.decode()
    owner.refresh_from_db()
    assert not owner.has_usable_password()
    assert password_verifiers_in_database() == []
    client.post(reverse("accounts:logout"))
    sign_in(client, owner, NEW_PASSWORD)


def test_django_password_setters_store_no_hash(db):
    user = User.objects.create_user("plain@example.org", "plain@example.org", PASSWORD)
    assert not user.has_usable_password()
    assert not user.check_password(PASSWORD)  # no keys, so nothing to unwrap
    with pytest.raises(NotImplementedError):
        user.set_password(PASSWORD)


def test_a_decoy_wrap_looks_like_a_wrap_and_opens_for_no_password():
    decoy = password.decoy_wrap(params=STRONGER, peppered=True)
    assert len(decoy) == password.BLOB_BYTES
    assert password.blob_params(decoy) == STRONGER
    with pytest.raises(DecryptionError):
        password.unwrap_master_key(decoy, PASSWORD, pepper=b"a pepper of sixteen bytes")
