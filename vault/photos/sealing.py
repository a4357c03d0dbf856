"""Associated data for the photo fields sealed under the owner's metadata key (DESIGN §4): the
row id and the field name, so that a sealed value moved to another row or field fails to open.
Kept beside no queue or ML import, so that selectors and worker steps can use it cheaply."""

from __future__ import annotations

from vault.crypto import seal


def name_aad(photo_id) -> bytes:
    return seal.row_aad("photos_photo", str(photo_id), "name")


def exif_aad(photo_id) -> bytes:
    return seal.row_aad("photos_photo", str(photo_id), "exif")
