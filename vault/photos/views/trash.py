"""The trash page: restore photos, delete them for good, or empty the trash."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from vault.accounts.decorators import keyring_required
from vault.photos import trash
from vault.photos.deleted_recently import deleted_forget
from vault.photos.forms import PhotoIdsForm
from vault.photos.models import Photo
from vault.photos.selectors import photo_original_name


def _plural(count: int) -> str:
    return f"{count} photo{'s' if count != 1 else ''}"


def _trashed_ids(request) -> list:
    form = PhotoIdsForm(request.POST)
    if not form.is_valid():
        return []
    ids = form.cleaned_data["photo"]
    if trash.trashed_photos(user=request.user).filter(id__in=ids).count() != len(ids):
        raise Http404("No such photo in your trash")  # one of them is not: nothing happens
    return ids


@require_GET
@keyring_required
def trash_page(request):
    return render(
        request,
        "photos/trash.html",
        {"photos": trash.trashed_photos(user=request.user)[:500], "days": trash.TRASH_DAYS},
    )


def trashed_photo_page(request, photo: Photo):
    """The page of one of the owner's photos that is in the trash (opened from a link, another
    tab or session): the picture, when it goes for good, Restore and Delete for good; none of
    the gallery's actions (albums, tags), which would refuse a trashed photo."""
    return render(
        request,
        "photos/trashed.html",
        {
            "photo": photo,
            "name": photo_original_name(photo, request.keyring),
            "deleted_on": photo.trashed_at + dt.timedelta(days=trash.TRASH_DAYS),
        },
    )


@require_POST
@keyring_required
def restore(request):
    ids = _trashed_ids(request)
    if not ids:
        messages.info(request, "Select the photos to restore first.")
        return redirect("photos:trash")
    count = trash.photos_restore(user=request.user, keyring=request.keyring, photo_ids=ids)
    deleted_forget(request, ids)  # their pages open again
    messages.success(request, f"Restored {_plural(count)}.")
    if request.POST.get("from") == "photo" and len(ids) == 1:  # restored from its own page
        return redirect("photos:detail", ids[0])
    return redirect("photos:trash")


@require_POST
@keyring_required
def delete_for_good(request):
    ids = _trashed_ids(request)
    if not ids:
        messages.info(request, "Select the photos to delete first.")
        return redirect("photos:trash")
    count = trash.trash_delete(user=request.user, photo_ids=ids)
    messages.success(request, f"Deleted {_plural(count)} for good.")
    return redirect("photos:trash")


@require_POST
@keyring_required
def empty(request):
    if request.POST.get("confirm") != "yes":
        count = trash.trashed_photos(user=request.user).count()
        return render(request, "photos/trash_empty_confirm.html", {"count": count})
    count = trash.trash_empty(user=request.user)
    messages.success(request, f"Emptied the trash: {_plural(count)} deleted for good.")
    return redirect("photos:trash")
