"""Tags from the pages: the owner's corrections (one photo from its page, or the gallery's
selection), and how far automatic tagging has come, for the gallery's banner to poll."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from vault.accounts.decorators import keyring_required
from vault.photos import model_status, owner_visit, selectors
from vault.photos.deleted_recently import already_deleted_text, deleted_among
from vault.photos.forms import TagChangeForm, TagsBulkForm
from vault.photos.models import Photo, Tag
from vault.photos.tagging import tags_set_by_user
from vault.photos.views.common import clean_query, gallery_redirect


def tagger_unavailable_text(problem: str) -> str:
    return f"Automatic tagging is not available on this server: {problem.rstrip('.')}."


def tagging_text(status: model_status.ModelStatus) -> str:
    """The gallery's one line about automatic tagging ("" when there is nothing to say)."""
    if status.model_id is None:
        return tagger_unavailable_text(status.problem)
    if status.tags_updating:
        return f"Tagging your photos with {status.model_id}: {status.done} of {status.total} done"
    if status.faces_updating:
        return f"Looking for faces in your photos: {status.faces_done} of {status.total} done"
    return ""


@require_POST
@keyring_required
def photo_tags(request, photo_id):
    """Add or remove one tag on one photo, from its page."""
    if deleted_among(request, [photo_id]):  # a tab still showing a photo deleted elsewhere
        messages.info(request, already_deleted_text(1))
        return gallery_redirect(request)
    photo = selectors.photo_of_owner(user=request.user, photo_id=photo_id)
    query = clean_query(request.POST.get("query", ""))
    url = reverse("photos:detail", args=[photo.id])
    back = redirect(f"{url}?{query}" if query else url)
    form = TagChangeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a tag from the list.")
        return back
    label = form.cleaned_data["label"]
    tags_set_by_user(user=request.user, photo_ids=[photo.id], label=label, present=form.present)
    name = Tag.Label(label).label
    messages.success(request, f"Added {name}." if form.present else f"Removed {name}.")
    return back


@require_POST
@keyring_required
def tags_bulk(request):
    """Add or remove one tag on every photo selected in the gallery. Like delete, a selection
    with one photo that is not the user's is refused whole (404) and changes nothing."""
    form = TagsBulkForm(request.POST)
    form.is_valid()
    if "photo" in form.errors:
        if not request.POST.getlist("photo"):
            messages.info(request, "Select the photos to tag first.")
            return gallery_redirect(request)
        raise Http404("No such photo")
    gone = deleted_among(request, form.cleaned_data["photo"])
    ids = [photo_id for photo_id in form.cleaned_data["photo"] if str(photo_id) not in gone]
    if not ids:
        messages.info(request, already_deleted_text(len(gone)))
        return gallery_redirect(request)
    if Photo.objects.filter(owner=request.user, id__in=ids).count() != len(ids):
        raise Http404("No such photo")
    if form.errors:
        messages.error(request, "Choose a tag to add or remove first.")
        return gallery_redirect(request)
    label = form.cleaned_data["label"]
    changed = tags_set_by_user(user=request.user, photo_ids=ids, label=label, present=form.present)
    messages.success(
        request, bulk_tag_text(Tag.Label(label).label, form.present, changed, len(ids), len(gone))
    )
    return gallery_redirect(request)


def bulk_tag_text(name: str, present: bool, changed: int, selected: int, gone: int) -> str:
    """ "Added Vehicle to 3 photos (1 had it already)." — counts the photos that changed."""
    photos = f"{changed} photo{'s' if changed != 1 else ''}"
    text = f"Added {name} to {photos}" if present else f"Removed {name} from {photos}"
    same = selected - changed
    if same:
        text += f" ({same} had it already)" if present else f" ({same} did not have it)"
    text += "."
    if gone:
        text += f" {already_deleted_text(gone)}"
    return text


@require_GET
@never_cache
@keyring_required
def tagging_status(request):
    """How far re-tagging the user's photos has come; the gallery polls it while it runs."""
    # Re-tagging needs the owner's keys for fresh grants: keep it going while they watch.
    owner_visit.owner_visit(user=request.user, keyring=request.keyring)
    status = model_status.model_status(user=request.user)
    return JsonResponse(
        {
            "updating": status.updating,
            "model": status.model_id,
            "done": status.done,
            "total": status.total,
            "text": tagging_text(status),
        }
    )
