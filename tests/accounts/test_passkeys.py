"""Passkeys through the real endpoints, with a software authenticator (tests/accounts/
soft_authenticator.py): adding one, signing in and unlocking with it alone, the second-factor
fallback without PRF, and the attacks DESIGN §13 and issue 22 name."""

import base64
import logging
import time

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.urls import reverse

from tests.accounts.conftest import OTHER_PASSWORD, PASSWORD
from tests.accounts.soft_authenticator import FLAGS, SoftAuthenticator, b64, unb64
from vault.accounts import devices, keyring, passkeys
from vault.accounts.models import Passkey, User, UserKeys
from vault.accounts.services import (
    account_delete,
    account_recover,
    account_start_over,
    keys_unlock_with_password,
    password_change,
)
from vault.crypto import recovery
from vaultdev.signin import (
    last_emailed_code,
    login_code_step,
    login_password_step,
    sign_in,
)

SECURITY = reverse("accounts:security")
JSON = "application/json"


def _post(client, name, body=None, **kwargs):
    return client.post(reverse(name, kwargs=kwargs or None), body or {}, content_type=JSON)


def add_passkey(client, user, auth, *, label="Phone", password=PASSWORD):
    """Through the security page: confirm password + a backup code, create, enable unlock.
    Returns the JSON of the last step."""
    codes, _ = devices.backup_codes_replace(user=user)
    response = client.post(
        reverse("accounts:passkey_add"), {"password": password, "code": codes[0]}
    )
    assert response.status_code == 302, "the password and code did not confirm"
    options = _post(client, "accounts:passkey_register_options").json()["publicKey"]
    added = _post(
        client,
        "accounts:passkey_register",
        {"credential": auth.create(options), "label": label},
    )
    assert added.status_code == 200, added.content
    added = added.json()
    done = _post(
        client,
        "accounts:passkey_unlock",
        {"credential": auth.get(added["publicKey"])},
        passkey_id=added["passkey"],
    )
    assert done.status_code == 200, done.content
    return done.json()


def passkey_sign_in(client, auth, **overrides):
    options = _post(client, "accounts:passkey_sign_in_options").json()["publicKey"]
    return _post(client, "accounts:passkey_sign_in", {"credential": auth.get(options, **overrides)})


@pytest.fixture
def owner_passkey(client, owner):
    """The owner with a PRF passkey added; `client` signed out afterwards."""
    auth = SoftAuthenticator()
    sign_in(client, owner, PASSWORD)
    assert add_passkey(client, owner, auth)["unlocks"] is True
    client.post(reverse("accounts:logout"))
    return auth


def _signed_in_with_keys(client) -> bool:
    return (
        client.get(SECURITY).status_code == 200
        and keyring.COOKIES[keyring.MAIN] in client.cookies
        and client.cookies[keyring.COOKIES[keyring.MAIN]].value != ""
    )


# What a user gets ----------------------------------------------------------------------------


def test_a_prf_passkey_alone_signs_in_and_unlocks_the_vault(client, owner, owner_passkey):
    response = passkey_sign_in(client, owner_passkey)
    assert response.status_code == 200, response.content
    assert response.json()["redirect"]
    assert _signed_in_with_keys(client)
    page = client.get(SECURITY).content.decode()
    assert "Phone" in page and "signs in and unlocks" in page and "last used" in page


def test_adding_a_passkey_needs_the_password_and_a_code_again(client, owner):
    sign_in(client, owner, PASSWORD)
    assert _post(client, "accounts:passkey_register_options").status_code == 403
    codes, _ = devices.backup_codes_replace(user=owner)
    page = client.post(reverse("accounts:passkey_add"), {"password": "wrong", "code": codes[0]})
    assert "That is not your password." in page.content.decode()
    page = client.post(reverse("accounts:passkey_add"), {"password": PASSWORD, "code": "000000"})
    assert "not right" in page.content.decode()
    assert _post(client, "accounts:passkey_register_options").status_code == 403


def test_without_prf_the_passkey_is_a_second_factor_after_the_password(client, owner):
    auth = SoftAuthenticator(prf=False)
    sign_in(client, owner, PASSWORD)
    assert add_passkey(client, owner, auth)["unlocks"] is False
    assert "second step only" in client.get(SECURITY).content.decode()
    client.post(reverse("accounts:logout"))

    refused = passkey_sign_in(client, auth)
    assert refused.status_code == 400
    assert "only as the second step after your password" in refused.json()["error"]
    assert client.get(SECURITY).status_code == 302

    page = login_password_step(client, email=owner.email, password=PASSWORD)
    assert "Use a passkey instead" in page.content.decode()
    options = _post(client, "accounts:passkey_second_factor_options").json()["publicKey"]
    done = _post(client, "accounts:passkey_second_factor", {"credential": auth.get(options)})
    assert done.status_code == 200, done.content
    assert _signed_in_with_keys(client)


