"""The recovery key cannot be skipped for good (issue 24.3): until it is confirmed every page
leads back to it; the Account page shows its state and makes a new one that replaces the old."""

import pytest
from django.urls import reverse

from tests.accounts.test_registration import _confirm, _register
from tests.users import PASSWORD
from vault.accounts.models import User, UserKeys
from vault.crypto import DecryptionError, recovery
from vaultdev.signin import last_emailed_code, sign_in

BANNER = "Your recovery key is not confirmed yet"
SECURITY = reverse("accounts:security")
CONFIRM = reverse("accounts:recovery_key_confirm")


def _sign_up_skipping_the_key(client) -> User:
    """Sign up, close the recovery-key page unread, sign in later (code confirms the email)."""
    _register(client)
    client.cookies.clear()
    user = User.objects.get(email__iexact="rita@example.org")
    client.post(
        reverse("accounts:login"),
        {
            "vault_login_view-current_step": "auth",
            "auth-username": user.email,
            "auth-password": PASSWORD,
        },
    )
    response = client.post(
        reverse("accounts:verify_email"), {"code": last_emailed_code(user.email)}
    )
    assert response.status_code == 302
    return user


def _text(response) -> str:
    return " ".join(response.content.decode().split())


def test_a_skipped_key_shows_a_banner_on_every_page_until_a_new_one_is_confirmed(
    client, db, redis_conn
):
    user = _sign_up_skipping_the_key(client)
    for url in (reverse("photos:gallery"), SECURITY, reverse("photos:upload")):
        html = _text(client.get(url))
        assert BANNER in html, url
        assert reverse("accounts:recovery_key") in html
    assert "Not confirmed." in _text(client.get(SECURITY))

    old_wrap = bytes(UserKeys.objects.get(user=user).umk_recovery_wrap)
    shown = client.post(reverse("accounts:recovery_key_new"))
    assert shown.status_code == 200 and shown["Cache-Control"] == "no-store"
    assert "Your old recovery key no longer works." in _text(shown)
    new_key = shown.context["recovery_key"]
    keys = UserKeys.objects.get(user=user)
    assert bytes(keys.umk_recovery_wrap) != old_wrap  # the old wrap is gone
    recovery.unwrap_master_key(bytes(keys.umk_recovery_wrap), recovery.parse_recovery_key(new_key))

    # Not confirmed yet: the banner stays; the state page asks for the groups.
    assert BANNER in _text(client.get(reverse("photos:gallery")))
    assert "Group " in _text(client.get(reverse("accounts:recovery_key")))
    response = _confirm(client, shown)
    assert response.status_code == 302 and response["Location"] == SECURITY
    assert BANNER not in _text(client.get(reverse("photos:gallery")))
    assert "Confirmed on" in _text(client.get(SECURITY))


def test_a_confirmed_key_at_sign_up_shows_no_banner(client, db, redis_conn):
    response = _confirm(client, _register(client))
    user = User.objects.get(email__iexact="rita@example.org")
    client.post(response["Location"], {"code": last_emailed_code(user.email)})
    assert BANNER not in _text(client.get(reverse("photos:gallery")))
    assert "Confirmed on" in _text(client.get(SECURITY))


def test_a_new_key_replaces_the_old_one(client, owner):
    sign_in(client, owner, PASSWORD)
    old_wrap = bytes(UserKeys.objects.get(user=owner).umk_recovery_wrap)
    response = client.post(SECURITY.replace("security/", "recovery-key/new/"))
    new_key = recovery.parse_recovery_key(response.context["recovery_key"])
    keys = UserKeys.objects.get(user=owner)
    assert keys.recovery_key_confirmed_at is None
    umk = recovery.unwrap_master_key(bytes(keys.umk_recovery_wrap), new_key)
    assert len(umk) == 32
    # The stored wrap is only the new one: a key guessed from the old wrap's era fails.
    with pytest.raises(DecryptionError):
        recovery.unwrap_master_key(bytes(keys.umk_recovery_wrap), recovery.new_recovery_key())
    assert bytes(keys.umk_recovery_wrap) != old_wrap


def test_opening_the_confirm_address_directly_is_not_a_blank_405(client, owner):
    anonymous = _text(client.get(CONFIRM, follow=True))
    assert client.get(CONFIRM).status_code == 302
    assert "Sign in" in anonymous

    sign_in(client, owner, PASSWORD)
    response = client.get(CONFIRM)
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:recovery_key")
    assert "Recovery key" in _text(client.get(response["Location"]))


def test_the_new_key_needs_a_signed_in_owner(client, owner):
    response = client.post(reverse("accounts:recovery_key_new"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert UserKeys.objects.get(user=owner).recovery_key_confirmed_at is not None


def test_a_key_skipped_after_a_password_reset_is_asked_for_again(client, owner):
    from tests.accounts.test_password_and_recovery import NEW_PASSWORD, _recovery_link

    link = _recovery_link(client, owner.email)
    client.post(link, {"action": "send_code"})
    shown = client.post(
        link,
        {
            "action": "recover",
            "code": last_emailed_code(owner.email),
            "recovery_key": recovery.format_recovery_key(owner.recovery_key),
            "new1": NEW_PASSWORD,
            "new2": NEW_PASSWORD,
        },
    )
    assert shown.context["recovery_key"]
    # Closed without typing the groups back: every page leads back to it...
    assert BANNER in _text(client.get(reverse("photos:gallery")))
    # ...where the groups of the key just shown can still be typed back.
    page = _text(client.get(reverse("accounts:recovery_key")))
    assert "I have saved my recovery key" in page
    response = _confirm(client, shown)
    assert response.status_code == 302
    assert BANNER not in _text(client.get(reverse("photos:gallery")))
