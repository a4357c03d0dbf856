"""Changing photos from the pages: delete (with confirmation) and retry."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from vault.accounts.decorators import keyring_required
from vault.photos import scheduling, selectors, trash
from vault.photos.deleted_recently import already_deleted_text, deleted_among, deleted_remember
from vault.photos.forms import PhotoIdsForm
from vault.photos.models import Photo
from vault.photos.views.common import clean_query, gallery_redirect


@require_POST
@keyring_required
def delete(request):
    form = PhotoIdsForm(request.POST)
    if not form.is_valid():
        if "photo" in form.errors and not request.POST.getlist("photo"):
            messages.info(request, "Select the photos to delete first.")
            return gallery_redirect(request)
        raise Http404("No such photo")
    ids = form.cleaned_data["photo"]
    # Sent again after Back, or from a tab that still shows photos deleted in another one.
    gone = deleted_among(request, ids)
    ids = [photo_id for photo_id in ids if str(photo_id) not in gone]
    if not ids:
        messages.info(request, already_deleted_text(len(gone)))
        return gallery_redirect(request)
    photos = list(Photo.objects.filter(owner=request.user, id__in=ids))
    if len(photos) != len(ids):
        raise Http404("No such photo")  # one of them is not yours: nothing happens
    if request.POST.get("confirm") != "yes":
        query = clean_query(request.POST.get("query", ""))
        keep_url = reverse("photos:gallery")
        if len(photos) == 1 and request.POST.get("from") == "photo":
            keep_url = reverse("photos:detail", args=[photos[0].id])  # back where it started
        return render(
            request,
            "photos/delete_confirm.html",
            {
                "photos": photos,
                "query": query,
                "keep_url": f"{keep_url}?{query}" if query else keep_url,
            },
        )
    count = trash.photos_trash(user=request.user, photo_ids=ids)
    deleted_remember(request, ids)
    text = (
        f"Moved {count} photo{'s' if count != 1 else ''} to the trash "
        f"(restore within {trash.TRASH_DAYS} days)."
    )
    if gone:
        text += f" {len(gone)} {'was' if len(gone) == 1 else 'were'} already deleted."
    messages.success(request, text)
    return gallery_redirect(request)


@require_POST
@keyring_required
def retry(request, photo_id):
    if deleted_among(request, [photo_id]):
        messages.info(request, already_deleted_text(1))
        return gallery_redirect(request)
    photo = selectors.photo_of_owner(user=request.user, photo_id=photo_id)
    if photo.state != Photo.State.FAILED:
        return redirect("photos:detail", photo_id=photo.id)
    outcome = scheduling.photo_retry(photo=photo, keyring=request.keyring)
    if outcome == scheduling.RetryOutcome.QUEUED:
        messages.info(request, "Trying again: the photo is back in the queue.")
    elif outcome == scheduling.RetryOutcome.NO_WORKER:
        messages.info(
            request,
            "No worker is running right now; the photo will be processed "
            "when one starts and you are signed in.",
        )
    else:  # the page shows the photo's reason
        messages.error(request, "The photo could not be queued again.")
    return redirect("photos:detail", photo_id=photo.id)
