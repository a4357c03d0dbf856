"""Photos this browser deleted lately, so that a stale tab or a form sent again after Back
hears "Already deleted" instead of a bare "Page not found" (issue 24.6).

Kept in the session (shared by the browser's tabs), never in the database: an id that was
not deleted from this session still gets the plain 404, so another user's ids, or ids that
never existed, tell nothing. Photo ids are random UUIDs, so a remembered id never comes back;
but a remembered photo may be restored from another session or device, so the database has
the last word: a photo of the owner out of the trash is never "already deleted".
"""

from __future__ import annotations

from collections.abc import Iterable

from vault.photos.models import Photo

SESSION_KEY = "photos_deleted_recently"
REMEMBERED = 500  # ids kept, newest last; a few hundred UUIDs are ~20 KB of session


def deleted_remember(request, photo_ids: Iterable) -> None:
    """Note `photo_ids` as deleted by this session's owner just now."""
    new = [str(photo_id) for photo_id in photo_ids]
    fresh = set(new)
    kept = [old for old in request.session.get(SESSION_KEY, []) if old not in fresh]
    request.session[SESSION_KEY] = (kept + new)[-REMEMBERED:]


def deleted_among(request, photo_ids: Iterable) -> set[str]:
    """Those of `photo_ids` (as strings) that this session deleted and that are still deleted
    (gone for good, or in the trash). One query, only when a remembered id is among them."""
    remembered = set(request.session.get(SESSION_KEY, []))
    gone = {str(i) for i in photo_ids} & remembered
    if not gone:
        return gone
    back = Photo.objects.filter(owner=request.user, id__in=gone, trashed_at__isnull=True)
    return gone - {str(i) for i in back.values_list("id", flat=True)}


def already_deleted_text(count: int) -> str:
    if count == 1:
        return "Already deleted: that photo was deleted before (in another tab, or earlier)."
    return (
        f"Already deleted: those {count} photos were deleted before (in another tab, or earlier)."
    )


def deleted_forget(request, photo_ids: Iterable) -> None:
    """Forget `photo_ids` again: they came back from the trash (vault/photos/trash.py)."""
    back = {str(photo_id) for photo_id in photo_ids}
    kept = [old for old in request.session.get(SESSION_KEY, []) if old not in back]
    request.session[SESSION_KEY] = kept