def test_rename_and_remove(client, owner, owner_passkey):
    sign_in(client, owner, PASSWORD)
    pk = Passkey.objects.get(user=owner)
    client.post(reverse("accounts:passkey_rename", args=[pk.pk]), {"label": "Work laptop"})
    assert "Work laptop" in client.get(SECURITY).content.decode()
    client.post(reverse("accounts:passkey_remove", args=[pk.pk]))
    assert not Passkey.objects.filter(pk=pk.pk).exists()  # the wrap went with it
    client.post(reverse("accounts:logout"))
    assert passkey_sign_in(client, owner_passkey).status_code == 400
    assert client.get(SECURITY).status_code == 302


def test_password_change_leaves_passkeys_working(client, owner, owner_passkey):
    password_change(
        user=owner,
        unlocked=keys_unlock_with_password(owner, PASSWORD),
        new_password="an entirely new passphrase 9",
    )
    assert passkey_sign_in(client, owner_passkey).status_code == 200
    assert _signed_in_with_keys(client)


def test_recovery_key_opens_the_vault_when_every_passkey_is_lost(client, owner, owner_passkey):
    umk = keys_unlock_with_password(owner, PASSWORD).umk
    Passkey.objects.filter(user=owner).delete()
    _, unlocked = account_recover(
        user=owner,
        recovery_text=recovery.format_recovery_key(owner.recovery_key),
        new_password="an entirely new passphrase 9",
    )
    assert unlocked.umk == umk


def test_account_deletion_removes_the_passkeys(client, owner, owner_passkey):
    account_delete(user=User.objects.get(pk=owner.pk))
    assert not Passkey.objects.exists()
    assert passkey_sign_in(client, owner_passkey).status_code == 400


# Attacks ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"origin": "https://evil.example"}, passkeys.REFUSED),
        ({"origin": "http://sub.testserver"}, passkeys.REFUSED),
        ({"rp_id": "evil.example"}, passkeys.REFUSED),
        # no user verification: not allowed without a password
        ({"flags": FLAGS.UP}, passkeys.REFUSED),
        # signed over a challenge this server never gave: no signature is even checked
        ({"challenge": b"\1" * 32}, passkeys.STALE),
    ],
    ids=["other origin", "subdomain origin", "other rp id", "no user verification", "challenge"],
)
def test_forged_assertions_are_refused(client, owner, owner_passkey, overrides, message):
    response = passkey_sign_in(client, owner_passkey, **overrides)
    assert response.status_code == 400
    assert response.json()["error"] == message
    assert client.get(SECURITY).status_code == 302


def test_a_replayed_assertion_is_refused(client, owner, owner_passkey):
    options = _post(client, "accounts:passkey_sign_in_options").json()["publicKey"]
    assertion = owner_passkey.get(options)
    other = client.__class__()
    # The same assertion, sent twice: the challenge was used up by the first.
    first = _post(client, "accounts:passkey_sign_in", {"credential": assertion})
    assert first.status_code == 200
    client.post(reverse("accounts:logout"))
    again = _post(client, "accounts:passkey_sign_in", {"credential": assertion})
    assert again.status_code == 400
    # ...and from another session, which never had that challenge.
    assert _post(other, "accounts:passkey_sign_in", {"credential": assertion}).status_code == 400


def test_a_stale_challenge_is_refused(client, owner, owner_passkey):
    options = _post(client, "accounts:passkey_sign_in_options").json()["publicKey"]
    session = client.session
    for entry in session["passkey_challenges"].values():
        entry["expires"] = time.time() - 1
    session.save()
    response = _post(client, "accounts:passkey_sign_in", {"credential": owner_passkey.get(options)})
    assert response.status_code == 400
    assert response.json()["error"] == passkeys.STALE


def test_a_signature_counter_going_back_is_refused_and_reported(
    client, owner, owner_passkey, caplog
):
    caplog.set_level(logging.WARNING)
    used = owner_passkey.counter
    response = passkey_sign_in(client, owner_passkey, counter=used)  # a clone's counter
    assert response.status_code == 400
    assert "signature counter went back" in caplog.text
    assert client.get(SECURITY).status_code == 302
    assert passkey_sign_in(client, owner_passkey).status_code == 200  # the real one still works
    assert "which happens when a passkey has been copied" in client.get(SECURITY).content.decode()


