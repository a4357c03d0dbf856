"""Where blobs live on disk: one directory per photo under VAULT_DATA_DIR/blobs/<user>/.

Only SPV1 ciphertext is ever written below this directory. This module is the one place that
turns ids into paths, so the web tier, the worker and `vault_check` agree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings

from vault.crypto import BlobContext

SUFFIX = ".spv"
TEMP_SUFFIX = ".tmp"  # BlobWriter's temporary names end with this


def blobs_root() -> Path:
    return Path(settings.VAULT_DATA_DIR) / "blobs"


def user_dir(user_id) -> Path:
    return blobs_root() / str(int(user_id))


def photo_dir(user_id, photo_id) -> Path:
    return user_dir(user_id) / str(photo_id)


def blob_name(variant: str, index: int = 0) -> str:
    return f"{variant}-{int(index)}{SUFFIX}"


def blob_path(user_id, photo_id, variant: str, index: int = 0) -> Path:
    return photo_dir(user_id, photo_id) / blob_name(variant, index)


def blob_context(user_id, photo_id, variant: str, index: int = 0) -> BlobContext:
    return BlobContext(
        user_id=str(int(user_id)), photo_id=str(photo_id), variant=variant, index=index
    )


def ensure_photo_dir(user_id, photo_id) -> Path:
    directory = photo_dir(user_id, photo_id)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def remove_stale_temporaries(user_id, photo_id) -> int:
    """Remove half-written blobs a killed process left behind; return how many."""
    directory = photo_dir(user_id, photo_id)
    removed = 0
    if directory.is_dir():
        for path in directory.glob(f".*{TEMP_SUFFIX}"):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def remove_photo_dir(user_id, photo_id) -> None:
    shutil.rmtree(photo_dir(user_id, photo_id), ignore_errors=True)


def remove_user_dir(user_id) -> None:
    shutil.rmtree(user_dir(user_id), ignore_errors=True)
