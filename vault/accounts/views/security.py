"""The account's security page: second-factor methods, recovery key, password change, account
deletion. Devices and keys are written by vault.accounts.devices and vault.accounts.services."""

from __future__ import annotations

import base64

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from vault.accounts import devices
from vault.accounts.code_checks import WRONG_CODE, code_verify
from vault.accounts.decorators import keyring_required
from vault.accounts.forms import AuthenticatorAddForm, DeleteAccountForm, PasswordChangeForm
from vault.accounts.keyring import keyring_destroy
from vault.accounts.passkeys import passkeys_of
from vault.accounts.services import account_delete, password_change, recovery_key_confirmed_at


@keyring_required
def security(request):
    methods = devices.sign_in_methods(request.user)
    backup_left = methods["backup"].token_set.count() if methods["backup"] else 0
    return render(
        request,
        "accounts/security.html",
        {
            "methods": methods,
            "backup_left": backup_left,
            "recovery_key_confirmed_at": recovery_key_confirmed_at(request.user),
            "passkeys": passkeys_of(request.user),
        },
    )


@keyring_required
@require_http_methods(["GET", "POST"])
def totp_add(request):
    user = request.user
    device = devices.totp_device_pending(user)
    form = AuthenticatorAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        error = code_verify(request, user=user, device=device, token=form.cleaned_data["code"])
        if not error:
            make_default = form.cleaned_data["make_default"] != "no"
            devices.totp_device_confirm(device, make_default=make_default)
            if make_default:
                messages.success(request, "Authenticator app added. It is now asked for first.")
            else:
                messages.success(
                    request,
                    "Authenticator app added. Sign-in still asks for an emailed code first "
                    "and offers the app as another way.",
                )
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
    try:
        removed = devices.sign_in_method_remove(user=request.user, method=method)
    except devices.LastMethodError:
        messages.error(request, "Keep at least one way to receive sign-in codes.")
        return redirect("accounts:security")
    if removed:
        messages.success(request, "Sign-in method removed.")
    return redirect("accounts:security")


@keyring_required
@require_POST
def method_make_default(request, method: str):
    device = devices.sign_in_methods(request.user).get(method)
    if device is not None and method != "backup":
        devices.device_make_default(device)
        messages.success(request, "Sign-in will ask for this method first.")
    return redirect("accounts:security")


@keyring_required
@require_POST
def backup_codes(request):
    """Replace the backup codes and show the new ones once."""
    codes, replaced = devices.backup_codes_replace(user=request.user)
    response = render(request, "accounts/backup_codes.html", {"codes": codes, "replaced": replaced})
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