def test_a_credential_of_another_user_is_refused(client, owner, other_user, owner_passkey):
    # Oscar (with a passkey of his own) enters his password, then presents Olive's passkey
    # as his second factor.
    oscar_key = SoftAuthenticator()
    oscar = client.__class__()
    sign_in(oscar, other_user, OTHER_PASSWORD)
    add_passkey(oscar, other_user, oscar_key, password=OTHER_PASSWORD)
    login_password_step(client, email=other_user.email, password=OTHER_PASSWORD)
    options = _post(client, "accounts:passkey_second_factor_options").json()["publicKey"]
    olive_assertion = owner_passkey.get(options)
    refused = _post(client, "accounts:passkey_second_factor", {"credential": olive_assertion})
    assert refused.status_code == 400
    assert client.get(SECURITY).status_code == 302
    # Passwordless: Olive's credential with Oscar's user handle is refused too.
    response = passkey_sign_in(client, owner_passkey, user_handle=oscar_key.user_handle)
    assert response.status_code == 400


def test_a_wrong_prf_output_opens_nothing(client, owner, owner_passkey):
    response = passkey_sign_in(client, owner_passkey, prf=b64(b"\0" * 32))
    assert response.status_code == 400
    assert response.json()["error"] == passkeys.REFUSED
    assert client.get(SECURITY).status_code == 302


def test_passkey_failures_count_toward_the_code_lockout(client, owner, owner_passkey, settings):
    for _ in range(settings.VAULT_LOGIN_FREE_ATTEMPTS):
        passkey_sign_in(client, owner_passkey, origin="https://evil.example")
    # Now even the right passkey waits...
    locked = passkey_sign_in(client, owner_passkey)
    assert locked.status_code == 400
    assert "Too many attempts" in locked.json()["error"]
    # ...and so does a right emailed code, the same lockout.
    login_password_step(client, email=owner.email, password=PASSWORD)
    page = login_code_step(client, last_emailed_code(owner.email))
    assert page.status_code == 200 and "Too many attempts" in page.content.decode()


# Secrets ---------------------------------------------------------------------------------------


