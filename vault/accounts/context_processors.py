"""Template context every page needs from the accounts app."""

from __future__ import annotations

from functools import cache

from django.urls import reverse

from vault.accounts.services import recovery_key_confirmed_at

# Pages that are themselves about the recovery key do not need the banner leading to it.
RECOVERY_PAGES = {"recovery_key", "recovery_key_confirm", "recovery_key_new"}


def recovery_key_banner(request) -> dict:
    """`recovery_key_banner_url` on every page of a signed-in owner whose recovery key is not
    confirmed yet (closed unread after sign-up or a reset; issue 24.3), else "".

    A callable, which templates call when they use it: fragments and JSON that never show the
    banner cost no query.
    """

    @cache
    def banner_url() -> str:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not getattr(user, "is_verified", bool)():
            return ""
        match = getattr(request, "resolver_match", None)
        if match is not None and match.url_name in RECOVERY_PAGES:
            return ""
        if recovery_key_confirmed_at(user) is not None:
            return ""
        return reverse("accounts:recovery_key")

    return {"recovery_key_banner_url": banner_url}
