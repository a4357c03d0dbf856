"""Passkey pages and the JSON endpoints that the passkey script (static accounts/passkeys.js)
calls around navigator.credentials. The work is done by vault.accounts.passkeys."""

from __future__ import annotations

import json
import time

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_http_methods, require_POST

from vault.accounts import passkeys
from vault.accounts.code_checks import code_verify_any
from vault.accounts.decorators import keyring_required
from vault.accounts.email_codes import email_code_request
from vault.accounts.forms import PasskeyConfirmForm
from vault.accounts.keyring import keyring_destroy, pending_keyring_take, pending_keyring_user
from vault.accounts.models import User
from vault.accounts.services import UnlockedKeys, email_device_for
from vault.accounts.views.common import after_login_url, finish_login

CONFIRMED_KEY = "passkey_add_confirmed_until"
CONFIRMED_LIFETIME = 10 * 60  # seconds to add a passkey after confirming password and code
_MAX_BODY = 64 * 1024


def _json_body(request) -> dict:
    if len(request.body) > _MAX_BODY:
        return {}
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _refused(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _add_confirmed(request) -> bool:
    return request.session.get(CONFIRMED_KEY, 0) > time.time()


# Security page: add, rename, remove -----------------------------------------------------------


@sensitive_post_parameters("password", "code")
@keyring_required
@require_http_methods(["GET", "POST"])
def passkey_add(request):
    """Confirm the password and a second-factor code, then the page offers "Create passkey"."""
    user = request.user
    form = PasskeyConfirmForm(request.POST or None, user=user)
    if request.method == "POST" and "send_code" in request.POST:
        status = email_code_request(email_device_for(user))
        messages.info(request, status.message)
        form = PasskeyConfirmForm(user=user)
    elif request.method == "POST" and form.is_valid():
        _, error = code_verify_any(request, user=user, token=form.cleaned_data["code"])
        if error:
            form.add_error("code", error)
        else:
            request.session[CONFIRMED_KEY] = time.time() + CONFIRMED_LIFETIME
            return redirect("accounts:passkey_add")
    return render(
        request,
        "accounts/passkey_add.html",
        {"form": form, "confirmed": _add_confirmed(request)},
    )


@keyring_required
@require_POST
def passkey_register_options(request):
    if not _add_confirmed(request):
        return _refused("Confirm your password and a code first.", status=403)
    return JsonResponse({"publicKey": passkeys.registration_options(request, user=request.user)})


@keyring_required
@require_POST
def passkey_register(request):
    if not _add_confirmed(request):
        return _refused("Confirm your password and a code first.", status=403)
    data = _json_body(request)
    try:
        pk = passkeys.passkey_register(
            request,
            user=request.user,
            response=data.get("credential"),
            label=str(data.get("label") or ""),
        )
    except passkeys.PasskeyError as error:
        return _refused(str(error))
    options = passkeys.unlock_options(request, user=request.user, passkey_id=pk.pk)
    return JsonResponse({"passkey": pk.pk, "publicKey": options})


@sensitive_variables("data")
@keyring_required
@require_POST
def passkey_enable_unlock(request, passkey_id: int):
    data = _json_body(request)
    try:
        unlocks = passkeys.passkey_enable_unlock(
            request,
            user=request.user,
            passkey_id=passkey_id,
            response=data.get("credential"),
            umk=request.keyring.umk,
        )
    except passkeys.PasskeyError as error:
        return _refused(str(error))
    request.session.pop(CONFIRMED_KEY, None)
    if unlocks:
        messages.success(request, "Passkey added. It signs you in and unlocks your vault.")
    else:
        messages.warning(request, "Passkey added. " + passkeys.NO_UNLOCK)
    return JsonResponse({"unlocks": unlocks, "redirect": reverse("accounts:security")})


@keyring_required
@require_POST
def passkey_rename(request, passkey_id: int):
    if passkeys.passkey_rename(
        user=request.user, passkey_id=passkey_id, label=request.POST.get("label", "")
    ):
        messages.success(request, "Passkey renamed.")
    else:
        messages.error(request, "Give the passkey a name.")
    return redirect("accounts:security")


@keyring_required
@require_POST
def passkey_remove(request, passkey_id: int):
    if passkeys.passkey_remove(user=request.user, passkey_id=passkey_id):
        messages.success(request, "Passkey removed. It no longer signs in or unlocks your vault.")
    return redirect("accounts:security")


# Sign-in ---------------------------------------------------------------------------------------


@require_POST
def sign_in_options(request):
    return JsonResponse({"publicKey": passkeys.sign_in_options(request)})


@sensitive_variables("data", "signed")
@require_POST
def sign_in(request):
    """Passkey alone: verified, the vault unlocked, signed in. JSON {redirect} or {error}."""
    data = _json_body(request)
    try:
        signed = passkeys.passkey_sign_in(request, response=data.get("credential"))
    except passkeys.PasskeyError as error:
        return _refused(str(error))
    keyring_destroy(request)
    finish_login(
        request,
        user=signed.user,
        device=signed.passkey,
        unlocked=UnlockedKeys(umk=signed.umk, private_key=signed.private_key),
    )
    return JsonResponse({"redirect": after_login_url()})


def _pending_user(request) -> User | None:
    """The account whose password was just entered (its pending keyring proves it)."""
    user_id = pending_keyring_user(request)
    return User.objects.filter(pk=user_id, is_active=True).first() if user_id else None


@require_POST
def second_factor_options(request):
    user = _pending_user(request)
    options = passkeys.second_factor_options(request, user=user) if user else None
    if options is None:
        return _refused("Enter your password first.", status=403)
    return JsonResponse({"publicKey": options})


@require_POST
def second_factor(request):
    user = _pending_user(request)
    if user is None:
        return _refused("Enter your password first.", status=403)
    try:
        pk = passkeys.passkey_second_factor(
            request, user=user, response=_json_body(request).get("credential")
        )
    except passkeys.PasskeyError as error:
        return _refused(str(error))
    ring = pending_keyring_take(request, user_id=user.pk)
    if ring is None:
        return _refused("Sign-in took too long. Please start again.", status=403)
    request.session.pop("wizard_vault_login_view", None)  # the password/code wizard is done
    finish_login(request, user=user, device=pk, unlocked=ring)
    return JsonResponse({"redirect": after_login_url()})
