"""Videos and Live items in an album, for every member, opened with the album key like the
album's pictures (vault/albums/views/photos.py): a video plays (its rendition when the worker
made one), a Live item's moving part plays, and its video and both originals download."""

from __future__ import annotations

from django.http import Http404
from django.views.decorators.http import require_GET

from vault.accounts.decorators import keyring_required
from vault.albums import keys, selectors
from vault.crypto import DecryptionError
from vault.photos.live_photos import motion_name
from vault.photos.models import Blob
from vault.photos.views.content import blob_serve
from vault.photos.views.live import motion_play_variant, zip_response


def _opened(request, album_id, photo_id):
    """(entry, the photo's data key, its name) for a member; 404 for anything missing."""
    entry = selectors.member_entry(user=request.user, album_id=album_id, photo_id=photo_id)
    if entry is None:
        raise Http404("No such picture")
    try:
        ak = keys.album_key_from_wrap(entry.album, entry.wrapped_key, request.keyring)
        return entry, keys.entry_data_key(entry, ak), keys.entry_name(entry, ak)
    except (keys.AlbumKeyUnavailable, DecryptionError):
        raise Http404("This picture cannot be read") from None


def _blob(photo_id, variant: str) -> Blob:
    blob = Blob.objects.select_related("photo").filter(photo_id=photo_id, variant=variant).first()
    if blob is None:
        raise Http404("No such picture")
    return blob


@require_GET
@keyring_required
def play(request, album_id, photo_id):
    _entry, data_key, _name = _opened(request, album_id, photo_id)
    rendition = Blob.objects.filter(photo_id=photo_id, variant=Blob.Variant.RENDITION).exists()
    variant = Blob.Variant.RENDITION if rendition else Blob.Variant.ORIGINAL
    return blob_serve(request, _blob(photo_id, variant), data_key=data_key)


@require_GET
@keyring_required
def motion(request, album_id, photo_id):
    _entry, data_key, _name = _opened(request, album_id, photo_id)
    return blob_serve(request, _blob(photo_id, motion_play_variant(photo_id)), data_key=data_key)


@require_GET
@keyring_required
def motion_download(request, album_id, photo_id):
    _entry, data_key, name = _opened(request, album_id, photo_id)
    clip = _blob(photo_id, Blob.Variant.MOTION)
    return blob_serve(
        request, clip, data_key=data_key, download_name=motion_name(name, clip.media_type)
    )


@require_GET
@keyring_required
def download_both(request, album_id, photo_id):
    entry, data_key, name = _opened(request, album_id, photo_id)
    return zip_response(request, entry.photo, name, data_key=data_key)
