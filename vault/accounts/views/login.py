"""Sign-in with django-two-factor-auth's wizard: password step, then a second factor.

The password step unlocks the keys (Argon2id) and parks them in a pending keyring; only when
the second factor succeeds do they become the session keyring (vault.accounts.keyring).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.views.decorators.http import require_POST
from two_factor.utils import default_device
from two_factor.views import LoginView

from vault.accounts.forms import CodeThrottleMixin, VaultAuthenticationForm
from vault.accounts.keyring import keyring_destroy, pending_keyring_stash, pending_keyring_take
from vault.accounts.views.common import finish_login
from vault.accounts.views.registration import start_email_verification


class VaultLoginView(LoginView):
    template_name = "accounts/login.html"
    form_list = (
        (LoginView.AUTH_STEP, VaultAuthenticationForm),
        *LoginView.form_list[1:],
    )

    def get_form(self, step=None, **kwargs):
        form = super().get_form(step, **kwargs)
        if (step or self.steps.current) != self.AUTH_STEP:
            # Every code entry counts against the account and the address, on top of
            # django-otp's own per-device delays.
            form.__class__ = type(
                f"Throttled{type(form).__name__}", (CodeThrottleMixin, type(form)), {}
            )
            form.request = self.request
            if "otp_token" in form.fields:
                form.fields["otp_token"].label = "Code"
        return form

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
            messages.warning(self.request, "Sign-in took too long. Please start again.")
            return redirect("accounts:login")
        device = getattr(user, "otp_device", None) or device
        response = finish_login(self.request, user=user, device=device, unlocked=ring)
        redirect_to = self.get_redirect_url()
        return redirect(redirect_to) if redirect_to else response


@require_POST
def logout_view(request):
    keyring_destroy(request)
    logout(request)
    messages.info(request, "You are signed out. Your vault is locked.")
    return redirect("home")
