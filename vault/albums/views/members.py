"""Sharing an album: adding members by email, changing their role, removing them (with a new
album key), and leaving."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from vault.accounts.decorators import keyring_required
from vault.albums import services
from vault.albums.forms import MemberForm, RoleForm
from vault.albums.models import Album, AlbumMember
from vault.albums.views.access import OWNER, album_key, member_or_404


def _other_member(album, member_id) -> AlbumMember:
    member = (
        AlbumMember.objects.select_related("user")
        .filter(album=album, pk=member_id)
        .exclude(role=AlbumMember.Role.OWNER)
        .first()
    )
    if member is None:
        raise Http404("No such member")
    return member


def _managed(me: AlbumMember) -> AlbumMember:
    """The partner share keeps its one partner as viewer: no one is added, no role changes
    (stopping it is on the Albums page)."""
    if me.album.kind == Album.Kind.PARTNER:
        raise Http404("The partner share has no members to manage")
    return me


@require_POST
@keyring_required
def member_add(request, album_id):
    me = _managed(member_or_404(request, album_id, roles=OWNER))
    album_key(request, me)
    form = MemberForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give the email address of a user of this vault and a role.")
        return redirect("albums:detail", album_id=album_id)
    try:
        services.album_member_add(
            album=me.album,
            keyring=request.keyring,
            email=form.cleaned_data["email"],
            role=form.cleaned_data["role"],
            link=request.build_absolute_uri(reverse("albums:detail", args=[album_id])),
        )
    except services.AlbumError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Shared with {form.cleaned_data['email']}; they got an email.")
    return redirect("albums:detail", album_id=album_id)


@require_POST
@keyring_required
def member_role(request, album_id, member_id):
    me = _managed(member_or_404(request, album_id, roles=OWNER))
    member = _other_member(me.album, member_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose viewer or contributor; the role did not change.")
        return redirect("albums:detail", album_id=album_id)
    try:
        services.album_member_role_set(
            album=me.album, member=member, role=form.cleaned_data["role"]
        )
    except services.AlbumError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"{member.user.name} is now {form.cleaned_data['role']}.")
    return redirect("albums:detail", album_id=album_id)


@require_POST
@keyring_required
def member_remove(request, album_id, member_id):
    me = member_or_404(request, album_id, roles=OWNER)
    album_key(request, me)
    member = _other_member(me.album, member_id)
    if request.POST.get("confirm") != "yes":
        return render(request, "albums/remove_confirm.html", {"album": me.album, "member": member})
    services.album_member_remove(album=me.album, keyring=request.keyring, member=member)
    messages.success(
        request,
        f"Removed {member.user.name}. The album has a new key: nothing added from now on can "
        "be opened with the old one. Copies they already downloaded or saved stay with them.",
    )
    return redirect("albums:detail", album_id=album_id)


@require_POST
@keyring_required
def leave(request, album_id):
    me = member_or_404(request, album_id)
    if me.role == AlbumMember.Role.OWNER:
        messages.error(request, "You own this album: delete it instead of leaving.")
        return redirect("albums:detail", album_id=album_id)
    if request.POST.get("confirm") != "yes":
        return render(request, "albums/leave_confirm.html", {"album": me.album})
    services.album_leave(album=me.album, user=request.user)
    messages.success(request, "You left the album. Copies you saved to your library stay in it.")
    return redirect("albums:list")
