"""Services for the second-factor devices: add an authenticator app, choose the default,
remove a method, replace the backup codes. Views call these; they never write devices.

The login page asks the device named "default" first and offers the others as alternatives
(django-two-factor's convention), so "default" is a name, held by one device at a time.
"""

from __future__ import annotations

from django.db import transaction
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from vault.accounts.models import User

BACKUP_CODE_COUNT = 10


class LastMethodError(Exception):
    """Removing this method would leave no way to receive sign-in codes."""


def sign_in_methods(user: User) -> dict:
    """Selector: the user's confirmed devices, {"email", "totp", "backup"} → device or None."""
    return {
        "email": EmailDevice.objects.filter(user=user, confirmed=True).first(),
        "totp": TOTPDevice.objects.filter(user=user, confirmed=True).first(),
        "backup": StaticDevice.objects.filter(user=user, confirmed=True).first(),
    }


def device_make_default(device) -> None:
    """Make `device` (email or app) the one sign-in asks for first."""
    user = device.user
    with transaction.atomic():
        for model in (EmailDevice, TOTPDevice):
            model.objects.filter(user=user, name="default").exclude(pk=device.pk).update(
                name=model.__name__.removesuffix("Device").lower()
            )
        device.name = "default"
        device.save(update_fields=["name"])


def totp_device_pending(user: User) -> TOTPDevice:
    """The authenticator app being added (its secret is shown until a code confirms it)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    return device or TOTPDevice.objects.create(user=user, name="pending", confirmed=False)


def totp_device_confirm(device: TOTPDevice, *, make_default: bool) -> None:
    """A code from the app was right: it becomes a sign-in method, the default if asked."""
    with transaction.atomic():
        device.confirmed = True
        device.name = "totp"
        device.save(update_fields=["confirmed", "name"])
        has_email = EmailDevice.objects.filter(user=device.user, confirmed=True).exists()
        if make_default or not has_email:
            device_make_default(device)


def sign_in_method_remove(*, user: User, method: str) -> bool:
    """Remove the method ("email", "totp" or "backup"). Returns False if it was not there.

    Raises LastMethodError for the last way to receive codes; the other one then becomes the
    default.
    """
    methods = sign_in_methods(user)
    device = methods.get(method)
    if device is None:
        return False
    others = [name for name, dev in methods.items() if dev and name not in {method, "backup"}]
    if method != "backup" and not others:
        raise LastMethodError(method)
    with transaction.atomic():
        device.delete()
        if method != "backup":
            device_make_default(methods[others[0]])
    return True


def backup_codes_replace(*, user: User) -> tuple[list[str], bool]:
    """New backup codes in place of any old ones. Returns (the codes, to be shown once; whether
    there were codes before, which now no longer work)."""
    with transaction.atomic():
        old = StaticDevice.objects.filter(user=user)
        had_codes = StaticToken.objects.filter(device__in=old).exists()
        old.delete()
        device = StaticDevice.objects.create(user=user, name="backup", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes, had_codes
