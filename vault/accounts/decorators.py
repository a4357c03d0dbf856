"""View guards: a page that shows or changes photos needs a verified login *and* the keyring."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login

from vault.accounts.keyring import request_keyring


def keyring_required(view):
    """Signed in, second factor passed, and the keyring opens; else back to the login page.

    The view finds the keys at `request.keyring` (a vault.accounts.keyring.Keyring).
    """

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated or not user.is_verified():
            return redirect_to_login(request.get_full_path())
        ring = request_keyring(request)
        if ring is None:
            # Signed in but the keys are gone (cookie cleared, session from before a restart):
            # the only way to unlock them again is the password.
            logout(request)
            messages.info(request, "Please sign in again to unlock your vault.")
            return redirect_to_login(request.get_full_path())
        request.keyring = ring
        return view(request, *args, **kwargs)

    return wrapper
