"""URLs of bench/ingest.py's server: the vault, plus the baselines it is compared with in the
same run — the vault's own upload path with the encryption taken out, a bare upload that only
stores the bytes, and a thumbnail served from a plain file. Only the benchmark loads this
module; the vault never serves these views."""

import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from vault.accounts.decorators import keyring_required
from vault.photos import storage
from vault.photos.upload_handler import EncryptingUploadHandler
from vault.photos.views import upload as upload_views
from vault.urls import urlpatterns as vault_urlpatterns


def plain_dir() -> Path:
    return Path(settings.VAULT_DATA_DIR) / "plain"


class PlainFileUploadHandler(FileUploadHandler):
    """Streams the upload to a file as it is, fsynced like a blob: the unencrypted baseline."""

    chunk_size = 256 * 1024

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        plain_dir().mkdir(parents=True, exist_ok=True)
        self.path = plain_dir() / f"upload-{os.getpid()}-{id(self)}.jpg"
        self.out = open(self.path, "wb")  # noqa: SIM115 - closed in file_complete

    def receive_data_chunk(self, raw_data, start):
        self.out.write(raw_data)

    def file_complete(self, file_size):
        self.out.flush()
        os.fsync(self.out.fileno())
        self.out.close()
        return None


class PlainWriter:
    """BlobWriter's interface and durability (the store's atomic commit: temporary name, fsync
    and rename locally, a completed multipart upload on S3) without the encryption."""

    def __init__(self, target) -> None:
        self.target = target

    def write(self, data) -> None:
        self.target.write(data)

    def close(self) -> None:
        self.target.finish()

    def abort(self) -> None:
        self.target.abort()


class UnencryptedUploadHandler(EncryptingUploadHandler):
    """The vault's upload handler with the cipher and the keyed hash swapped for plain ones."""

    def _content_mac(self):
        return hashlib.sha256()

    def _open_writer(self, photo_id, data_key):
        return PlainWriter(storage.blob_writer(self.user_id, photo_id, "original"))


@csrf_exempt
@keyring_required
def unencrypted_upload(request):
    """The vault's upload view, same checks, rows and response, minus the encryption."""
    ring = request.keyring
    handler = UnencryptedUploadHandler(
        request, user_id=request.user.pk, public_key=ring.public_key, metadata_key=ring.metadata_key
    )
    request.upload_handlers = [handler]
    try:
        return upload_views._receive(request, handler)
    finally:
        handler.discard()


@csrf_exempt
def plain_upload(request):
    if not request.user.is_authenticated:
        raise Http404
    request.upload_handlers = [PlainFileUploadHandler(request)]
    request.POST  # noqa: B018 - reads the body through the handler
    return JsonResponse({"files": [{"status": "stored"}]})


@csrf_exempt
def plain_piece(request, name: str):
    """A tus PATCH without the vault (bench/video.py's baseline): the raw request body appended
    to a plain file and fsynced before the reply, as a resumable server must."""
    if not request.user.is_authenticated:
        raise Http404
    plain_dir().mkdir(parents=True, exist_ok=True)
    with open(plain_dir() / f"pieces-{name}", "ab") as out:
        while piece := request.read(256 * 1024):
            out.write(piece)
        out.flush()
        os.fsync(out.fileno())
    return HttpResponse(status=204)


def plain_thumb(request, number: int):
    if not request.user.is_authenticated:
        raise Http404
    response = FileResponse(open(plain_dir() / f"thumb-{number}.jpg", "rb"))  # noqa: SIM115
    response["Cache-Control"] = "private, max-age=86400"
    return response


urlpatterns = [
    *vault_urlpatterns,
    path("bench/plain-upload", plain_upload),
    path("bench/unencrypted-upload", unencrypted_upload),
    path("bench/plain-thumb/<int:number>", plain_thumb),
    path("bench/plain-piece/<slug:name>", plain_piece),
]
