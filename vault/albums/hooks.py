"""How albums plug into the photo pages without photos importing albums (DESIGN §3): an
"Albums" panel on a photo's page, an "Add to album" action in the gallery's select mode, and
the key rotations due after a member left, done on the owner's next signed-in visit."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def _albums_panel(request, photo):
    """The albums the photo is in, and a form to add it to another (owner or contributor)."""
    from vault.albums import selectors
    from vault.photos.photo_panels import Panel

    choices = selectors.albums_to_add_to(user=request.user, keyring=request.keyring)
    holding = set(photo.album_entries.values_list("album_id", flat=True))
    return Panel(
        "albums/_photo_panel.html",
        {
            "photo": photo,
            "albums_in": [(a, n) for a, n in choices if a.id in holding],
            "albums_to_add": [(a, n) for a, n in choices if a.id not in holding],
        },
    )


def _select_action(request):
    from vault.albums import selectors
    from vault.photos.photo_panels import Panel

    return Panel(
        "albums/_select_action.html",
        {"albums": selectors.albums_to_add_to(user=request.user, keyring=request.keyring)},
    )


def _rotate_due(*, user, keyring, workers) -> None:
    from vault.albums.models import Album
    from vault.albums.services import album_key_rotate

    for album in Album.objects.filter(owner=user, rotation_due=True):
        album_key_rotate(album=album, keyring=keyring)


def _partner_catch_up(*, user, keyring, workers) -> None:
    """Photos that missed the partner share at upload (a failure there) join on a visit."""
    from vault.albums.partner import partner_sync

    partner_sync(owner=user, keyring=keyring)


def register() -> None:
    from vault.albums import receivers  # noqa: F401 - connects the trash receivers
    from vault.photos import photo_panels
    from vault.processing import visits

    photo_panels.register(_albums_panel)
    photo_panels.register_selection_action(_select_action)
    visits.on_owner_visit(_rotate_due)
    visits.on_owner_visit(_partner_catch_up)
