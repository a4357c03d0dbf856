"""Account services: create, sign in, unlock, change password, recover, delete (DESIGN §4).

Passwords and unwrapped keys pass through these functions as arguments and return values
only; nothing here stores them, logs them or puts them in a session.

The password is verified only by unwrapping the master key (Argon2id, with the pepper): the
`password` column of every account holds Django's unusable marker, never a hash, since any
cheaper verifier would let a stolen database be attacked around the Argon2id cost and the pepper.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache, lru_cache

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_email.models import EmailDevice

from vault.accounts.models import Passkey, User, UserKeys
from vault.accounts.signals import account_keys_destroyed
from vault.crypto import DecryptionError, keys, password, recovery

log = logging.getLogger(__name__)


@dataclass(frozen=True, repr=False)
class UnlockedKeys:
    umk: bytes
    private_key: bytes


@dataclass(frozen=True, repr=False)
class SignIn:
    user: User
    unlocked: UnlockedKeys


@dataclass(frozen=True, repr=False)
class NewAccount:
    user: User
    recovery_key: bytes
    unlocked: UnlockedKeys


def _params() -> password.Argon2Params:
    # Tests swap in cheap parameters; production always uses the library default (≥ 64 MiB, t ≥ 3).
    return getattr(settings, "VAULT_ARGON2_PARAMS", None) or password.Argon2Params.DEFAULT


def _pepper() -> bytes | None:
    return _load_pepper(settings.VAULT_PEPPER_FILE)


@cache
def _load_pepper(path: str | None) -> bytes | None:
    # Keyed by the path so that a test (or a reload) that points the setting elsewhere is seen.
    return password.load_pepper(path) if path else None


@lru_cache(maxsize=4)
def _decoy_wrap(params: password.Argon2Params, peppered: bool) -> bytes:
    # Once per process and parameter set: a sign-in for an unknown email unwraps this.
    return password.decoy_wrap(params=params, peppered=peppered)


def email_taken(email: str) -> bool:
    return User.objects.filter(email__iexact=email.strip()).exists()


def account_register(*, name: str, email: str, password_text: str) -> NewAccount:
    """Create the user and all key material. Email still unverified; no second factor yet."""
    email = email.strip()
    if email_taken(email):
        raise ValidationError("An account with this email already exists.", code="email_taken")
    candidate = User(name=name, email=email)
    validate_password(password_text, user=candidate)

    with transaction.atomic():
        candidate.set_unusable_password()
        candidate.save()
        rk, unlocked = _keys_create(user=candidate, password_text=password_text)
        # The email device is both the proof that the address is real and the first second
        # factor; it becomes usable ("confirmed") once the emailed code has been entered.
        EmailDevice.objects.create(user=candidate, name="default", confirmed=False)
    log.info("account %s registered", candidate.pk)
    return NewAccount(user=candidate, recovery_key=rk, unlocked=unlocked)


def _keys_create(*, user: User, password_text: str) -> tuple[bytes, UnlockedKeys]:
    """All key material of a new (or started-over) account: UMK, X25519 pair, recovery key,
    and the row holding them wrapped (DESIGN §4). Call inside a transaction. Returns the
    recovery key (shown once, never stored) and the unlocked keys."""
    umk = keys.new_master_key()
    private_key, public_key = keys.new_keypair()
    rk = recovery.new_recovery_key()
    UserKeys.objects.create(
        user=user,
        public_key=public_key,
        wrapped_private_key=keys.wrap_private_key(umk, private_key),
        umk_password_wrap=password.wrap_master_key(
            umk, password_text, params=_params(), pepper=_pepper()
        ),
        umk_recovery_wrap=recovery.wrap_master_key(umk, rk),
    )
    return rk, UnlockedKeys(umk, private_key)


def account_create(
    *, name: str, email: str, password: str, email_verified: bool = False
) -> tuple[User, bytes]:
    """Create an account in one call (tests, operators). Returns (user, recovery key).

    The caller receives the recovery key and hands it over, so it counts as confirmed.
    """
    new = account_register(name=name, email=email, password_text=password)
    recovery_key_mark_confirmed(user=new.user)
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


def email_device_for(user: User) -> EmailDevice:
    """The user's email device; made (unconfirmed) for an account that has none yet."""
    device = EmailDevice.objects.filter(user=user).order_by("pk").first()
    return device or EmailDevice.objects.create(user=user, name="default", confirmed=False)


def _unlock(user_keys: UserKeys, umk: bytes) -> UnlockedKeys:
    private_key = keys.unwrap_private_key(umk, bytes(user_keys.wrapped_private_key))
    return UnlockedKeys(umk=umk, private_key=private_key)


def keys_unlock_with_password(user: User, password_text: str) -> UnlockedKeys:
    """Argon2id(password) → UMK → sk_U. Raises DecryptionError on a wrong password.

    Reads only; sign-in goes through `account_sign_in`, which also upgrades the stored wrap.
    """
    user_keys = UserKeys.objects.get(user=user)
    umk = password.unwrap_master_key(
        bytes(user_keys.umk_password_wrap), password_text, pepper=_pepper()
    )
    return _unlock(user_keys, umk)


def password_matches(user: User, password_text: str) -> bool:
    """The only password check there is (User.check_password): does it unwrap the UMK?"""
    try:
        keys_unlock_with_password(user, password_text)
    except (DecryptionError, UserKeys.DoesNotExist):
        return False
    return True


