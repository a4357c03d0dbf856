"""Who may do what to an album: a non-member finds no album (404), a member whose role does
not allow the action gets 403."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from vault.albums import keys, selectors
from vault.albums.models import AlbumMember

OWNER = {AlbumMember.Role.OWNER}
ADDERS = {AlbumMember.Role.OWNER, AlbumMember.Role.CONTRIBUTOR}


def member_or_404(request, album_id, *, roles: set | None = None) -> AlbumMember:
    member = selectors.membership(user=request.user, album_id=album_id)
    if roles is not None and member.role not in roles:
        raise PermissionDenied("Your role in this album does not allow that.")
    return member


def album_key(request, member: AlbumMember) -> bytes:
    """AK for this member; a wrap that does not open reads like no album at all."""
    from django.http import Http404

    try:
        return keys.album_key_open(member.album, request.keyring)
    except keys.AlbumKeyUnavailable:
        raise Http404("No such album") from None
