"""Where blobs live: the one place that turns ids into blob store keys
(`<user>/<photo>/<variant>-<index>.spv`) and talks to the store (vault.blobstore.get_store()),
so the web tier, the worker and `vault_check` agree.

Only SPV1 ciphertext is ever written through here. With the local store (the default) a key
is the file VAULT_DATA_DIR/blobs/<key>, the layout vaults have always had.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings

from vault.blobstore import ObjectReader, ObjectWriter, get_store
from vault.blobstore.local import TEMP_SUFFIX
from vault.crypto import BlobContext

__all__ = ["SUFFIX", "TEMP_SUFFIX"]

log = logging.getLogger(__name__)

SUFFIX = ".spv"


def blobs_root() -> Path:
    """The local store's directory (the local backup and the local sanity sweep use it)."""
    return Path(settings.VAULT_DATA_DIR) / "blobs"


def user_dir(user_id) -> Path:
    """The local store's directory of a user's blobs."""
    return blobs_root() / str(int(user_id))


def photo_dir(user_id, photo_id) -> Path:
    """The local store's directory of a photo's blobs."""
    return user_dir(user_id) / str(photo_id)


def user_prefix(user_id) -> str:
    return f"{int(user_id)}/"


def photo_prefix(user_id, photo_id) -> str:
    return f"{int(user_id)}/{photo_id}/"


def blob_name(variant: str, index: int = 0) -> str:
    return f"{variant}-{int(index)}{SUFFIX}"


def blob_key(user_id, photo_id, variant: str, index: int = 0) -> str:
    """The store key of a photo's (variant, index) blob: ids only, never a file name."""
    return photo_prefix(user_id, photo_id) + blob_name(variant, index)


def blob_path(user_id, photo_id, variant: str, index: int = 0) -> Path:
    """Where the local store keeps the blob (for the local backup only: everything else goes
    through blob_writer / blob_reader, which work with either store)."""
    return blobs_root() / blob_key(user_id, photo_id, variant, index)


def blob_context(user_id, photo_id, variant: str, index: int = 0) -> BlobContext:
    return BlobContext(
        user_id=str(int(user_id)), photo_id=str(photo_id), variant=variant, index=index
    )


def blob_writer(user_id, photo_id, variant: str, index: int = 0) -> ObjectWriter:
    """A writer that commits the blob atomically on finish() (for container.BlobWriter)."""
    return get_store().writer(blob_key(user_id, photo_id, variant, index))


def blob_reader(user_id, photo_id, variant: str, index: int = 0) -> ObjectReader:
    """Range reads of the stored blob (BlobMissing, an OSError, if it is not there)."""
    return get_store().reader(blob_key(user_id, photo_id, variant, index))


def object_pieces(reader: ObjectReader, piece: int = 1024 * 1024) -> Iterator[bytes]:
    """The stored bytes (ciphertext) of an open reader, front to back in pieces of at most
    `piece` bytes; closes the reader when done (or when the generator is closed)."""
    try:
        for offset in range(0, reader.size, piece):
            yield reader.read_at(offset, piece)
    finally:
        reader.close()


def blob_delete(user_id, photo_id, variant: str, index: int = 0) -> None:
    """Remove one blob; a missing one is fine."""
    get_store().delete(blob_key(user_id, photo_id, variant, index))


def remove_stale_temporaries(user_id, photo_id) -> int:
    """Discard half-written blobs a killed process left behind (temporary files, or unfinished
    multipart uploads on S3); return how many."""
    return get_store().remove_incomplete(photo_prefix(user_id, photo_id))


def _delete_prefix(prefix: str) -> int:
    # Called after the rows are gone (often on commit): a store that fails now must not turn
    # a done deletion into an error page. What stays is unreadable without the rows' keys,
    # and `vault_check` lists it as orphans.
    try:
        return get_store().delete_prefix(prefix)
    except OSError as error:
        log.warning("blobs below %s not removed: %s", prefix, error)
        return 0


def remove_photo_blobs(user_id, photo_id) -> int:
    """Remove every blob of a photo (or resumable upload), half-written ones too; return how
    many. A store failure is logged, not raised (see _delete_prefix)."""
    return _delete_prefix(photo_prefix(user_id, photo_id))


def remove_user_blobs(user_id) -> int:
    """Remove every blob of a user (account deletion: crypto-shredding's last step), and the
    staged originals of the user's unfinished resumable uploads."""
    shutil.rmtree(Path(settings.VAULT_DATA_DIR) / "uploads" / str(int(user_id)), ignore_errors=True)
    return _delete_prefix(user_prefix(user_id))
