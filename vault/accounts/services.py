"""Account services: create, unlock, change password, recover, delete (DESIGN §4).

Passwords and unwrapped keys pass through these functions as arguments and return values
only; nothing here stores them, logs them or puts them in a session.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django_otp.plugins.otp_email.models import EmailDevice

from vault.accounts.models import User, UserKeys
from vault.accounts.signals import account_keys_destroyed
from vault.crypto import keys, password, recovery

log = logging.getLogger(__name__)


@dataclass(frozen=True, repr=False)
class UnlockedKeys:
    umk: bytes
    private_key: bytes


@dataclass(frozen=True, repr=False)
class NewAccount:
    user: User
    recovery_key: bytes
    unlocked: UnlockedKeys


def _params() -> password.Argon2Params:
    # Tests swap in cheap parameters; production always uses the library default (≥ 64 MiB, t ≥ 3).
    return getattr(settings, "VAULT_ARGON2_PARAMS", None) or password.Argon2Params.DEFAULT


@cache
def _pepper() -> bytes | None:
    return password.load_pepper(settings.VAULT_PEPPER_FILE) if settings.VAULT_PEPPER_FILE else None


def email_taken(email: str) -> bool:
    return User.objects.filter(email__iexact=email.strip()).exists()


def account_register(*, name: str, email: str, password_text: str) -> NewAccount:
    """Create the user and all key material. Email still unverified; no second factor yet."""
    email = email.strip()
    if email_taken(email):
        raise ValidationError("An account with this email already exists.", code="email_taken")
    candidate = User(name=name, email=email)
    validate_password(password_text, user=candidate)

    umk = keys.new_master_key()
    private_key, public_key = keys.new_keypair()
    rk = recovery.new_recovery_key()
    with transaction.atomic():
        candidate.set_password(password_text)
        candidate.save()
        UserKeys.objects.create(
            user=candidate,
            public_key=public_key,
            wrapped_private_key=keys.wrap_private_key(umk, private_key),
            umk_password_wrap=password.wrap_master_key(
                umk, password_text, params=_params(), pepper=_pepper()
            ),
            umk_recovery_wrap=recovery.wrap_master_key(umk, rk),
        )
        # The email device is both the proof that the address is real and the first second
        # factor; it becomes usable ("confirmed") once the emailed code has been entered.
        EmailDevice.objects.create(user=candidate, name="default", confirmed=False)
    log.info("account %s registered", candidate.pk)
    return NewAccount(user=candidate, recovery_key=rk, unlocked=UnlockedKeys(umk, private_key))


def account_create(
    *, name: str, email: str, password: str, email_verified: bool = False
) -> tuple[User, bytes]:
    """Create an account in one call (tests, operators). Returns (user, recovery key)."""
    new = account_register(name=name, email=email, password_text=password)
    if email_verified:
        email_mark_verified(new.user)
    return new.user, new.recovery_key


def email_mark_verified(user: User) -> EmailDevice:
    with transaction.atomic():
        user.email_verified = True
        user.save(update_fields=["email_verified"])
        device = EmailDevice.objects.filter(user=user).order_by("pk").first()
        if device is None:
            device = EmailDevice.objects.create(user=user, name="default", confirmed=True)
        elif not device.confirmed:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
    return device


def _unlock(user_keys: UserKeys, umk: bytes) -> UnlockedKeys:
    private_key = keys.unwrap_private_key(umk, bytes(user_keys.wrapped_private_key))
    return UnlockedKeys(umk=umk, private_key=private_key)


def keys_unlock_with_password(user: User, password_text: str) -> UnlockedKeys:
    """Argon2id(password) → UMK → sk_U. Raises DecryptionError on a wrong password."""
    user_keys = UserKeys.objects.get(user=user)
    umk = password.unwrap_master_key(
        bytes(user_keys.umk_password_wrap), password_text, pepper=_pepper()
    )
    return _unlock(user_keys, umk)


def password_change(*, user: User, unlocked: UnlockedKeys, new_password: str) -> None:
    """Re-wrap UMK under the new password; photos stay readable, nothing else changes."""
    validate_password(new_password, user=user)
    with transaction.atomic():
        UserKeys.objects.filter(user=user).update(
            umk_password_wrap=password.wrap_master_key(
                unlocked.umk, new_password, params=_params(), pepper=_pepper()
            )
        )
        user.set_password(new_password)
        user.save(update_fields=["password"])
    log.info("account %s changed its password", user.pk)


def account_recover(
    *, user: User, recovery_text: str, new_password: str
) -> tuple[bytes, UnlockedKeys]:
    """Recovery key → UMK; new password and a new recovery key. Returns (new rk, keys).

    Raises RecoveryKeyFormatError on a typo, DecryptionError on a wrong key.
    """
    validate_password(new_password, user=user)
    rk = recovery.parse_recovery_key(recovery_text)
    user_keys = UserKeys.objects.get(user=user)
    umk = recovery.unwrap_master_key(bytes(user_keys.umk_recovery_wrap), rk)
    unlocked = _unlock(user_keys, umk)
    new_rk = recovery.new_recovery_key()
    with transaction.atomic():
        UserKeys.objects.filter(user=user).update(
            umk_password_wrap=password.wrap_master_key(
                umk, new_password, params=_params(), pepper=_pepper()
            ),
            umk_recovery_wrap=recovery.wrap_master_key(umk, new_rk),
        )
        user.set_password(new_password)
        user.save(update_fields=["password"])
    log.info("account %s recovered with its recovery key", user.pk)
    return new_rk, unlocked


def account_delete(*, user: User) -> None:
    """Crypto-shred first (the wrapped keys), then the blobs, then every row of the user."""
    user_id = user.pk
    with transaction.atomic():
        UserKeys.objects.filter(user=user).delete()
    account_keys_destroyed.send(sender=User, user=user)
    user.delete()
    log.info("account %s deleted", user_id)


def account_start_over(*, user: User, new_password: str) -> NewAccount:
    """Forgotten password and no recovery key: the old photos are lost for good, so delete
    them and give the account new keys, a new password and a new recovery key."""
    validate_password(new_password, user=user)
    with transaction.atomic():
        UserKeys.objects.filter(user=user).delete()
    account_keys_destroyed.send(sender=User, user=user)
    umk = keys.new_master_key()
    private_key, public_key = keys.new_keypair()
    rk = recovery.new_recovery_key()
    with transaction.atomic():
        UserKeys.objects.create(
            user=user,
            public_key=public_key,
            wrapped_private_key=keys.wrap_private_key(umk, private_key),
            umk_password_wrap=password.wrap_master_key(
                umk, new_password, params=_params(), pepper=_pepper()
            ),
            umk_recovery_wrap=recovery.wrap_master_key(umk, rk),
        )
        user.set_password(new_password)
        user.save(update_fields=["password"])
    log.info("account %s started over with new keys", user.pk)
    return NewAccount(user=user, recovery_key=rk, unlocked=UnlockedKeys(umk, private_key))
