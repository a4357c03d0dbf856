"""A face's crop: the photo's encrypted "face" blob (index = Face.index), decrypted and streamed
like the photo's own thumbnails."""

from __future__ import annotations

from django.views.decorators.http import require_GET

from vault.accounts.decorators import keyring_required
from vault.people import selectors
from vault.photos.models import Blob
from vault.photos.views.content import blob_response


@require_GET
@keyring_required
def face_crop(request, face_id):
    face = selectors.face_of_owner(user=request.user, face_id=face_id)
    return blob_response(request, face.photo_id, Blob.Variant.FACE, index=face.index)
