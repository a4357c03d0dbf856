"""The upload page and its endpoint. Files stream through the encrypting upload handler, which
needs the signed-in user's keys before the first byte of the body is read: so the keys are
checked first and the CSRF check runs inside (it is what reads the body)."""

from __future__ import annotations

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect, ensure_csrf_cookie

from vault.accounts.decorators import keyring_required
from vault.photos import owner_visit, services
from vault.photos.models import Photo
from vault.photos.resumable import CHUNK
from vault.photos.upload_handler import EncryptingUploadHandler
from vault.photos.views.common import wants_json


def _limits(context: dict | None = None) -> dict:
    from django.conf import settings

    return {
        "max_megabytes": f"{settings.VAULT_MAX_UPLOAD_BYTES / (1024 * 1024):g}",
        "max_video_gigabytes": f"{settings.VAULT_MAX_VIDEO_BYTES / 1024**3:g}",
        # Files from this size go up resumably, in pieces of this size (upload.js), whole
        # 64 KiB chunks: the server keeps only whole chunks of a piece (resumable.py).
        "resumable_from": settings.VAULT_RESUMABLE_FROM_BYTES,
        "resumable_piece": max(CHUNK, settings.VAULT_RESUMABLE_PIECE_BYTES // CHUNK * CHUNK),
        "max_megapixels": f"{settings.VAULT_MAX_PIXELS / 1e6:g}",
        # The page says what the gallery says about a photo's state, in the same words.
        "state_labels": dict(Photo.State.choices),
        **(context or {}),
    }


@csrf_protect
def _receive(request, handler: EncryptingUploadHandler):
    request.FILES  # noqa: B018 - parse the body through the handler (already done by the CSRF check)
    outcomes = services.photos_store_uploads(
        user=request.user,
        keyring=request.keyring,
        handler=handler,
        batch=request.POST.get("batch"),  # the page's batch id (Live Photo pairing)
    )
    if wants_json(request):
        if not outcomes:
            return JsonResponse({"error": "No file arrived. Choose photos to upload."}, status=400)
        return JsonResponse({"files": [outcome.as_dict() for outcome in outcomes]})
    return render(request, "photos/upload.html", _limits({"outcomes": outcomes, "sent": True}))


@csrf_exempt
@keyring_required
def upload(request):
    if request.method != "POST":
        owner_visit.owner_visit(user=request.user, keyring=request.keyring)
        return ensure_csrf_cookie(lambda r: render(r, "photos/upload.html", _limits()))(request)
    ring = request.keyring
    handler = EncryptingUploadHandler(
        request, user_id=request.user.pk, public_key=ring.public_key, metadata_key=ring.metadata_key
    )
    request.upload_handlers = [handler]
    try:
        return _receive(request, handler)
    finally:
        handler.discard()  # a refused request (bad CSRF token, broken body) keeps nothing
