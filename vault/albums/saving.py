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
from vault.photos.live_photos import MOTION_TYPE, motion_name
from vault.photos.models import Blob
from vault.photos.services import UploadOutcome, photos_store_uploads
from vault.photos.upload_handler import EncryptingUploadHandler


def photo_save_copy(*, entry: AlbumPhoto, ak: bytes, user, keyring: Keyring) -> UploadOutcome:
    """Copy the entry's photo into `user`'s library. Returns the upload outcome ("stored",
    "duplicate" when they already have it, or "rejected" with the reason). Raises
    DecryptionError or OSError when the shared original cannot be read."""
    name = keys.entry_name(entry, ak)
    files = [
        (name, Blob.objects.select_related("photo").get(photo=entry.photo, variant="original"))
    ]
    # A Live Photo's video goes with it, in the same batch: the copy is Live too. (A motion
    # photo's clip is inside its original: the copy's worker finds it again.)
    motion = (
        Blob.objects.select_related("photo")
        .filter(photo=entry.photo, variant=Blob.Variant.MOTION, media_type=MOTION_TYPE)
        .first()
    )
    if motion is not None:
        files.append((motion_name(name, motion.media_type), motion))
    handler = EncryptingUploadHandler(
        None, user_id=user.pk, public_key=keyring.public_key, metadata_key=keyring.metadata_key
    )
    data_key = keys.entry_data_key(entry, ak)
    try:
        for file_name, blob in files:
            with blobs.blob_open(blob, data_key=data_key) as reader:
                handler.new_file("photos", file_name, blob.media_type, reader.plaintext_length)
                position = 0
                for chunk in reader.iter_plaintext():
                    handler.receive_data_chunk(chunk, position)
                    position += len(chunk)
                handler.file_complete(position)
        outcome, *_video = photos_store_uploads(user=user, keyring=keyring, handler=handler)
    finally:
        handler.discard()
    return outcome
