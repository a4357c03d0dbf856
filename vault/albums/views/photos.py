"""Photos in an album: adding (from the gallery's select mode or a photo's page), removing,
the cover, and each photo's page and pictures for every member, opened with the album key."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from vault.accounts.decorators import keyring_required
from vault.albums import keys, saving, selectors, services
from vault.albums.models import AlbumMember
from vault.albums.views.access import ADDERS, OWNER, album_key, member_or_404
from vault.crypto import DecryptionError
from vault.photos import photo_sets
from vault.photos.forms import PhotoIdsForm
from vault.photos.models import Blob, Photo
from vault.photos.views.common import gallery_filters
from vault.photos.views.content import blob_serve


def _photo_ids(request) -> list:
    form = PhotoIdsForm(request.POST)
    if not form.is_valid():
        return []
    return form.cleaned_data["photo"]


@require_POST
@keyring_required
def photos_add(request):
    """Add the user's own photos to an album they own or contribute to (album id in the form:
    the gallery's select mode chooses it)."""
    try:
        album_id = uuid.UUID(request.POST.get("album", "")[:64])
    except ValueError:
        raise Http404("No such album") from None  # a mangled id is no album either
    member = member_or_404(request, album_id, roles=ADDERS)
    album_key(request, member)
    ids = _photo_ids(request)
    if not ids and request.POST.getlist("photo"):
        messages.error(request, "That photo was not found; nothing was added.")
        return redirect("albums:detail", album_id=member.album_id)
    if not ids:
        messages.info(request, "Select the photos to add first.")
        return redirect("photos:gallery")
    owned = Photo.objects.filter(owner=request.user, id__in=ids, trashed_at__isnull=True).count()
    if owned != len(ids):
        raise Http404("No such photo")  # one of them is not yours: nothing happens
    added = services.album_photos_add(
        album=member.album, keyring=request.keyring, user=request.user, photo_ids=ids
    )
    messages.success(request, f"Added {added} photo{'s' if added != 1 else ''} to the album.")
    return redirect("albums:detail", album_id=member.album_id)


@require_POST
@keyring_required
def photos_remove(request, album_id):
    """The owner takes any photo out; a contributor only the photos they added."""
    member = member_or_404(request, album_id, roles=ADDERS)
    ids = _photo_ids(request)
    only = None if member.role == AlbumMember.Role.OWNER else request.user
    removed = services.album_photos_remove(album=member.album, photo_ids=ids, only_added_by=only)
    messages.success(
        request,
        f"Took {removed} photo{'s' if removed != 1 else ''} out of the album; "
        "they stay in their owners' libraries.",
    )
    return redirect("albums:detail", album_id=album_id)


@require_POST
@keyring_required
def cover(request, album_id, photo_id):
    member = member_or_404(request, album_id, roles=OWNER)
    selectors.album_entry(album=member.album, photo_id=photo_id)
    services.album_cover_set(album=member.album, photo_id=photo_id)
    messages.success(request, "Cover photo set.")
    return redirect("albums:photo", album_id=album_id, photo_id=photo_id)


@require_GET
@never_cache  # the decrypted file name and place
@keyring_required
def photo_detail(request, album_id, photo_id):
    member = member_or_404(request, album_id)
    ak = album_key(request, member)
    entry = selectors.album_entry(album=member.album, photo_id=photo_id)
    _form, filters, query = gallery_filters(request)
    kept = ("tag", "date_from", "date_to", *photo_sets.filter_keys())
    filters = {k: v for k, v in filters.items() if k in kept}
    newer, older = selectors.album_neighbours(
        album=member.album, photo=entry.photo, filters=filters, viewer=request.user
    )
    return render(
        request,
        "albums/photo.html",
        {
            "album": member.album,
            "member": member,
            "entry": entry,
            "photo": entry.photo,
            # A Live Photo or motion photo plays its moving part like on the photo page.
            "live": entry.photo.kind == Photo.Kind.PHOTO
            and entry.photo.state == Photo.State.READY
            and entry.photo.motion_clip,
            "name": keys.entry_name(entry, ak),
            "place": keys.entry_place(entry, ak),
            "newer": newer,
            "older": older,
            "query": query,
            "is_owner": member.role == AlbumMember.Role.OWNER,
            "can_remove": member.role == AlbumMember.Role.OWNER
            or (
                member.role == AlbumMember.Role.CONTRIBUTOR and entry.added_by_id == request.user.pk
            ),
            "is_mine": entry.photo.owner_id == request.user.pk,
        },
    )


def _serve(request, album_id, photo_id, variant: str, *, attachment: bool = False):
    """Stream a member's picture: membership, entry and key wrap in one query, the blob in a
    second (what the owner's own thumbnails cost is one); 404 for anything missing."""
    entry = selectors.member_entry(user=request.user, album_id=album_id, photo_id=photo_id)
    blob = None
    if entry is not None:
        blob = (
            Blob.objects.select_related("photo")
            .filter(photo_id=photo_id, variant=variant, index=0)
            .first()
        )
    if blob is None:
        raise Http404("No such picture")
    try:
        ak = keys.album_key_from_wrap(entry.album, entry.wrapped_key, request.keyring)
        dk = keys.entry_data_key(entry, ak)
    except (keys.AlbumKeyUnavailable, DecryptionError):
        raise Http404("This picture cannot be read") from None
    name = keys.entry_name(entry, ak) if attachment else None
    return blob_serve(request, blob, data_key=dk, download_name=name)


@require_GET
@keyring_required
def thumb(request, album_id, photo_id):
    return _serve(request, album_id, photo_id, Blob.Variant.THUMB)


@require_GET
@keyring_required
def preview(request, album_id, photo_id):
    return _serve(request, album_id, photo_id, Blob.Variant.PREVIEW)


@require_GET
@keyring_required
def download(request, album_id, photo_id):
    return _serve(request, album_id, photo_id, Blob.Variant.ORIGINAL, attachment=True)


@require_POST
@keyring_required
def save_copy(request, album_id, photo_id):
    """Any member saves their own copy of a photo that is not theirs."""
    member = member_or_404(request, album_id)
    ak = album_key(request, member)
    entry = selectors.album_entry(album=member.album, photo_id=photo_id)
    try:
        outcome = saving.photo_save_copy(
            entry=entry, ak=ak, user=request.user, keyring=request.keyring
        )
    except (DecryptionError, OSError):
        raise Http404("This picture cannot be read") from None
    if outcome.status == "stored":
        messages.success(
            request,
            "Saved to your library: your own copy, processed like an upload. "
            "It stays yours even if the album is no longer shared with you.",
        )
    elif outcome.status == "duplicate":
        messages.info(request, "This photo is already in your library.")
    else:
        messages.error(request, f"Could not save it: {outcome.message}")
    return redirect("albums:photo", album_id=album_id, photo_id=photo_id)
