"""Sign-up: details → recovery key shown once and confirmed → emailed code → signed in."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from vault.accounts.code_checks import code_verify
from vault.accounts.email_codes import CodeStatus, Outcome, email_code_offer, email_code_request
from vault.accounts.forms import CodeForm, RecoveryCheckForm, RegisterForm, pick_check_positions
from vault.accounts.keyring import pending_keyring_peek, pending_keyring_stash, pending_keyring_take
from vault.accounts.models import User
from vault.accounts.services import (
    account_register,
    email_device_for,
    email_mark_verified,
    recovery_key_mark_confirmed,
    recovery_key_replace,
)
from vault.accounts.views.common import finish_login, recovery_check, recovery_groups

RK_CHECK = "rk_check"  # session: which groups to type back, and a keyed digest of them
VERIFY_USER = "verify_email_user"  # session: the user whose emailed code is awaited


def show_recovery_key(request, *, user, rk: bytes, then: str, template_context=None):
    """Render the one-time page with the recovery key; remember only how to check it."""
    groups = recovery_groups(rk)
    positions = pick_check_positions(len(groups))
    expected = [groups[p - 1] for p in positions]
    request.session[RK_CHECK] = {
        "user": user.pk,
        "positions": positions,
        "check": recovery_check(expected, positions),
        "then": then,
    }
    context = {
        "recovery_key": "-".join(groups),
        "groups": groups,
        "form": RecoveryCheckForm(positions=positions),
        **(template_context or {}),
    }
    response = render(request, "accounts/recovery_key.html", context)
    response["Cache-Control"] = "no-store"
    return response


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def register(request):
    if request.user.is_authenticated:
        return redirect("home")
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        new = account_register(
            name=form.cleaned_data["name"],
            email=form.cleaned_data["email"],
            password_text=form.cleaned_data["password1"],
        )
        pending_keyring_stash(
            request,
            user_id=new.user.pk,
            umk=new.unlocked.umk,
            private_key=new.unlocked.private_key,
        )
        return show_recovery_key(request, user=new.user, rk=new.recovery_key, then="verify")
    return render(request, "accounts/register.html", {"form": form})


@require_http_methods(["GET", "POST"])
def recovery_key_confirm(request):
    state = request.session.get(RK_CHECK)
    if not state:
        if request.user.is_authenticated and request.user.is_verified():
            return redirect("accounts:recovery_key")
        messages.info(request, "That step has expired. Please sign in.")
        return redirect("accounts:login")
    if request.method == "GET":
        # Opened directly (a bookmark, Back): ask for the groups again, the key is not shown.
        form = RecoveryCheckForm(positions=state["positions"])
        context = {"form": form, "recovery_key": None, "reissue": state["then"] == "verify"}
        return render(request, "accounts/recovery_key.html", context)
    form = RecoveryCheckForm(request.POST, positions=state["positions"])
    if form.is_valid() and recovery_check(form.groups(), state["positions"]) == state["check"]:
        del request.session[RK_CHECK]
        user = get_object_or_404(User, pk=state["user"])
        recovery_key_mark_confirmed(user=user)
        if state["then"] == "verify":
            request.session[VERIFY_USER] = user.pk
            _send_code(user)
            return redirect("accounts:verify_email")
        messages.success(request, "Recovery key confirmed. Keep it somewhere safe.")
        return redirect(state["then"])
    if form.is_valid():
        form.add_error(
            None, "Those groups do not match your recovery key. Check what you wrote down."
        )
    return render(
        request,
        "accounts/recovery_key.html",
        {"form": form, "recovery_key": None, "reissue": state["then"] == "verify"},
        status=400,
    )


@require_POST
def recovery_key_reissue(request):
    """Sign-up only: the key was not written down, so make a new one while UMK is at hand."""
    state = request.session.get(RK_CHECK)
    ring = (
        state and state["then"] == "verify" and pending_keyring_peek(request, user_id=state["user"])
    )
    if not ring:
        messages.info(request, "That step has expired. Please sign in.")
        return redirect("accounts:login")
    user = get_object_or_404(User, pk=ring.user_id)
    rk = recovery_key_replace(user=user, umk=ring.umk)
    return show_recovery_key(request, user=user, rk=rk, then="verify")


def _send_code(user, *, requested: bool = False) -> CodeStatus:
    """Email a code: on arrival (unless one sent moments ago still works), or on request."""
    device = email_device_for(user)
    return email_code_request(device) if requested else email_code_offer(device)


def start_email_verification(request, user):
    """Used by the login view for an account whose address was never confirmed."""
    request.session[VERIFY_USER] = user.pk
    _send_code(user)
    return redirect("accounts:verify_email")


@require_http_methods(["GET", "POST"])
def verify_email(request):
    user_id = request.session.get(VERIFY_USER)
    user = user_id and User.objects.filter(pk=user_id).first()
    if not user:
        messages.info(request, "Please sign in first.")
        return redirect("accounts:login")
    form = CodeForm(request.POST if "code" in request.POST else None)
    if request.method == "POST" and "resend" in request.POST:
        status = _send_code(user, requested=True)
        if status.outcome == Outcome.SENT:
            messages.info(request, status.message)
        else:
            messages.warning(request, status.refusal or status.message)
        return redirect("accounts:verify_email")
    if request.method == "POST" and form.is_valid():
        error = code_verify(
            request, user=user, device=email_device_for(user), token=form.cleaned_data["code"]
        )
        if error:
            form.add_error("code", error)
        else:
            device = email_mark_verified(user)
            ring = pending_keyring_take(request, user_id=user.pk)
            del request.session[VERIFY_USER]
            if ring is None:
                messages.success(request, "Your email is confirmed. Please sign in.")
                return redirect("accounts:login")
            messages.success(request, "Welcome to your vault.")
            return finish_login(request, user=user, device=device, unlocked=ring)
    return render(
        request,
        "accounts/verify_email.html",
        {"form": form, "email": user.email, "login_url": reverse("accounts:login")},
    )
