"""The links app's place in the gallery's select mode: a "Share link" button (the photos
app keeps a registry of selection actions, so it never imports links)."""

from __future__ import annotations


def _select_action(request):
    from vault.photos.photo_panels import Panel

    return Panel("links/_select_action.html", {})


def register() -> None:
    from vault.photos import photo_panels

    photo_panels.register_selection_action(_select_action)
