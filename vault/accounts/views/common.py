"""Pieces shared by the account flows."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.contrib.auth import login
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django_otp import login as otp_login

from vault.accounts import throttle
from vault.accounts.keyring import keyring_install
from vault.crypto import recovery

BACKEND = "vault.accounts.backends.KeyWrapBackend"


def after_login_url() -> str:
    try:
        return reverse("photos:gallery")
    except NoReverseMatch:
        return reverse("home")


def finish_login(request, *, user, device, unlocked):
    """Second factor passed: log in (new session id), mark OTP-verified, install the keyring."""
    login(request, user, backend=BACKEND)
    otp_login(request, device)
    keyring_install(request, user_id=user.pk, umk=unlocked.umk, private_key=unlocked.private_key)
    for scope in ("password", "code"):  # earlier typos of this account stop counting
        throttle.record_success(
            throttle.Subject.for_request(request, scope=scope, email=user.email)
        )
    return redirect(after_login_url())


def recovery_groups(rk: bytes) -> list[str]:
    return recovery.format_recovery_key(rk).split("-")


def recovery_check(groups: list[str], positions: list[int]) -> str:
    """A keyed digest of the groups to type back: the session never holds the key itself."""
    message = "|".join([*map(str, positions), *groups]).encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
