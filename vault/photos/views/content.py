"""Decrypted bytes, on request: thumbnails, previews and originals, streamed chunk by chunk
and kept out of every cache by default. Each request unwraps the data key with the session
keyring."""

from __future__ import annotations

import errno
import logging
import re
import socket
import unicodedata
from urllib.parse import quote

from django.conf import settings
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from vault.accounts.decorators import keyring_required
from vault.crypto import DecryptionError
from vault.photos import blobs, selectors, shared_photos
from vault.photos.models import Blob
from vault.security_headers import csp_header

log = logging.getLogger(__name__)

_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "video/mp4": ".mp4",
    "video/quicktime": ".mov",
    "video/3gpp": ".3gp",
    "video/webm": ".webm",
}


_RANGE = re.compile(r"^bytes=(\d{0,19})-(\d{0,19})$")
# What a plain filename="..." may hold: printable ASCII without quotes, backslashes, path
# separators, ";" (naive header parsers split on it), "%" (some clients percent-decode it,
# RFC 6266 appendix D) or characters Windows refuses in a filename.
_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9 !#$&\'()+,\-.=@\[\]^_`{}~]")
_RFC5987_SAFE = "!#$&+^`|"  # attr-char (RFC 5987) beyond what quote() always keeps


def _ascii_fallback(name: str) -> str:
    """An ASCII stand-in for a filename: accents dropped ("Été" → "Ete"), every other
    character that is not safe in a quoted header value an underscore; "photo" when nothing
    of the stem is left."""
    folded = "".join(
        "".join(c for c in unicodedata.normalize("NFKD", char) if c.isascii()) or "_"
        for char in name
    )
    folded = re.sub(r"_+", "_", _FALLBACK_UNSAFE.sub("_", folded))
    stem, dot, extension = folded.rpartition(".")
    if not dot:
        stem, extension = folded, ""
    stem = stem.strip(" ._")
    if not any(c.isalnum() for c in stem):
        stem = "photo"
    extension = extension if extension.isalnum() else ""
    return f"{stem}.{extension}" if extension else stem


def attachment_disposition(name: str) -> str:
    """Content-Disposition for a download (RFC 6266): the exact name, percent-encoded UTF-8,
    in filename* (RFC 5987), and an ASCII filename for clients that ignore it; the plain form
    alone when the name is already safe ASCII."""
    fallback = _ascii_fallback(name)
    if fallback == name:
        return f'attachment; filename="{name}"'
    exact = quote(name, safe=_RFC5987_SAFE)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{exact}"


class StreamAborted(ConnectionResetError):
    """Raised from a response iterator after its connection was shut down on purpose."""

    def __init__(self) -> None:
        super().__init__(errno.ECONNRESET, "response aborted: a blob chunk could not be read")


def _connection_fd(environ) -> int | None:
    """The client socket's file descriptor, from what each WSGI server puts in the environ."""
    sock = environ.get("gunicorn.socket")  # gunicorn (every worker class) passes it
    if sock is not None:
        return sock.fileno()
    # wsgiref (runserver, LiveServer): wsgi.input is Django's LimitedStream over the
    # handler's rfile, a buffered reader of the socket (its fileno() is the socket's).
    read = getattr(environ.get("wsgi.input"), "_read", None)
    try:
        return getattr(read, "__self__", None).fileno()
    except (AttributeError, OSError, ValueError):
        return None


def _drop_connection(environ) -> None:
    """Shut the client connection down (FIN to the client, EOF to the server's reads)."""
    fd = _connection_fd(environ)
    if fd is None or fd < 0:
        return
    try:
        sock = socket.socket(fileno=fd)  # a second object over the same descriptor...
    except OSError:
        return  # not a socket after all
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone
    finally:
        sock.detach()  # ...that must not close it: the server still owns the descriptor


def _stream(reader, pieces, first: bytes, environ, start: int, photo_id, variant: str):
    """Yield the plaintext of [start, end); the reader authenticates each chunk before it is
    yielded, so a damaged chunk never sends a byte.

    A chunk that fails (or cannot be read) after the status line and Content-Length are out can
    no longer become an error response: the connection must end, or the client waits for the
    missing bytes. What each server does when the response iterator raises (from its source):
    - Django's wsgiref server (runserver, LiveServer): wsgiref's BaseHandler.run returns
      quietly on ConnectionResetError/BrokenPipeError; on anything else it prints a traceback
      and, headers being sent, does nothing more. Either way Django's WSGIRequestHandler then
      reads the next request line from the kept-alive socket, and client and server wait for
      each other (Django ticket #30018, still open).
    - gunicorn's gthread worker: an OSError whose errno is ECONNRESET, EPIPE or ENOTCONN is
      logged at debug level and the connection closed; any other exception after the headers
      is logged with a traceback ("Error handling request"), then the connection is closed.
    So we shut the socket down ourselves (FIN to the client, EOF to the server's next read),
    then raise StreamAborted, a ConnectionResetError with errno ECONNRESET: wsgiref returns
    quietly, its read of a next request sees EOF and it closes; gunicorn logs "Ignoring
    connection reset" at debug level and closes. Our warning is the only line logged."""
    position = start
    try:
        yield first
        position += len(first)
        for piece in pieces:
            yield piece
            position += len(piece)
    except (DecryptionError, OSError) as error:
        log.warning(
            "photo %s: %s blob %s at byte %d; response aborted",
            photo_id,
            variant,
            "fails authentication" if isinstance(error, DecryptionError) else "cannot be read",
            position,
        )
        _drop_connection(environ)
        raise StreamAborted() from None
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


