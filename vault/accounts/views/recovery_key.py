"""The recovery key after sign-up: its state, confirming it later, and replacing it."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from vault.accounts.decorators import keyring_required
from vault.accounts.forms import RecoveryCheckForm
from vault.accounts.services import recovery_key_confirmed_at, recovery_key_replace
from vault.accounts.views.registration import RK_CHECK, show_recovery_key


@keyring_required
@require_GET
def recovery_key(request):
    """Where the banner leads: confirm the key shown earlier in this session (if it is still
    the current one), or make a new one."""
    state = request.session.get(RK_CHECK)
    form = None
    if state and state["user"] == request.user.pk and state["then"] != "verify":
        form = RecoveryCheckForm(positions=state["positions"])
    return render(
        request,
        "accounts/recovery_key_state.html",
        {"confirmed_at": recovery_key_confirmed_at(request.user), "form": form},
    )


@keyring_required
@require_POST
def recovery_key_new(request):
    """Replace the recovery key (the old one stops working) and show the new one once."""
    rk = recovery_key_replace(user=request.user, umk=request.keyring.umk)
    return show_recovery_key(
        request,
        user=request.user,
        rk=rk,
        then=reverse("accounts:security"),
        template_context={"replaced": True},
    )
