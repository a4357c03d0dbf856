"""The site navigation: entries whose pages exist are shown, so later features fill it in."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

# (label, URL name, who sees it): "user" = signed in, "anon" = signed out, "all" = everyone.
NAV_ENTRIES = [
    ("Gallery", "photos:gallery", "user"),
    ("Upload", "photos:upload", "user"),
    ("People", "people:list", "user"),
    ("Albums", "albums:list", "user"),
    ("Trash", "photos:trash", "user"),
    ("Account", "accounts:security", "user"),
    ("Sign in", "accounts:login", "anon"),
    ("Create account", "accounts:register", "anon"),
]


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def navigation(request) -> dict:
    signed_in = getattr(request, "user", None) is not None and request.user.is_authenticated
    items = []
    for label, name, audience in NAV_ENTRIES:
        if (audience == "user" and not signed_in) or (audience == "anon" and signed_in):
            continue
        url = _url(name)
        if url is not None:
            items.append({"label": label, "url": url, "active": request.path.startswith(url)})
    return {"nav_items": items, "logout_url": _url("accounts:logout") if signed_in else None}
