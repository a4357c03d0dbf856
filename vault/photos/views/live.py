"""A Live item's two halves on request (docs/video.md): the moving part to play (its web
rendition when the worker made one), the video itself to download byte for byte, and both
originals in one ZIP, streamed as each chunk is decrypted (stored, not compressed: photos and
videos do not shrink, and the files inside stay byte for byte the originals)."""

from __future__ import annotations

import logging
import zipfile

from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from vault.accounts.decorators import keyring_required
from vault.crypto import DecryptionError
from vault.photos import blobs, selectors
from vault.photos.live_photos import motion_name
from vault.photos.models import Blob, Photo
from vault.photos.views.content import (
    StreamAborted,
    _drop_connection,
    attachment_disposition,
    blob_response,
    blob_serve,
)

log = logging.getLogger(__name__)


def motion_play_variant(photo_id) -> str:
    """What a Live item's player plays: the rendition when the worker made one (the browser
    cannot play the clip as it is), else the clip. A photo's only rendition is its clip's."""
    rendition = Blob.objects.filter(
        photo_id=photo_id, photo__kind=Photo.Kind.PHOTO, variant=Blob.Variant.RENDITION
    ).exists()
    return Blob.Variant.RENDITION if rendition else Blob.Variant.MOTION


class _Pipe:
    """A write-only file for zipfile that hands over what was written since the last take
    (no seek, no tell: zipfile then writes each entry's sizes after its data)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def zip_stream(entries, environ, photo_id):
    """Yield a ZIP of `entries` [(name, Blob, open kwargs)] as each chunk is decrypted. A
    chunk that fails after the first bytes went out ends the connection (content._stream)."""
    pipe = _Pipe()
    moment = timezone.localtime().timetuple()[:6]
    try:
        with zipfile.ZipFile(pipe, "w", zipfile.ZIP_STORED) as archive:
            for name, blob, opening in entries:
                info = zipfile.ZipInfo(name, date_time=moment)
                with (
                    blobs.blob_open(blob, **opening) as reader,
                    archive.open(info, "w", force_zip64=blob.size >= 2**31) as entry,
                ):
                    for piece in reader.iter_plaintext():
                        entry.write(piece)
                        yield pipe.take()
        yield pipe.take()
    except (DecryptionError, OSError):
        log.warning("photo %s: a blob of its ZIP could not be read; response aborted", photo_id)
        _drop_connection(environ)
        raise StreamAborted() from None


def zip_response(request, photo: Photo, name: str, **opening) -> StreamingHttpResponse:
    """Both originals of a Live item as "<name stem>.zip"; 404 when it has no motion."""
    found = {b.variant: b for b in photo.blobs.filter(variant__in=["original", "motion"])}
    if len(found) < 2:
        raise Http404("This photo has no video")
    original, clip = found[Blob.Variant.ORIGINAL], found[Blob.Variant.MOTION]
    entries = [
        (name, original, opening),
        (motion_name(name, clip.media_type), clip, opening),
    ]
    response = StreamingHttpResponse(
        zip_stream(entries, request.META, photo.id), content_type="application/zip"
    )
    response["Content-Disposition"] = attachment_disposition(name.rpartition(".")[0] + ".zip")
    response["Cache-Control"] = "private, no-store"
    return response


@require_GET
@keyring_required
def motion(request, photo_id):
    """A Live item's moving part, inline (the photo page plays it on hover or a tap)."""
    return blob_response(request, photo_id, motion_play_variant(photo_id))


@require_GET
@keyring_required
def motion_download(request, photo_id):
    """The video of a Live item, byte for byte (an iPhone's MOV, a motion photo's MP4)."""
    photo = selectors.photo_of_owner(user=request.user, photo_id=photo_id)
    clip = photo.blobs.filter(variant=Blob.Variant.MOTION).first()
    if clip is None:
        raise Http404("This photo has no video")
    name = motion_name(selectors.photo_original_name(photo, request.keyring), clip.media_type)
    return blob_serve(request, clip, private_key=request.keyring.private_key, download_name=name)


@require_GET
@keyring_required
def download_both(request, photo_id):
    """The photo and its video, both originals, in one ZIP."""
    photo = selectors.photo_of_owner(user=request.user, photo_id=photo_id)
    name = selectors.photo_original_name(photo, request.keyring)
    return zip_response(request, photo, name, private_key=request.keyring.private_key)
