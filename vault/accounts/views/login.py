"""Sign-in with django-two-factor-auth's wizard: password step, then a second factor.

The password step unlocks the keys (Argon2id) and parks them in a pending keyring; only when
the second factor succeeds do they become the session keyring (vault.accounts.keyring).
The code step says what was emailed, where and when (vault.accounts.email_codes), and offers
"Send a new code".
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.views.decorators.http import require_POST
from django_otp.forms import OTPAuthenticationFormMixin
from django_otp.plugins.otp_email.models import EmailDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from two_factor.plugins.email.utils import mask_email
from two_factor.utils import default_device
from two_factor.views import LoginView

from vault.accounts.email_codes import email_code_offer, email_code_request, email_code_status
from vault.accounts.forms import CodeThrottleMixin, VaultAuthenticationForm
from vault.accounts.keyring import keyring_destroy, pending_keyring_stash, pending_keyring_take
from vault.accounts.models import Passkey
from vault.accounts.views.common import finish_login
from vault.accounts.views.registration import start_email_verification

# django-otp's own messages speak of "tokens"; the site says "code".
CODE_ERRORS = {
    **OTPAuthenticationFormMixin.otp_error_messages,
    "token_required": "Enter the code.",
    "invalid_token": "That code is not right, has expired, or was used already.",
    "n_failed_attempts": "Too many wrong codes. Wait a little, then try again.",
    "verification_not_allowed": "Codes cannot be checked just now. Wait a little, then try again.",
    "device_required": "Choose how you want to get your code.",
}
TIMED_OUT = "Sign-in took too long. Please start again."


class VaultLoginView(LoginView):
    template_name = "accounts/login.html"
    form_list = (
        (LoginView.AUTH_STEP, VaultAuthenticationForm),
        *LoginView.form_list[1:],
    )

    code_status = None  # what the code step says about the emailed code (EmailDevice only)

    def get_form(self, step=None, **kwargs):
        # two-factor's own timeout message says "login"; put ours in its place.
        timed_out, self.show_timeout_error = self.show_timeout_error, False
        form = super().get_form(step, **kwargs)
        self.show_timeout_error = timed_out
        if timed_out:
            form.cleaned_data = getattr(form, "cleaned_data", {})
            form.add_error(None, TIMED_OUT)
        if (step or self.steps.current) != self.AUTH_STEP:
            # Every code entry counts against the account and the address, on top of
            # django-otp's own per-device delays.
            form.__class__ = type(
                f"Throttled{type(form).__name__}",
                (CodeThrottleMixin, type(form)),
                {"otp_error_messages": CODE_ERRORS},
            )
            form.request = self.request
            if "otp_token" in form.fields:
                form.fields["otp_token"].label = "Code"
        return form

    def post(self, *args, **kwargs):
        if "send_code" not in self.request.POST:
            return super().post(*args, **kwargs)
        # "Send a new code" has a form of its own, outside the wizard's steps.
        if self.steps.current != self.TOKEN_STEP or self.expired or not self.get_user():
            self.storage.reset()
            messages.warning(self.request, TIMED_OUT)
            return redirect("accounts:login")
        device = self.get_device()
        if isinstance(device, EmailDevice):
            self.code_status = email_code_request(device)
        return self.render(self.get_form())

    def render(self, form=None, **kwargs):
        if self.steps.current == self.TOKEN_STEP and self.code_status is None:
            device = self.get_device()
            if isinstance(device, EmailDevice):
                retry = form is not None and form.is_bound and not form.is_valid()
                self.code_status = email_code_status(device) if retry else email_code_offer(device)
        # Skips LoginView.render: it calls generate_challenge() on every showing of the code
        # step and drops what that says (a refusal within the cooldown included), so the page
        # claimed "We sent you an email" when nothing was sent. code_status replaces it.
        return super(LoginView, self).render(form, **kwargs)

    def get_devices(self):
        # Only confirmed devices can be chosen: a half-added authenticator app is no way in.
        # Passkeys take no typed code; the page offers them with a button of their own.
        return [
            device
            for device in super().get_devices()
            if device.confirmed and not isinstance(device, Passkey)
        ]

    def get_other_devices(self, main_device):
        return [
            device
            for device in super().get_other_devices(main_device)
            if device.confirmed and not isinstance(device, Passkey)
        ]

    def get_context_data(self, form, **kwargs):
        context = super().get_context_data(form, **kwargs)
        if self.steps.current == self.TOKEN_STEP:
            context["code_status"] = self.code_status
            context["uses_app"] = isinstance(context["device"], TOTPDevice)
            context["has_passkey"] = Passkey.objects.filter(user=self.get_user()).exists()
            context["alternatives"] = [
                (device.persistent_id, _alternative_label(device))
                for device in context["other_devices"]
            ]
        return context

    def process_step(self, form):
        if self.steps.current == self.AUTH_STEP and form.is_valid():
            unlocked = form.unlocked
            pending_keyring_stash(
                self.request,
                user_id=form.user_cache.pk,
                umk=unlocked.umk,
                private_key=unlocked.private_key,
            )
        return super().process_step(form)

    def done(self, form_list, **kwargs):
        user = self.get_user()
        device = default_device(user)
        if device is None:
            # Never signed in without a second factor: an unconfirmed address is confirmed
            # with an emailed code first, which then completes this sign-in.
            self.storage.reset()
            return start_email_verification(self.request, user)
        ring = pending_keyring_take(self.request, user_id=user.pk)
        if ring is None:
            self.storage.reset()
            messages.warning(self.request, TIMED_OUT)
            return redirect("accounts:login")
        device = getattr(user, "otp_device", None) or device
        response = finish_login(self.request, user=user, device=device, unlocked=ring)
        redirect_to = self.get_redirect_url()
        return redirect(redirect_to) if redirect_to else response


def _alternative_label(device) -> str:
    if isinstance(device, EmailDevice):
        return f"Email a code to {mask_email(device.email or device.user.email)} instead"
    if isinstance(device, TOTPDevice):
        return "Use your authenticator app instead"
    return "Use another method"


@require_POST
def logout_view(request):
    keyring_destroy(request)
    logout(request)
    messages.info(request, "You are signed out. Your vault is locked.")
    return redirect("home")
