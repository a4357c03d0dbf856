"""A face's crop: the photo's encrypted "face" blob (index = Face.index), decrypted and streamed
like the photo's own thumbnails."""

from __future__ import annotations

from vault.accounts.decorators import keyring_required
from vault.people import selectors
from vault.people.views.pages import read_only
from vault.photos.models import Blob
from vault.photos.views.content import blob_response


@keyring_required
def face_crop(request, face_id):
    face = selectors.face_of_owner(user=request.user, face_id=face_id)
    if refused := read_only(request):
        return refused
    return blob_response(request, face.photo_id, Blob.Variant.FACE, index=face.index)
