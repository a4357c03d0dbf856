"""Django authentication backend whose only password check is the master key's Argon2id wrap.

`authenticate()` does one Argon2id per attempt, for known and unknown emails alike
(vault.accounts.services.account_sign_in), and hands the keys it unlocked to the password step
on the user object, for that request only: the login view builds the pending keyring from them
instead of paying for a second unwrap. Permissions and `get_user` are ModelBackend's.
"""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from vault.accounts.models import User
from vault.accounts.services import UnlockedKeys, account_sign_in

_UNLOCKED = "_vault_unlocked_keys"


class KeyWrapBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        email = username if username is not None else kwargs.get(User.USERNAME_FIELD)
        if email is None or password is None:
            return None
        signed_in = account_sign_in(email=email, password_text=password)
        if signed_in is None:
            return None
        # An attribute of this in-memory object only: two-factor's wizard keeps just the user's
        # pk and backend in the session, and nothing saves it elsewhere.
        setattr(signed_in.user, _UNLOCKED, signed_in.unlocked)
        return signed_in.user


def unlocked_keys_take(user) -> UnlockedKeys | None:
    """The keys `authenticate()` unlocked for `user`, removed from it (None if there are none)."""
    return user.__dict__.pop(_UNLOCKED, None)
