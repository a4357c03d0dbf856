"""Save to my library (docs/sharing.md): a member makes their own copy of a photo shared with
them. The original is read with the album's key and streamed through the same encrypting path
as an upload (a new photo id, a new DK wrapped to the member's public key, the member's content
MAC for duplicates), then committed and granted to the workers like an upload, so the copy gets
the member's own thumbnails, tags and faces. It is theirs: it stays when the share ends."""

from __future__ import annotations

from vault.accounts.keyring import Keyring
from vault.albums import keys
from vault.albums.models import AlbumPhoto
from vault.photos import blobs
from vault.photos.models import Blob
from vault.photos.services import UploadOutcome, photos_store_uploads
from vault.photos.upload_handler import EncryptingUploadHandler


def photo_save_copy(*, entry: AlbumPhoto, ak: bytes, user, keyring: Keyring) -> UploadOutcome:
    """Copy the entry's photo into `user`'s library. Returns the upload outcome ("stored",
    "duplicate" when they already have it, or "rejected" with the reason). Raises
    DecryptionError or OSError when the shared original cannot be read."""
    name = keys.entry_name(entry, ak)
    original = Blob.objects.select_related("photo").get(
        photo=entry.photo, variant=Blob.Variant.ORIGINAL, index=0
    )
    handler = EncryptingUploadHandler(
        None, user_id=user.pk, public_key=keyring.public_key, metadata_key=keyring.metadata_key
    )
    try:
        with blobs.blob_open(original, data_key=keys.entry_data_key(entry, ak)) as reader:
            handler.new_file("photos", name, original.media_type, reader.plaintext_length)
            position = 0
            for chunk in reader.iter_plaintext():
                handler.receive_data_chunk(chunk, position)
                position += len(chunk)
            handler.file_complete(position)
        [outcome] = photos_store_uploads(user=user, keyring=keyring, handler=handler)
    finally:
        handler.discard()
    return outcome