def account_sign_in(*, email: str, password_text: str) -> SignIn | None:
    """The password step: one Argon2id, whether or not the email has an account.

    Returns the user and their unlocked keys, or None for an unknown email, a wrong password,
    missing keys or an inactive account. A known account then gets its stored secrets brought
    up to date (`_sign_in_upgrade`).
    """
    user = User.objects.select_related("keys").filter(email__iexact=email.strip()).first()
    user_keys = getattr(user, "keys", None) if user is not None else None
    if user_keys is None:
        # Same Argon2id as a real unwrap, so the time taken does not tell whether the account
        # exists. Its result is always a failure.
        _unwrap_or_none(_decoy_wrap(_params(), _pepper() is not None), password_text)
        return None
    blob = bytes(user_keys.umk_password_wrap)
    umk = _unwrap_or_none(blob, password_text)
    if umk is None or not user.is_active:
        return None
    unlocked = _unlock(user_keys, umk)
    _sign_in_upgrade(user=user, blob=blob, umk=umk, password_text=password_text)
    return SignIn(user=user, unlocked=unlocked)


def _unwrap_or_none(blob: bytes, password_text: str) -> bytes | None:
    try:
        return password.unwrap_master_key(blob, password_text, pepper=_pepper())
    except DecryptionError:
        return None


def _sign_in_upgrade(*, user: User, blob: bytes, umk: bytes, password_text: str) -> None:
    """After a correct password: re-wrap the UMK under today's Argon2id parameters and pepper
    if the stored wrap is weaker, and drop a password hash left from before the key wrap was
    the only verifier. Both in one transaction."""
    params, pepper = _params(), _pepper()
    rewrap = password.needs_rewrap(blob, params=params, pepper=pepper)
    legacy_hash = user.has_usable_password()
    if not (rewrap or legacy_hash):
        return
    # The second Argon2id happens once per account and parameter change, outside the transaction.
    new_blob = (
        password.wrap_master_key(umk, password_text, params=params, pepper=pepper)
        if rewrap
        else None
    )
    with transaction.atomic():
        if new_blob is not None:
            # Only if the wrap is still the one just opened: a password change that committed
            # in between must not be undone by a wrap of the old password.
            rewrapped = UserKeys.objects.filter(user=user, umk_password_wrap=blob).update(
                umk_password_wrap=new_blob
            )
            if rewrapped:
                log.info("account %s: master key re-wrapped under %s", user.pk, params)
        if legacy_hash:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            log.info("account %s: Django password hash removed", user.pk)


def password_change(*, user: User, unlocked: UnlockedKeys, new_password: str) -> None:
    """Re-wrap UMK under the new password; photos stay readable, nothing else changes."""
    validate_password(new_password, user=user)
    with transaction.atomic():
        UserKeys.objects.filter(user=user).update(
            umk_password_wrap=password.wrap_master_key(
                unlocked.umk, new_password, params=_params(), pepper=_pepper()
            )
        )
        # A fresh unusable marker: like a new hash, it ends other sessions and spent reset links.
        user.set_unusable_password()
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
            recovery_key_confirmed_at=None,
        )
        # A fresh unusable marker: like a new hash, it ends other sessions and spent reset links.
        user.set_unusable_password()
        user.save(update_fields=["password"])
    log.info("account %s recovered with its recovery key", user.pk)
    return new_rk, unlocked


def account_delete(*, user: User) -> None:
    """Crypto-shred first (the wrapped keys), then the blobs, then every row of the user."""
    user_id = user.pk
    with transaction.atomic():
        UserKeys.objects.filter(user=user).delete()
        Passkey.objects.filter(user=user).delete()  # their UMK wraps with them
    account_keys_destroyed.send(sender=User, user=user)
    user.delete()
    log.info("account %s deleted", user_id)


def account_start_over(*, user: User, new_password: str) -> NewAccount:
    """Forgotten password and no recovery key: the old photos are lost for good, so delete
    them and give the account new keys, a new password and a new recovery key."""
    validate_password(new_password, user=user)
    with transaction.atomic():
        UserKeys.objects.filter(user=user).delete()
        # Their wraps hold the old master key, which opens nothing any more.
        Passkey.objects.filter(user=user).delete()
    account_keys_destroyed.send(sender=User, user=user)
    with transaction.atomic():
        rk, unlocked = _keys_create(user=user, password_text=new_password)
        # A fresh unusable marker: like a new hash, it ends other sessions and spent reset links.
        user.set_unusable_password()
        user.save(update_fields=["password"])
    log.info("account %s started over with new keys", user.pk)
    return NewAccount(user=user, recovery_key=rk, unlocked=unlocked)


def recovery_key_replace(*, user: User, umk: bytes) -> bytes:
    """A new recovery key for the signed-in owner: UMK wrapped under it replaces the old wrap
    (so the old key stops working), and it awaits confirmation. Returns the new key (shown
    once, never stored)."""
    rk = recovery.new_recovery_key()
    UserKeys.objects.filter(user=user).update(
        umk_recovery_wrap=recovery.wrap_master_key(umk, rk), recovery_key_confirmed_at=None
    )
    log.info("account %s has a new recovery key", user.pk)
    return rk


def recovery_key_mark_confirmed(*, user: User) -> None:
    """The owner typed back groups of their current recovery key."""
    UserKeys.objects.filter(user=user).update(recovery_key_confirmed_at=timezone.now())


def recovery_key_confirmed_at(user: User):
    """Selector: when the owner confirmed the recovery key that opens their vault now
    (a datetime), or None (not confirmed yet)."""
    return (
        UserKeys.objects.filter(user=user)
        .values_list("recovery_key_confirmed_at", flat=True)
        .first()
    )
