"""After a full sign-in, no password or key sits in the session table, Valkey or the logs."""

import base64
import logging

from django.contrib.sessions.models import Session
from django.urls import reverse

from tests.accounts.conftest import PASSWORD
from vault.accounts import keyring
from vault.accounts.services import keys_unlock_with_password
from vaultdev.signin import sign_in


def _spellings(secret: bytes) -> list[bytes]:
    return [
        secret,
        secret.hex().encode(),
        secret.hex().upper().encode(),
        base64.b64encode(secret),
        base64.urlsafe_b64encode(secret),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
        base64.b32encode(secret).rstrip(b"="),
    ]


def _assert_absent(haystack: bytes, secrets: dict[str, bytes], where: str):
    for name, secret in secrets.items():
        for spelling in _spellings(secret):
            assert spelling not in haystack, f"{name} found in {where}"


def test_no_secret_in_sessions_valkey_or_logs(client, owner, redis_conn, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    sign_in(client, owner, PASSWORD)
    assert client.get(reverse("accounts:security")).status_code == 200

    unlocked = keys_unlock_with_password(owner, PASSWORD)
    cookie_key = base64.urlsafe_b64decode(client.cookies[keyring.COOKIES[keyring.MAIN]].value)
    secrets = {
        "password": PASSWORD.encode(),
        "master key": unlocked.umk,
        "private key": unlocked.private_key,
        "keyring cookie key": cookie_key,
    }

    sessions = b"".join(
        s.session_data.encode() + repr(s.get_decoded()).encode() for s in Session.objects.all()
    )
    assert sessions, "the sign-in should have stored a session"
    _assert_absent(sessions, secrets, "the session table")

    dump = b""
    for key in redis_conn.keys("*"):
        dump += key + repr(redis_conn.dump(key)).encode()
    _assert_absent(dump, secrets, "Valkey")

    out, err = capfd.readouterr()
    logs = (caplog.text + out + err).encode()
    _assert_absent(logs, secrets, "the log output")


def test_session_id_changes_at_sign_in(client, owner):
    client.get(reverse("accounts:login"))
    before = client.cookies["sessionid"].value if "sessionid" in client.cookies else None
    sign_in(client, owner, PASSWORD)
    assert client.cookies["sessionid"].value != before


def test_an_old_keyring_cookie_opens_nothing_in_a_new_session(client, owner):
    sign_in(client, owner, PASSWORD)
    old_cookie = client.cookies[keyring.COOKIES[keyring.MAIN]].value
    client.post(reverse("accounts:logout"))
    sign_in(client, owner, PASSWORD)
    assert client.get(reverse("accounts:security")).status_code == 200

    client.cookies[keyring.COOKIES[keyring.MAIN]] = old_cookie
    response = client.get(reverse("accounts:security"))
    # The keys do not open, so the user is sent to sign in again.
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_the_session_half_alone_opens_nothing(client, owner):
    sign_in(client, owner, PASSWORD)
    del client.cookies[keyring.COOKIES[keyring.MAIN]]
    response = client.get(reverse("accounts:security"))
    assert response.status_code == 302


def test_logout_destroys_the_keyring(client, owner):
    sign_in(client, owner, PASSWORD)
    session_key = client.cookies["sessionid"].value
    cookie = client.cookies[keyring.COOKIES[keyring.MAIN]].value
    response = client.post(reverse("accounts:logout"))
    assert client.cookies[keyring.COOKIES[keyring.MAIN]].value == ""
    assert response.cookies[keyring.COOKIES[keyring.MAIN]]["max-age"] == 0
    assert not Session.objects.filter(session_key=session_key).exists()
    # Replaying both halves (cookie and old session id) does not get back in.
    client.cookies["sessionid"] = session_key
    client.cookies[keyring.COOKIES[keyring.MAIN]] = cookie
    assert client.get(reverse("accounts:security")).status_code == 302
