"""Decrypted bytes, on request: thumbnails, previews and originals, streamed chunk by chunk
with private caching headers. Each request unwraps the data key with the session keyring."""

from __future__ import annotations

import logging
import re

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from vault.accounts.decorators import keyring_required
from vault.crypto import DecryptionError
from vault.photos import blobs, selectors
from vault.photos.models import Blob

log = logging.getLogger(__name__)

_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/heic": ".heic",
}


_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")


def _stream(reader, start: int = 0, end: int | None = None):
    try:
        yield from reader.iter_plaintext(start, end)
    finally:
        reader.close()


def _byte_range(header: str | None, length: int) -> tuple[int, int] | bool | None:
    """(start, end exclusive) for a single "bytes=a-b" range; None when there is no usable
    Range header (serve everything); False when the range cannot be satisfied."""
    match = _RANGE.match(header or "")
    if not match or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":  # the last N bytes
        count = int(last)
        return (max(0, length - count), length) if count else False
    start = int(first)
    end = min(length, int(last) + 1) if last else length
    if start >= length or end <= start:
        return False
    return start, end


def _blob_response(request, photo_id, variant: str, *, cache: str, attachment: bool = False):
    # One query, the owner in it: another user's photo id finds nothing, just like a wrong one.
    blob = (
        Blob.objects.select_related("photo")
        .filter(photo__owner=request.user, photo_id=photo_id, variant=variant, index=0)
        .first()
    )
    if blob is None:
        raise Http404("No such picture")
    photo = blob.photo
    try:
        reader = blobs.blob_open(blob, private_key=request.keyring.private_key)
    except (OSError, DecryptionError):
        log.warning("photo %s: %s blob is missing or does not open", photo.id, variant)
        raise Http404("This picture cannot be read") from None
    length = reader.plaintext_length
    wanted = _byte_range(request.headers.get("Range"), length)
    if wanted is False:
        reader.close()
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{length}"
        return response
    # Only the chunks that overlap the range are decrypted (resumed downloads stay cheap).
    start, end = wanted or (0, length)
    response = StreamingHttpResponse(
        _stream(reader, start, end), content_type=blob.media_type, status=206 if wanted else 200
    )
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end - 1}/{length}"
    response["Content-Length"] = str(end - start)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = cache
    response["Vary"] = "Cookie"
    if attachment:
        name = selectors.photo_original_name(photo, request.keyring)
        if "." not in name:
            name += _EXTENSIONS.get(blob.media_type, "")
        response["Content-Disposition"] = content_disposition_header(True, name)
    return response


@require_GET
@keyring_required
def thumb(request, photo_id):
    # Private: a shared cache must never keep a decrypted picture. The URL names one photo
    # whose thumbnail changes only when reprocessed, so the browser may reuse it for a day.
    return _blob_response(request, photo_id, Blob.Variant.THUMB, cache="private, max-age=86400")


@require_GET
@keyring_required
def preview(request, photo_id):
    return _blob_response(request, photo_id, Blob.Variant.PREVIEW, cache="private, max-age=86400")


@require_GET
@keyring_required
def download(request, photo_id):
    return _blob_response(
        request, photo_id, Blob.Variant.ORIGINAL, cache="private, no-store", attachment=True
    )
