"""The owner's links: create (from an album or the gallery's selection), list, revoke."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from vault.accounts.decorators import keyring_required
from vault.albums.models import Album
from vault.links import selectors, services
from vault.links.forms import LinkForm, LinkSelectionForm
from vault.links.models import Link


def _album(request, value: str) -> Album | None:
    if not value:
        return None
    try:
        album_id = uuid.UUID(value[:64])
    except ValueError:
        raise Http404("No such album") from None
    return get_object_or_404(Album, pk=album_id, owner=request.user, kind=Album.Kind.ALBUM)


def _selection(request) -> list:
    form = LinkSelectionForm(request.POST)
    return form.cleaned_data["photo"] if form.is_valid() else []


@keyring_required
@never_cache
def link_list(request):
    return render(request, "links/list.html", {"links": selectors.owner_links(owner=request.user)})


@keyring_required
@never_cache
@require_http_methods(["GET", "POST"])
def link_new(request):
    """GET ?album=<id>: the form for an album. POST: from the gallery's select mode (photo ids,
    no `expiry` yet) shows the form; with `expiry`, creates the link and shows its URL once."""
    # POST names the album `link_album`: the gallery's select form also posts an `album` (its
    # "Add to album" picker), which must not turn a selection into an album link.
    album = _album(request, request.GET.get("album") or request.POST.get("link_album", ""))
    photo_ids = [] if album else _selection(request)
    if album is None and not photo_ids and request.method == "POST":
        messages.info(request, "Select the photos to share first.")
        return redirect("photos:gallery")
    if album is None and request.method == "GET":
        raise Http404("Choose an album or photos to share")
    form = LinkForm(request.POST if "expiry" in request.POST else None)
    context = {"form": form, "album": album, "photo_ids": photo_ids}
    if not form.is_bound or not form.is_valid():
        return render(request, "links/new.html", context)
    try:
        link, key = services.link_create(
            owner=request.user,
            keyring=request.keyring,
            album=album,
            photo_ids=photo_ids,
            **form.cleaned_data,
        )
    except services.NothingToShare:
        messages.info(request, "There is nothing of yours to share there.")
        return redirect("links:list")
    url = request.build_absolute_uri(f"/l/{link.id}") + "#" + key
    # The only time the key exists on the server: this response. Not stored, not logged.
    context = {"link": link, "url": url, "count": link.photos.count()}
    return render(request, "links/created.html", context)


@keyring_required
@require_POST
def link_revoke(request, link_id):
    link = get_object_or_404(Link, pk=link_id, owner=request.user)
    services.link_revoke(link=link)
    messages.success(request, "The link is revoked: it no longer works for anyone.")
    return redirect("links:list")
