"""One mistyped code never blocks the right one (issue 24.2), and the brute-force limits hold.

django-otp's per-device back-off and the vault's counters used to add up: the right code typed
just after a typo was refused *and* counted as one more wrong code, and the account's code
counter survived every successful sign-in. "A few seconds" is simulated by moving the device's
last failure back in time (no sleeping in tests).
"""

import re
from datetime import timedelta

from django.db.models import F
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.accounts.test_registration import _confirm, _register
from tests.users import PASSWORD
from vault.accounts.models import User
from vaultdev.signin import last_emailed_code, login_code_step, login_password_step

SECURITY = reverse("accounts:security")
VERIFY = reverse("accounts:verify_email")


def _seconds_pass(user, seconds: int) -> None:
    """As if the user's last wrong code had been typed `seconds` earlier."""
    for model in (EmailDevice, TOTPDevice):
        model.objects.filter(user=user, throttling_failure_timestamp__isnull=False).update(
            throttling_failure_timestamp=F("throttling_failure_timestamp")
            - timedelta(seconds=seconds)
        )


def _wrong(code: str | int) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _text(response) -> str:
    return " ".join(response.content.decode().split())


def _signed_in(client) -> bool:
    return client.get(SECURITY).status_code == 200


def test_a_typo_then_the_right_code_confirms_a_new_account(client, db, redis_conn):
    _confirm(client, _register(client))
    user = User.objects.get(email__iexact="rita@example.org")
    code = last_emailed_code(user.email)

    wrong = _text(client.post(VERIFY, {"code": _wrong(code)}))
    assert "That code is not right" in wrong

    # The right code at once: not checked yet, and the page says for how long.
    at_once = _text(client.post(VERIFY, {"code": code}))
    assert re.search(r"can be checked in 1 second\. Enter it again then\.", at_once), at_once
    assert "Too many" not in at_once

    # Pressing again and again while waiting counts nothing against the account...
    for _ in range(6):
        client.post(VERIFY, {"code": code})
    # ...so a few seconds later the right code works.
    _seconds_pass(user, 3)
    response = client.post(VERIFY, {"code": code})
    assert response.status_code == 302, _text(response)
    assert _signed_in(client)


def test_a_typo_at_every_sign_in_never_pauses_sign_in(client, owner):
    """Each sign-in has one typo; a success clears the account's count of wrong codes."""
    for _ in range(7):
        login_password_step(client, email=owner.email, password=PASSWORD)
        code = last_emailed_code(owner.email)
        assert "not right" in _text(login_code_step(client, _wrong(code)))
        _seconds_pass(owner, 3)
        response = login_code_step(client, code)
        assert response.status_code == 302, _text(response)
        assert _signed_in(client)
        client.post(reverse("accounts:logout"))
        EmailDevice.objects.filter(user=owner).update(last_generated_timestamp=None)


def test_authenticator_sign_in_a_typo_then_the_right_code_six_seconds_later(client, owner):
    EmailDevice.objects.filter(user=owner).update(name="email", confirmed=True)
    device = TOTPDevice.objects.create(user=owner, name="default", confirmed=True)
    login_password_step(client, email=owner.email, password=PASSWORD)
    code = f"{totp(device.bin_key):06d}"
    assert "not right" in _text(login_code_step(client, _wrong(code)))

    at_once = _text(login_code_step(client, code))
    assert "can be checked in 1 second" in at_once
    assert not _signed_in(client)

    _seconds_pass(owner, 6)
    response = login_code_step(client, code)
    assert response.status_code == 302, _text(response)
    assert _signed_in(client)


def test_adding_an_app_a_typo_then_the_right_code(client, owner):
    from vaultdev.signin import sign_in

    sign_in(client, owner, PASSWORD)
    client.get(reverse("accounts:totp_add"))
    device = TOTPDevice.objects.get(user=owner)
    code = f"{totp(device.bin_key):06d}"
    add = reverse("accounts:totp_add")

    assert "not right" in _text(client.post(add, {"code": _wrong(code)}))
    at_once = _text(client.post(add, {"code": code}))
    assert "can be checked in 1 second" in at_once
    _seconds_pass(owner, 3)
    response = client.post(add, {"code": code, "make_default": "yes"})
    assert response.status_code == 302, _text(response)
    device.refresh_from_db()
    assert device.confirmed


def test_wrong_codes_checked_one_by_one_still_lock_the_account(client, owner, settings):
    """An attacker who waits out the per-device back-off between guesses meets the account's
    lock after the free attempts; it then holds for the right code too, and says how long."""
    settings.VAULT_LOGIN_FREE_ATTEMPTS = 3
    login_password_step(client, email=owner.email, password=PASSWORD)
    code = last_emailed_code(owner.email)
    for _ in range(3):
        assert "not right" in _text(login_code_step(client, _wrong(code)))
        _seconds_pass(owner, 3600)
    locked = _text(login_code_step(client, code))
    assert re.search(r"sign-in is paused; try again in \d+ seconds", locked), locked
    assert not _signed_in(client)


def test_a_burst_of_guesses_checks_only_the_first(client, owner):
    """While the device's back-off holds, nothing is checked: the right code in a burst of
    guesses does not sign in."""
    login_password_step(client, email=owner.email, password=PASSWORD)
    code = last_emailed_code(owner.email)
    login_code_step(client, _wrong(code))
    assert "can be checked in" in _text(login_code_step(client, code))
    assert not _signed_in(client)
    assert EmailDevice.objects.get(user=owner).throttling_failure_count == 1


def test_password_reset_a_typo_then_the_right_code(client, owner):
    from django.core import mail

    from tests.accounts.test_password_and_recovery import NEW_PASSWORD, _recovery_link
    from vault.crypto import recovery

    link = _recovery_link(client, owner.email)
    client.post(link, {"action": "send_code"})
    code = last_emailed_code(owner.email)
    form = {
        "action": "recover",
        "recovery_key": recovery.format_recovery_key(owner.recovery_key),
        "new1": NEW_PASSWORD,
        "new2": NEW_PASSWORD,
    }
    assert "not right" in _text(client.post(link, {**form, "code": _wrong(code)}))
    at_once = _text(client.post(link, {**form, "code": code}))
    assert "can be checked in 1 second" in at_once
    _seconds_pass(owner, 3)
    response = client.post(link, {**form, "code": code})
    assert response.status_code == 200 and "Your old recovery key no longer works" in _text(
        response
    ), _text(response)[:3000]
    assert len(mail.outbox) >= 2
