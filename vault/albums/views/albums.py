"""The album list ("Albums" and "Shared with me"), an album's page, and the owner's edits."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from vault.accounts.decorators import keyring_required
from vault.albums import keys, partner, selectors, services
from vault.albums.forms import AlbumForm, MemberForm, PartnerForm
from vault.albums.models import Album, AlbumMember
from vault.albums.views.access import OWNER, album_key, member_or_404
from vault.photos import photo_sets
from vault.photos.models import Tag
from vault.photos.views.common import filters_query, gallery_filters
from vault.photos.views.gallery import TagChip, filter_set_chips, filter_set_options


def _page_number(request) -> int:
    try:
        return min(max(1, int(request.GET.get("page", "1"))), 1_000_000)
    except ValueError:
        return 1


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
@keyring_required
def album_list(request):
    form = AlbumForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        album = services.album_create(
            owner=request.user,
            keyring=request.keyring,
            name=form.cleaned_data["name"],
            description=form.cleaned_data["description"],
        )
        messages.success(request, "Album created.")
        return redirect("albums:detail", album_id=album.id)
    return render(
        request,
        "albums/list.html",
        {
            "form": form,
            "own": selectors.album_cards(user=request.user, keyring=request.keyring, owned=True),
            "shared": selectors.album_cards(
                user=request.user, keyring=request.keyring, owned=False
            ),
            **_partner_context(request),
        },
    )


def _tag_chips(album, filters: dict, viewer) -> list[TagChip]:
    """The gallery's tag chips, counted over the album's photos."""
    counts = selectors.album_tag_counts(album=album, filters=filters, viewer=viewer)
    selected = filters.get("tag", [])
    chips = []
    for value, label in Tag.Label.choices:
        toggled = [v for v in Tag.Label.values if (v in selected) != (v == value)]
        query = filters_query({**filters, "tag": toggled})
        chips.append(TagChip(value, label, counts.get(value, 0), value in selected, query))
    return chips


@never_cache
@require_http_methods(["GET", "HEAD"])
@keyring_required
def album_detail(request, album_id):
    member = member_or_404(request, album_id)
    album = member.album
    ak = album_key(request, member)
    form, filters, query = gallery_filters(request)
    kept = ("tag", "date_from", "date_to", *photo_sets.filter_keys())
    filters = {k: v for k, v in filters.items() if k in kept}
    page = selectors.album_page(
        album=album, filters=filters, number=_page_number(request), viewer=request.user
    )
    context = {"album": album, "member": member, "page": page, "query": query}
    if request.headers.get("X-Vault-Partial"):
        return render(request, "albums/_groups.html", context)
    name = keys.album_text(album, ak, "name")
    set_chips, set_problems = filter_set_chips(request, filters)
    context |= {
        "name": name or "Untitled album",
        "description": keys.album_text(album, ak, "description"),
        "filter_form": form,
        "filters": filters,
        "tag_chips": _tag_chips(album, filters, request.user),
        # The viewer's own people (a member never sees the owner's), counted in the album.
        "set_chips": set_chips,
        "set_problems": set_problems,
        "set_options": filter_set_options(
            request,
            filters,
            lambda rest: selectors.album_photos(album=album, filters=rest, viewer=request.user),
        ),
        "is_owner": member.role == AlbumMember.Role.OWNER,
        # The partner share keeps its one partner: no members, roles or links to manage.
        "manages_members": member.role == AlbumMember.Role.OWNER and album.kind == Album.Kind.ALBUM,
        "can_add": member.can_add,
        "members": album.members.select_related("user").order_by("added_at"),
        "edit_form": AlbumForm(
            initial={
                "name": name,
                "description": keys.album_text(album, ak, "description"),
                "include_locations": album.include_locations,
            }
        ),
        "member_form": MemberForm(),
    }
    return render(request, "albums/detail.html", context)


@require_POST
@keyring_required
def album_edit(request, album_id):
    member = member_or_404(request, album_id, roles=OWNER)
    album_key(request, member)
    form = AlbumForm(request.POST)
    if not form.is_valid():
        messages.error(request, "An album needs a name (up to 200 characters).")
        return redirect("albums:detail", album_id=album_id)
    services.album_edit(
        album=member.album,
        keyring=request.keyring,
        name=form.cleaned_data["name"],
        description=form.cleaned_data["description"],
        include_locations=form.cleaned_data["include_locations"],
    )
    messages.success(request, "Album saved.")
    return redirect("albums:detail", album_id=album_id)


@require_POST
@keyring_required
def album_delete(request, album_id):
    member = member_or_404(request, album_id, roles=OWNER)
    ak = album_key(request, member)
    if request.POST.get("confirm") != "yes":
        return render(
            request,
            "albums/delete_confirm.html",
            {"album": member.album, "name": keys.album_text(member.album, ak, "name")},
        )
    services.album_delete(album=member.album)
    messages.success(request, "Album deleted. Its photos are still in your library.")
    return redirect("albums:list")


def _partner_context(request) -> dict:
    album = partner.partner_album(owner=request.user)
    return {
        "partner_album": album,
        "partner": partner.partner_of(album) if album else None,
        "partner_form": PartnerForm(),
    }


@require_POST
@keyring_required
def partner_start(request):
    form = PartnerForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the email address of a user of this vault.")
        return redirect("albums:list")
    try:
        partner.partner_start(
            owner=request.user, keyring=request.keyring, email=form.cleaned_data["email"]
        )
    except services.AlbumError as error:
        messages.error(request, str(error))
    else:
        messages.success(
            request,
            f"Your whole library is shared with {form.cleaned_data['email']}, "
            "new photos included, until you stop it.",
        )
    return redirect("albums:list")


@require_POST
@keyring_required
def partner_stop(request):
    partner.partner_stop(owner=request.user)
    messages.success(
        request,
        "You stopped sharing your library. Copies already downloaded or saved stay with them.",
    )
    return redirect("albums:list")


@require_POST
@keyring_required
def partner_gallery(request, album_id):
    """The partner's toggle: list the owner's photos in their own gallery, or not."""
    member = member_or_404(request, album_id)
    if member.album.kind != Album.Kind.PARTNER or member.role == AlbumMember.Role.OWNER:
        raise Http404("No such shared library")
    show = request.POST.get("show") == "yes"
    AlbumMember.objects.filter(pk=member.pk).update(in_gallery=show)
    return redirect("photos:gallery")
