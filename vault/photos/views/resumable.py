"""The tus endpoints of resumable uploads (vault/photos/resumable.py says what they keep).
Thin: headers in, service call, headers out. Same-origin only (CSRF token in a header)."""

from __future__ import annotations

import base64
import binascii
import logging

from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from vault.accounts.decorators import keyring_required
from vault.photos import resumable
from vault.photos.models import ResumableUpload

TUS_VERSION = "1.0.0"
# What the page shows when the pieces, all received, could not be put together (a part the
# store cannot read back): the upload is over, so the page does not wait for it forever.
NOT_ASSEMBLED = (
    "The server received the whole file but could not put its pieces together; nothing was "
    "kept. Choose the file again to send it again."
)

log = logging.getLogger(__name__)


def _tus(response: HttpResponse) -> HttpResponse:
    response["Tus-Resumable"] = TUS_VERSION
    response["Cache-Control"] = "no-store"
    return response


def _refused(message: str, status: int) -> HttpResponse:
    return _tus(JsonResponse({"error": message}, status=status))


def _metadata(header: str) -> dict[str, str]:
    """tus Upload-Metadata: "key base64value,key2 base64value2"."""
    values = {}
    for pair in header.split(","):
        key, _, value = pair.strip().partition(" ")
        if not key:
            continue
        try:
            values[key] = base64.b64decode(value, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            values[key] = ""
    return values


def _file_name(value: str | None) -> str:
    """The file's own name, cleaned as Django cleans a multipart upload's (MultiPartParser.
    sanitize_file_name): no folders (a name like "../../x.jpg" would reach ZIP downloads and
    album members' disks), no control characters; "upload" when nothing is left."""
    name = (value or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(char for char in name if char.isprintable())
    return name if name not in {"", ".", ".."} else "upload"


def _number(request, header: str) -> int | None:
    text = request.headers.get(header, "")
    # isdigit() alone also takes "²" (Latin-1 0xB2), which int() refuses.
    return int(text) if text.isascii() and text.isdigit() and len(text) < 20 else None


@csrf_protect
@keyring_required
@require_http_methods(["POST", "OPTIONS"])
def create(request):
    if request.method == "OPTIONS":
        response = _tus(HttpResponse(status=204))
        response["Tus-Version"] = TUS_VERSION
        response["Tus-Extension"] = "creation,termination"
        return response
    length = _number(request, "Upload-Length")
    if length is None:
        return _refused("Upload-Length is missing or not a number.", 400)
    metadata = _metadata(request.headers.get("Upload-Metadata", ""))
    name = _file_name(metadata.get("filename"))
    try:
        upload = resumable.resumable_create(
            user=request.user,
            keyring=request.keyring,
            length=length,
            name=name,
            batch=metadata.get("batch"),  # the page's upload batch (Live Photo pairing)
        )
    except resumable.UploadRefused as error:
        return _refused(str(error), error.status)
    response = _tus(HttpResponse(status=201))
    response["Location"] = request.build_absolute_uri(upload.get_absolute_url())
    return response


@csrf_protect
@keyring_required
@require_http_methods(["HEAD", "GET", "PATCH", "DELETE"])
def upload(request, upload_id):
    if request.method == "PATCH":
        return _patch(request, upload_id)
    found = ResumableUpload.objects.filter(owner=request.user, pk=upload_id).first()
    if found is None:
        raise Http404("No such upload")
    if request.method == "DELETE":
        resumable.resumable_delete(found)
        return _tus(HttpResponse(status=204))
    body = {"offset": found.offset, "length": found.length, "outcome": found.outcome}
    response = _tus(JsonResponse(body) if request.method == "GET" else HttpResponse())
    response["Upload-Offset"] = str(found.offset)
    response["Upload-Length"] = str(found.length)
    return response


def _patch(request, upload_id):
    """Append one piece; the piece that completes the file also assembles it. The row is read
    once, locked, by the service (no separate lookup here: fewer queries per piece)."""
    if request.headers.get("Content-Type") != "application/offset+octet-stream":
        return _refused("Content-Type must be application/offset+octet-stream.", 415)
    offset = _number(request, "Upload-Offset")
    if offset is None:
        return _refused("Upload-Offset is missing or not a number.", 400)
    try:
        found = resumable.resumable_receive(
            owner=request.user,
            upload_id=upload_id,
            keyring=request.keyring,
            offset=offset,
            stream=request,
        )
    except resumable.UploadRefused as error:
        return _refused(str(error), error.status)
    if found is None:
        raise Http404("No such upload")
    if found.offset == found.length:
        try:
            resumable.resumable_finish(request=request, upload=found)
        except Exception:  # the upload ends either way: with a photo or with a message
            log.exception("resumable upload %s could not be assembled", found.pk)
            failed = {"status": "rejected", "message": NOT_ASSEMBLED, "photo": None}
            # Not over the outcome of a request that finished it meanwhile (an empty PATCH
            # at the end sent again while the first was still at it).
            ResumableUpload.objects.filter(pk=found.pk, outcome__isnull=True).update(outcome=failed)
            resumable.resumable_parts_delete(found)
    response = _tus(HttpResponse(status=204))
    response["Upload-Offset"] = str(found.offset)
    return response
