"""The account's security page: second-factor methods, password change, account deletion."""

from __future__ import annotations

import base64

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from vault.accounts.code_checks import WRONG_CODE, code_verify
from vault.accounts.decorators import keyring_required
from vault.accounts.forms import CodeForm, DeleteAccountForm, PasswordChangeForm
from vault.accounts.keyring import keyring_destroy
from vault.accounts.services import account_delete, password_change

BACKUP_CODE_COUNT = 10


def _methods(user) -> dict:
    return {
        "email": EmailDevice.objects.filter(user=user, confirmed=True).first(),
        "totp": TOTPDevice.objects.filter(user=user, confirmed=True).first(),
        "backup": StaticDevice.objects.filter(user=user, confirmed=True).first(),
    }


def _make_default(device) -> None:
    """The login page asks the "default" device first; the others are offered as alternatives."""
    user = device.user
    with transaction.atomic():
        for model in (EmailDevice, TOTPDevice):
            model.objects.filter(user=user, name="default").exclude(pk=device.pk).update(
                name=model.__name__.removesuffix("Device").lower()
            )
        device.name = "default"
        device.save(update_fields=["name"])


@keyring_required
def security(request):
    methods = _methods(request.user)
    backup_left = methods["backup"].token_set.count() if methods["backup"] else 0
    return render(
        request,
        "accounts/security.html",
        {"methods": methods, "backup_left": backup_left},
    )


@keyring_required
@require_http_methods(["GET", "POST"])
def totp_add(request):
    user = request.user
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="pending", confirmed=False)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        error = code_verify(request, user=user, device=device, token=form.cleaned_data["code"])
        if not error:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            _make_default(device)
            messages.success(request, "Authenticator app added. It is now asked for first.")
            return redirect("accounts:security")
        if error == WRONG_CODE:
            error = "That code is not right. Check the time on your phone and retry."
        form.add_error("code", error)
    svg = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage)
    return render(
        request,
        "accounts/totp_add.html",
        {
            "form": form,
            "qr_svg": svg.to_string(encoding="unicode"),
            "secret": base64.b32encode(device.bin_key).decode().rstrip("="),
        },
    )


@keyring_required
@require_POST
def method_remove(request, method: str):
    methods = _methods(request.user)
    others = [name for name, device in methods.items() if device and name not in {method, "backup"}]
    device = methods.get(method)
    if device is None:
        return redirect("accounts:security")
    if method != "backup" and not others:
        messages.error(request, "Keep at least one way to receive sign-in codes.")
        return redirect("accounts:security")
    device.delete()
    if method != "backup":
        _make_default(methods[others[0]])
    messages.success(request, "Sign-in method removed.")
    return redirect("accounts:security")


@keyring_required
@require_POST
def method_make_default(request, method: str):
    device = _methods(request.user).get(method)
    if device is not None and method != "backup":
        _make_default(device)
        messages.success(request, "Sign-in will ask for this method first.")
    return redirect("accounts:security")


@keyring_required
@require_POST
def backup_codes(request):
    """Replace the backup codes and show the new ones once."""
    with transaction.atomic():
        StaticDevice.objects.filter(user=request.user).delete()
        device = StaticDevice.objects.create(user=request.user, name="backup", confirmed=True)
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
        StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    response = render(request, "accounts/backup_codes.html", {"codes": codes})
    response["Cache-Control"] = "no-store"
    return response


@sensitive_post_parameters("current", "new1", "new2")
@keyring_required
@require_http_methods(["GET", "POST"])
def change_password(request):
    form = PasswordChangeForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        password_change(
            user=request.user, unlocked=request.keyring, new_password=form.cleaned_data["new1"]
        )
        # New password hash: every other session of this user stops being valid; keep this one.
        update_session_auth_hash(request, request.user)
        messages.success(request, "Password changed. Other devices have been signed out.")
        return redirect("accounts:security")
    return render(request, "accounts/password_change.html", {"form": form})


@sensitive_post_parameters("password")
@keyring_required
@require_http_methods(["GET", "POST"])
def delete_account(request):
    form = DeleteAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        user = request.user
        keyring_destroy(request)
        logout(request)
        account_delete(user=user)
        messages.info(request, "Your account and every photo in it have been deleted.")
        return redirect("home")
    return render(request, "accounts/delete.html", {"form": form})
