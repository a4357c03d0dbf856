"""Two-factor sign-in: the password alone never signs in; codes are single use and throttled."""

import re

import pytest
from django.core import mail
from django.urls import reverse
from django_otp.plugins.otp_email.models import EmailDevice

from tests.accounts.conftest import PASSWORD
from vault.accounts import keyring
from vaultdev.signin import last_emailed_code, login_code_step, login_password_step, sign_in

SECURITY = reverse("accounts:security")


def test_password_alone_does_not_sign_in(client, owner):
    response = login_password_step(client, email=owner.email, password=PASSWORD)
    assert response.status_code == 200
    assert b"We sent" in response.content or b"code" in response.content
    assert client.get(SECURITY).status_code == 302  # still signed out
    assert keyring.COOKIES[keyring.MAIN] not in client.cookies


def test_password_then_emailed_code_signs_in_with_a_keyring(client, owner):
    response = sign_in(client, owner, PASSWORD)
    assert response.status_code == 302
    assert client.cookies[keyring.COOKIES[keyring.MAIN]].value
    page = client.get(SECURITY)
    assert page.status_code == 200
    assert owner.email in page.content.decode()


def test_wrong_code_is_refused(client, owner):
    login_password_step(client, email=owner.email, password=PASSWORD)
    code = last_emailed_code(owner.email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = login_code_step(client, wrong)
    assert response.status_code == 200
    assert client.get(SECURITY).status_code == 302


def test_a_used_code_cannot_be_replayed(client, owner):
    sign_in(client, owner, PASSWORD)
    code = last_emailed_code(owner.email)
    client.post(reverse("accounts:logout"))

    login_password_step(client, email=owner.email, password=PASSWORD)
    # A new code was mailed; the old one is spent. Submit the old one (if they differ).
    fresh = last_emailed_code(owner.email)
    if fresh == code:
        pytest.skip("the new code happens to equal the old one (1 in a million)")
    response = login_code_step(client, code)
    assert response.status_code == 200
    assert client.get(SECURITY).status_code == 302


def test_known_and_unknown_emails_get_the_same_answer(client, owner):
    def attempt(email):
        response = login_password_step(client, email=email, password="wrong password 1")
        html = response.content.decode()
        # Drop the per-request CSRF token, compare everything else.
        return response.status_code, re.sub(r'value="[^"]{32,}"', "", html).replace(email, "EMAIL")

    assert attempt(owner.email) == attempt("nobody-here@example.org")


def test_password_lockout_holds_even_for_the_right_password(client, owner, settings):
    settings.VAULT_LOGIN_FREE_ATTEMPTS = 3
    for _ in range(3):
        response = login_password_step(client, email=owner.email, password="not it at all")
        assert b"do not match" in response.content
    response = login_password_step(client, email=owner.email, password=PASSWORD)
    assert b"Too many attempts" in response.content
    assert b"try again in" in response.content
    assert not any(owner.email in m.to for m in mail.outbox)  # no code was sent


def test_unknown_email_is_throttled_like_a_known_one(client, settings, redis_conn, db):
    settings.VAULT_LOGIN_FREE_ATTEMPTS = 2
    for _ in range(2):
        login_password_step(client, email="ghost@example.org", password="whatever it is")
    response = login_password_step(client, email="ghost@example.org", password="whatever it is")
    assert b"Too many attempts" in response.content


def test_code_lockout_holds_even_for_the_right_code(client, owner, settings):
    settings.VAULT_LOGIN_FREE_ATTEMPTS = 3
    login_password_step(client, email=owner.email, password=PASSWORD)
    code = last_emailed_code(owner.email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(3):
        login_code_step(client, wrong)
        # A guess typed during django-otp's per-device back-off is refused unchecked and not
        # counted (issue 24.2), so the attacker here waits it out each time.
        EmailDevice.objects.filter(user=owner).update(throttling_failure_timestamp=None)
    response = login_code_step(client, code)
    assert response.status_code == 200
    assert b"Too many attempts" in response.content or b"temporarily disabled" in response.content
    assert client.get(SECURITY).status_code == 302


def test_unverified_account_must_confirm_its_email_before_signing_in(client, db, redis_conn):
    from vault.accounts.services import account_create

    user, _ = account_create(name="New", email="new@example.org", password=PASSWORD)
    response = login_password_step(client, email=user.email, password=PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:verify_email")
    assert client.get(SECURITY).status_code == 302
    response = client.post(
        reverse("accounts:verify_email"), {"code": last_emailed_code(user.email)}
    )
    assert response.status_code == 302
    assert client.get(SECURITY).status_code == 200
    user.refresh_from_db()
    assert user.email_verified


def test_backup_code_works_once(client, owner):
    sign_in(client, owner, PASSWORD)
    page = client.post(reverse("accounts:backup_codes"))
    codes = page.context["codes"]
    assert len(codes) == 10
    client.post(reverse("accounts:logout"))

    for expected_in in (True, False):
        client.cookies.clear()
        login_password_step(client, email=owner.email, password=PASSWORD)
        client.post(
            reverse("accounts:login"),
            {"vault_login_view-current_step": "token", "wizard_goto_step": "backup"},
        )
        response = login_code_step(client, codes[0], step="backup")
        signed_in = client.get(SECURITY).status_code == 200
        assert signed_in is expected_in, response.content[:2000]
        client.post(reverse("accounts:logout"))


def test_authenticator_app_can_be_added_and_used(client, owner):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    sign_in(client, owner, PASSWORD)
    page = client.get(reverse("accounts:totp_add"))
    assert b"<svg" in page.content
    device = TOTPDevice.objects.get(user=owner)
    response = client.post(reverse("accounts:totp_add"), {"code": f"{totp(device.bin_key):06d}"})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed and device.name == "default"
    client.post(reverse("accounts:logout"))

    # Next sign-in asks the app first; a code from it (next time step, unused) signs in.
    login_password_step(client, email=owner.email, password=PASSWORD)
    code = totp(device.bin_key, t0=-30)  # next 30-second window: not yet used
    response = login_code_step(client, f"{code:06d}")
    assert client.get(SECURITY).status_code == 200, response.content[:2000]
