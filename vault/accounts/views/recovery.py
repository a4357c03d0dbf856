"""Forgotten password: emailed link + second factor + recovery key → new password and key.

Without the recovery key nobody can decrypt the old photos; the page says so and offers to
start over with an empty vault.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_email.models import EmailDevice

from vault.accounts import throttle
from vault.accounts.code_checks import code_verify_any
from vault.accounts.email_codes import Outcome, email_code_request
from vault.accounts.forms import ForgotPasswordForm, RecoverForm
from vault.accounts.models import User
from vault.accounts.services import account_recover, account_start_over, email_mark_verified
from vault.accounts.views.common import after_login_url, finish_login
from vault.accounts.views.registration import show_recovery_key
from vault.crypto import DecryptionError


@require_http_methods(["GET", "POST"])
def forgot_password(request):
    form = ForgotPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        user = User.objects.filter(email__iexact=email.strip(), email_verified=True).first()
        if user is not None:
            link = request.build_absolute_uri(
                reverse(
                    "accounts:recover",
                    args=[
                        urlsafe_base64_encode(force_bytes(user.pk)),
                        default_token_generator.make_token(user),
                    ],
                )
            )
            body = render_to_string("accounts/email/recover.txt", {"user": user, "link": link})
            send_mail("Reset your Secure Photo Vault password", body, None, [user.email])
        # The same page whether or not the address has an account.
        return render(request, "accounts/forgot_sent.html", {"email": email})
    return render(request, "accounts/forgot.html", {"form": form})


def _user_from_link(uidb64: str, token: str) -> User | None:
    try:
        user = User.objects.filter(pk=int(force_str(urlsafe_base64_decode(uidb64)))).first()
    except (ValueError, TypeError, OverflowError):
        return None
    if user is None or not default_token_generator.check_token(user, token):
        return None
    return user


def _check_code(request, user, form) -> object | None:
    """The second factor: any confirmed device of the user, throttled like sign-in codes."""
    device, error = code_verify_any(request, user=user, token=form.cleaned_data["code"])
    if error:
        form.add_error("code", error)
    return device


@sensitive_post_parameters("recovery_key", "new1", "new2")
@require_http_methods(["GET", "POST"])
def recover(request, uidb64: str, token: str):
    user = _user_from_link(uidb64, token)
    if user is None:
        return render(request, "accounts/recover_invalid.html", status=400)
    start_over = request.POST.get("action") == "start_over"
    form = RecoverForm(request.POST or None, user=user, start_over=start_over)
    if request.method == "POST" and request.POST.get("action") == "send_code":
        device = EmailDevice.objects.filter(user=user, confirmed=True).first()
        status = email_code_request(device) if device else None
        if status is None:
            messages.warning(request, "This account does not receive codes by email.")
        elif status.outcome == Outcome.SENT:
            messages.info(request, status.message)
        else:
            messages.warning(request, status.refusal or status.message)
        form = RecoverForm(user=user)
    elif request.method == "POST" and form.is_valid():
        device = _check_code(request, user, form)
        if device is not None and start_over:
            new = account_start_over(user=user, new_password=form.cleaned_data["new1"])
            email_mark_verified(user)
            finish_login(request, user=user, device=device, unlocked=new.unlocked)
            messages.warning(request, "Your vault starts over, empty, with new keys.")
            return show_recovery_key(
                request, user=user, rk=new.recovery_key, then=after_login_url()
            )
        if device is not None:
            try:
                new_rk, unlocked = account_recover(
                    user=user,
                    recovery_text=form.cleaned_data["recovery_key"],
                    new_password=form.cleaned_data["new1"],
                )
            except DecryptionError:
                throttle.record_failure(
                    throttle.Subject.for_request(request, scope="code", email=user.email)
                )
                form.add_error("recovery_key", "This recovery key does not unlock this account.")
            else:
                finish_login(request, user=user, device=device, unlocked=unlocked)
                messages.success(
                    request,
                    "Password changed. Your old recovery key no longer works: here is the new one.",
                )
                return show_recovery_key(request, user=user, rk=new_rk, then=after_login_url())
    return render(request, "accounts/recover.html", {"form": form, "account_email": user.email})