def _spellings(secret: bytes) -> list[bytes]:
    return [
        secret,
        secret.hex().encode(),
        base64.b64encode(secret),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


def test_the_prf_output_never_reaches_logs_database_sessions_or_valkey(
    client, owner, redis_conn, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    auth = SoftAuthenticator()
    sign_in(client, owner, PASSWORD)
    add_passkey(client, owner, auth)
    client.post(reverse("accounts:logout"))
    assert passkey_sign_in(client, auth).status_code == 200

    options = {"extensions": {"prf": {"eval": {"first": b64(b"spv/v1/passkey-prf")}}}}
    prf_output = unb64(auth._prf(options["extensions"]))
    umk = keys_unlock_with_password(owner, PASSWORD).umk
    secrets = {"PRF output": prf_output, "master key": umk}

    tables = b""
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # noqa: S608 - names from the catalogue
            tables += repr(cursor.fetchall()).encode()
    sessions = b"".join(repr(s.get_decoded()).encode() for s in Session.objects.all())
    valkey = b"".join(k + repr(redis_conn.dump(k)).encode() for k in redis_conn.keys("*"))
    out, err = capfd.readouterr()
    logs = (caplog.text + out + err).encode()
    assert UserKeys.objects.filter(user=owner).exists() and sessions
    for where, haystack in [
        ("the database", tables),
        ("the session store", sessions),
        ("Valkey", valkey),
        ("the logs", logs),
    ]:
        for name, secret in secrets.items():
            for spelling in _spellings(secret):
                assert spelling not in haystack, f"{name} found in {where}"


def test_removing_a_passkey_ends_the_sessions_it_signed_in(client, owner, owner_passkey):
    assert passkey_sign_in(client, owner_passkey).status_code == 200
    assert _signed_in_with_keys(client)
    manager = client.__class__()
    sign_in(manager, owner, PASSWORD)
    pk = Passkey.objects.get(user=owner)
    manager.post(reverse("accounts:passkey_remove", args=[pk.pk]))
    assert client.get(SECURITY).status_code == 302  # that session is no longer verified


def test_each_tab_keeps_its_own_challenge(client, owner, owner_passkey):
    """The autofill request and the button (or two tabs) each ask for options: both answers
    stay valid, each once."""
    first = _post(client, "accounts:passkey_sign_in_options").json()["publicKey"]
    second = _post(client, "accounts:passkey_sign_in_options").json()["publicKey"]
    early = owner_passkey.get(second)  # the second tab is answered first
    late = owner_passkey.get(first)
    assert _post(client, "accounts:passkey_sign_in", {"credential": early}).status_code == 200
    assert _post(client, "accounts:passkey_sign_in", {"credential": late}).status_code == 200
    again = _post(client, "accounts:passkey_sign_in", {"credential": late})
    assert again.status_code == 400 and again.json()["error"] == passkeys.STALE


def test_starting_over_without_the_recovery_key_deletes_the_passkeys(client, owner, owner_passkey):
    """Their wraps hold the old master key, which no longer opens anything."""
    account_start_over(
        user=User.objects.get(pk=owner.pk), new_password="a fresh start passphrase 3"
    )
    assert not Passkey.objects.filter(user=owner).exists()
    assert passkey_sign_in(client, owner_passkey).status_code == 400


# Hand-made requests: refused with a 400 and a message, never a 500 --------------------------

MALFORMED = [
    '{"credential": "x"}',
    '{"credential": [1, 2]}',
    '{"credential": 7}',
    '{"credential": null}',
    '{"credential": true}',
    "{}",
    "[]",
    "null",
    '"x"',
    "not json",
    '{"credential": {}}',
    '{"credential": {"rawId": 5}}',
    '{"credential": {"response": "zz", "rawId": "AA"}}',
    '{"credential": {"response": {"clientDataJSON": "eyJ9"}}}',
    '{"credential": {"response": {"clientDataJSON": 5}, "prf": [1]}}',
    '{"credential": {"response": [], "prf": {"a": 1}}}',
]


# Answers to a real challenge with nested garbage where the assertion's parts go.
GARBLE = [
    lambda c: {**c, "response": {**c["response"], "authenticatorData": [1]}},
    lambda c: {**c, "response": {**c["response"], "signature": {"x": 1}}},
    lambda c: {**c, "rawId": 5},
    lambda c: {**c, "response": None},
]


def _assert_refused(client, name, body, **kwargs):
    response = client.post(reverse(name, kwargs=kwargs or None), body, content_type=JSON)
    assert response.status_code == 400, (name, body, response.status_code)
    assert response.json()["error"]


def test_malformed_sign_in_answers_are_refused_without_a_500(client, owner, owner_passkey):
    for body in MALFORMED:
        _assert_refused(client, "accounts:passkey_sign_in", body)
    for garble in [*GARBLE, lambda c: {**c, "prf": 12}]:  # the second factor ignores prf
        options = _post(client, "accounts:passkey_sign_in_options").json()["publicKey"]
        body = {"credential": garble(owner_passkey.get(options))}
        _assert_refused(client, "accounts:passkey_sign_in", body)
    assert not _signed_in_with_keys(client)


def test_malformed_second_factor_answers_are_refused_without_a_500(client, owner):
    auth = SoftAuthenticator(prf=False)
    sign_in(client, owner, PASSWORD)
    add_passkey(client, owner, auth)
    client.post(reverse("accounts:logout"))
    login_password_step(client, email=owner.email, password=PASSWORD)
    for body in MALFORMED:
        _assert_refused(client, "accounts:passkey_second_factor", body)
    for garble in GARBLE:
        options = _post(client, "accounts:passkey_second_factor_options").json()["publicKey"]
        body = {"credential": garble(auth.get(options))}
        _assert_refused(client, "accounts:passkey_second_factor", body)
    assert not _signed_in_with_keys(client)


def test_malformed_unlock_and_registration_answers_are_refused_without_a_500(
    client, owner, owner_passkey
):
    sign_in(client, owner, PASSWORD)
    pk = Passkey.objects.get(user=owner)
    wrap = bytes(pk.umk_wrap)
    for body in MALFORMED:
        _assert_refused(client, "accounts:passkey_unlock", body, passkey_id=pk.pk)
    codes, _ = devices.backup_codes_replace(user=owner)
    client.post(reverse("accounts:passkey_add"), {"password": PASSWORD, "code": codes[0]})
    for body in MALFORMED:
        _assert_refused(client, "accounts:passkey_register", body)
    options = _post(client, "accounts:passkey_register_options").json()["publicKey"]
    created = SoftAuthenticator().create(options)
    _assert_refused(
        client,
        "accounts:passkey_register",
        {"credential": {**created, "response": {**created["response"], "attestationObject": 5}}},
    )
    pk.refresh_from_db()
    assert bytes(pk.umk_wrap) == wrap and Passkey.objects.filter(user=owner).count() == 1