def _cache_control(variant: str) -> str:
    """Decrypted pictures stay out of every cache, the browser's disk cache included, unless
    the operator allows it: VAULT_CACHE_DECRYPTED_SECONDS (default 0) lets the browser, never a
    shared cache, reuse thumbnails and previews that long, at the price of decrypted pictures
    left on the device after sign-out. Originals are never cached."""
    seconds = settings.VAULT_CACHE_DECRYPTED_SECONDS
    if seconds > 0 and variant != Blob.Variant.ORIGINAL:
        return f"private, max-age={seconds}"
    return "private, no-store"


def blob_response(request, photo_id, variant: str, *, index: int = 0, attachment: bool = False):
    """Stream one of the request user's blobs (also serves the people app's face crops)."""
    # One query, the owner in it: another user's photo id finds nothing, just like a wrong one.
    blob = (
        Blob.objects.select_related("photo")
        .filter(photo__owner=request.user, photo_id=photo_id, variant=variant, index=index)
        .first()
    )
    if blob is None:
        return _shared_blob_response(request, photo_id, variant, attachment=attachment)
    name = None
    if attachment:
        name = selectors.photo_original_name(blob.photo, request.keyring)
    return blob_serve(request, blob, private_key=request.keyring.private_key, download_name=name)


def _shared_blob_response(request, photo_id, variant: str, *, attachment: bool):
    """Another user's photo shown in this user's gallery (shared_photos): opened with the data
    key its source gives, never a face crop; 404 like any other id otherwise."""
    blob = None
    if variant != Blob.Variant.FACE:
        blob = (
            Blob.objects.select_related("photo")
            .filter(photo_id=photo_id, variant=variant, index=0, photo__trashed_at__isnull=True)
            .first()
        )
    found = shared_photos.read(request, blob.photo) if blob is not None else None
    if found is None:
        raise Http404("No such picture")
    data_key, name = found
    return blob_serve(request, blob, data_key=data_key, download_name=name if attachment else None)


def blob_serve(
    request,
    blob: Blob,
    *,
    private_key: bytes | None = None,
    data_key: bytes | None = None,
    download_name: str | None = None,
):
    """Stream a blob the caller has authorised, opened with the owner's private key or with
    the photo's data key (an album member's, docs/sharing.md); an attachment named
    `download_name` when given. Ranges, caching and aborts as described above."""
    photo = blob.photo
    variant = blob.variant
    try:
        reader = blobs.blob_open(blob, private_key=private_key, data_key=data_key)
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
    # The first chunk is decrypted before the status line goes out: a picture that fails
    # authentication there (every thumbnail fits in one chunk) still gets an error answer,
    # where a later chunk can only end the connection (see _stream).
    pieces = reader.iter_plaintext(start, end)
    try:
        first = next(pieces, b"")
    except (DecryptionError, OSError) as error:
        reader.close()
        log.warning(
            "photo %s: %s blob %s at byte %d; answered 404",
            photo.id,
            variant,
            "fails authentication" if isinstance(error, DecryptionError) else "cannot be read",
            start,
        )
        raise Http404("This picture cannot be read") from None
    response = StreamingHttpResponse(
        _stream(reader, pieces, first, request.META, start, photo.id, variant),
        content_type=blob.media_type,
        status=206 if wanted else 200,
    )
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end - 1}/{length}"
    response["Content-Length"] = str(end - start)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = _cache_control(variant)
    response["Vary"] = "Cookie"
    # A picture's own policy, not the pages' (settings.SECURE_CSP_MEDIA says why).
    response["Content-Security-Policy"] = csp_header(settings.SECURE_CSP_MEDIA)
    if download_name is not None:
        name = download_name
        if "." not in name:
            name += _EXTENSIONS.get(blob.media_type, "")
        response["Content-Disposition"] = attachment_disposition(name)
    return response


@require_GET
@keyring_required
def thumb(request, photo_id):
    return blob_response(request, photo_id, Blob.Variant.THUMB)


@require_GET
@keyring_required
def preview(request, photo_id):
    return blob_response(request, photo_id, Blob.Variant.PREVIEW)


@require_GET
@keyring_required
def download(request, photo_id):
    return blob_response(request, photo_id, Blob.Variant.ORIGINAL, attachment=True)


@require_GET
@keyring_required
def play(request, photo_id):
    """What a video's <video> element plays: the worker's web-playable rendition when it made
    one (the browser cannot play the original), else the original itself, inline. Ranges
    decrypt only the chunks they need, so seeking fetches a few chunks, not the file."""
    # Which blob, not whether this user may read it: blob_response decides that (the owner,
    # or an album member through shared_photos) and answers 404 alike otherwise.
    rendition = Blob.objects.filter(photo_id=photo_id, variant=Blob.Variant.RENDITION).exists()
    variant = Blob.Variant.RENDITION if rendition else Blob.Variant.ORIGINAL
    return blob_response(request, photo_id, variant)
