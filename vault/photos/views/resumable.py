"""The tus endpoints of resumable uploads (vault/photos/resumable.py says what they keep).
Thin: headers in, service call, headers out. Same-origin only (CSRF token in a header)."""

from __future__ import annotations

import base64
import binascii

from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from vault.accounts.decorators import keyring_required
from vault.photos import resumable
from vault.photos.models import ResumableUpload

TUS_VERSION = "1.0.0"


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


def _number(request, header: str) -> int | None:
    text = request.headers.get(header, "")
    return int(text) if text.isdigit() and len(text) < 20 else None


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
    name = metadata.get("filename") or "upload"
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
    found = ResumableUpload.objects.filter(owner=request.user, pk=upload_id).first()
    if found is None:
        raise Http404("No such upload")
    if request.method == "DELETE":
        resumable.resumable_delete(found)
        return _tus(HttpResponse(status=204))
    if request.method == "PATCH":
        if request.headers.get("Content-Type") != "application/offset+octet-stream":
            return _refused("Content-Type must be application/offset+octet-stream.", 415)
        offset = _number(request, "Upload-Offset")
        if offset is None:
            return _refused("Upload-Offset is missing or not a number.", 400)
        if found.outcome is not None:
            return _refused("This upload is finished.", 409)
        try:
            new_offset = resumable.resumable_append(
                upload=found, public_key=request.keyring.public_key, offset=offset, stream=request
            )
        except resumable.UploadRefused as error:
            return _refused(str(error), error.status)
        found.refresh_from_db()
        if new_offset == found.length:
            resumable.resumable_finish(request=request, upload=found)
        response = _tus(HttpResponse(status=204))
        response["Upload-Offset"] = str(new_offset)
        return response
    body = {"offset": found.offset, "length": found.length, "outcome": found.outcome}
    response = _tus(JsonResponse(body) if request.method == "GET" else HttpResponse())
    response["Upload-Offset"] = str(found.offset)
    response["Upload-Length"] = str(found.length)
    return response
