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


def _partner_memberships(user):
    from vault.albums.models import Album, AlbumMember

    return AlbumMember.objects.filter(user=user, album__kind=Album.Kind.PARTNER).exclude(
        role=AlbumMember.Role.OWNER
    )


def _partner_gallery_ids(user):
    """Ids of the photos of every partner whose library the user shows in their gallery."""
    from vault.albums.models import AlbumPhoto

    shown = _partner_memberships(user).filter(in_gallery=True).values("album_id")
    if not shown.exists():
        return None
    return AlbumPhoto.objects.filter(album_id__in=shown).values("photo_id")


def _partner_entry(user, photo_id):
    from vault.albums.models import AlbumPhoto

    albums = _partner_memberships(user).values("album_id")
    return (
        AlbumPhoto.objects.select_related("album")
        .filter(album_id__in=albums, photo_id=photo_id)
        .first()
    )


def _partner_read(request, photo):
    """(DK, file name) of a partner's photo, through the partner album's key."""
    from vault.albums import keys
    from vault.crypto import DecryptionError

    entry = _partner_entry(request.user, photo.id)
    if entry is None:
        return None
    try:
        ak = keys.album_key_open(entry.album, request.keyring)
        return keys.entry_data_key(entry, ak), keys.entry_name(entry, ak)
    except (keys.AlbumKeyUnavailable, DecryptionError):
        return None


def _partner_page(user, photo_id):
    from django.urls import reverse

    entry = _partner_entry(user, photo_id)
    if entry is None:
        return None
    return reverse("albums:photo", args=[entry.album_id, photo_id])


def _partner_toggle(request):
    """At the top of the gallery: show or hide each partner's photos."""
    from vault.photos.photo_panels import Panel

    members = list(_partner_memberships(request.user).select_related("album__owner"))
    if not members:
        return None
    return Panel("albums/_partner_toggle.html", {"partners": members})


def register() -> None:
    from vault.albums import receivers  # noqa: F401 - connects the trash receivers
    from vault.photos import photo_panels, shared_photos
    from vault.processing import visits

    photo_panels.register(_albums_panel)
    photo_panels.register_selection_action(_select_action)
    photo_panels.register_gallery_panel(_partner_toggle)
    shared_photos.register(
        shared_photos.SharedPhotos(
            gallery_ids=_partner_gallery_ids, read=_partner_read, page_url=_partner_page
        )
    )
    visits.on_owner_visit(_rotate_due)
    visits.on_owner_visit(_partner_catch_up)
