"""Live Photos (DESIGN §12, docs/video.md): an iPhone still and its MOV uploaded in one batch
become one item, the still, with the MOV as its `motion` blob.

The upload page gives each batch a random id (sent with every file, also on the resumable
path); a one-request upload without one is its own batch. Each still (JPEG, HEIC) and each
QuickTime MOV stored gets a LiveCandidate row holding two HMACs under the owner's Live-pairing
key: one of (batch, base name), one of (batch, content identifier) when the file has one
(vault/photos/live_identifiers.py). The files of a batch arrive in any order, in separate
requests, two at a time: whichever half is stored second finds the first by an equal HMAC (the
content identifier first; the base name when the two do not both carry different identifiers),
under a per-owner lock, and pairs them there, in the owner's request: the MOV's plaintext is
read in memory (a Live Photo's MOV is a few MB; larger QuickTime files are never candidates),
encrypted under the still's data key as its `motion` blob, and the MOV's item deleted. A half
whose partner never arrives (rejected, not chosen) stays an ordinary item.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import posixpath
import re
import uuid

from django.db import connection, transaction

from vault.accounts.keyring import Keyring
from vault.crypto import keys
from vault.photos import blobs
from vault.photos.live_identifiers import mov_content_identifier, still_content_identifier_at
from vault.photos.models import Blob, LiveCandidate, Photo

log = logging.getLogger(__name__)

STILL_TYPES = ("image/jpeg", "image/heic")
MOTION_TYPE = "video/quicktime"
# An iPhone's Live Photo MOV is about 3 s, 2-5 MB; a QuickTime file beyond this is a video.
MOTION_MAX_BYTES = 64 * 1024 * 1024
_BATCH = re.compile(r"^[A-Za-z0-9-]{8,64}$")


_VIDEO_EXTENSIONS = {"video/quicktime": ".mov", "video/mp4": ".mp4"}


def motion_name(photo_name: str, media_type: str) -> str:
    """The video's name beside its photo's: "IMG_0001.HEIC" → "IMG_0001.MOV" (an iPhone names
    the pair so), "PXL_1.MP.jpg" → "PXL_1.MP.mp4"."""
    stem, dot, extension = photo_name.rpartition(".")
    stem = stem if dot else photo_name
    video = _VIDEO_EXTENSIONS.get(media_type, ".mp4")
    return stem + (video.upper() if dot and extension.isupper() else video)


def batch_id(value: str | None) -> str:
    """The upload batch a request belongs to: the page's id when well-formed, else a fresh
    one (the request is its own batch)."""
    if value and _BATCH.match(value):
        return value
    return uuid.uuid4().hex


def _mac(keyring: Keyring, *parts: str) -> bytes:
    message = b"\x00".join(part.encode("utf-8", "replace") for part in parts)
    return hmac.new(keys.live_pair_key(keyring.metadata_key), message, hashlib.sha256).digest()


def _base_name(name: str) -> str:
    """ "IMG_0001" of "IMG_0001.HEIC" or "img_0001.mov" (case-insensitive, path dropped)."""
    base = posixpath.basename(name.replace("\\", "/"))
    stem, _dot, _extension = base.rpartition(".")
    return (stem or base).casefold()


def _content_identifier(photo: Photo, keyring: Keyring) -> str | None:
    original = photo.blobs.get(variant=Blob.Variant.ORIGINAL)
    with blobs.blob_open(original, private_key=keyring.private_key) as reader:
        if photo.media_type == MOTION_TYPE:
            return mov_content_identifier(
                lambda start, end: b"".join(reader.iter_plaintext(start, end)),
                reader.plaintext_length,
            )
        # Only the Exif (a few KiB at the start of a JPEG, an item a HEIC's meta box locates):
        # the rest of the picture is not decrypted again.
        return still_content_identifier_at(
            lambda start, end: b"".join(reader.iter_plaintext(start, end)),
            reader.plaintext_length,
        )


def live_candidate_record(*, keyring: Keyring, photo: Photo, name: str, batch: str) -> bool:
    """Note a just-stored still or MOV as one half of a possible Live Photo of `batch`;
    False (nothing kept) for any other file."""
    is_motion = photo.media_type == MOTION_TYPE and photo.size <= MOTION_MAX_BYTES
    if not is_motion and photo.media_type not in STILL_TYPES:
        return False
    try:
        identifier = _content_identifier(photo, keyring)
    except Exception:  # a half that cannot be read pairs by name, if at all
        log.warning("photo %s: its content identifier could not be read", photo.id)
        identifier = None
    LiveCandidate.objects.create(
        photo=photo,
        owner_id=photo.owner_id,
        is_motion=is_motion,
        name_mac=_mac(keyring, "name", batch, _base_name(name)),
        identifier_mac=_mac(keyring, "identifier", batch, identifier) if identifier else None,
    )
    return True


def _owner_lock(owner_id: int) -> None:
    """Pairing of one owner's halves, one request at a time (both halves may be stored at
    once by two requests: each must see the other's row, and only one may pair them)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x11FE, owner_id])


def _partner(me: LiveCandidate) -> LiveCandidate | None:
    others = LiveCandidate.objects.select_related("photo").filter(
        owner_id=me.owner_id,
        is_motion=not me.is_motion,
        merged_from__isnull=True,
        photo__trashed_at__isnull=True,
    )
    if me.identifier_mac is not None:
        found = others.filter(identifier_mac=me.identifier_mac).order_by("created_at").first()
        if found is not None:
            return found
    by_name = others.filter(name_mac=me.name_mac)
    if me.identifier_mac is not None:  # two different shots that happen to share a name
        by_name = by_name.filter(identifier_mac__isnull=True)
    return by_name.order_by("created_at").first()


def live_pair(*, user, keyring: Keyring, photo_id) -> Photo | None:
    """Pair the just-stored half `photo_id` with its other half if that is stored already;
    returns the Live item (the still) when they were paired, else None."""
    from vault.photos import scheduling, services

    with transaction.atomic():
        _owner_lock(user.pk)
        me = (
            LiveCandidate.objects.select_related("photo")
            .filter(photo_id=photo_id, owner=user, merged_from__isnull=True)
            .first()
        )
        partner = _partner(me) if me is not None else None
        if partner is None:
            return None
        still, motion = (partner, me) if me.is_motion else (me, partner)
        with blobs.blob_open(
            motion.photo.blobs.get(variant=Blob.Variant.ORIGINAL), private_key=keyring.private_key
        ) as reader:
            clip = reader.read_all()
        blobs.blob_write(
            photo=still.photo,
            variant=Blob.Variant.MOTION,
            data=clip,
            data_key=blobs.original_data_key(still.photo, private_key=keyring.private_key),
            owner_public_key=keyring.public_key,
            media_type=MOTION_TYPE,
            width=motion.photo.width,
            height=motion.photo.height,
        )
        del clip
        merged = motion.photo_id
        services.photos_delete(user=user, photo_ids=[merged])
        LiveCandidate.objects.filter(pk=still.pk).update(
            merged_from=merged,
            motion_content_mac=bytes(motion.photo.content_mac),
            name_mac=None,
            identifier_mac=None,
            motion_ready=False,
        )
        if still.photo.state == Photo.State.READY:
            # Processed before its MOV arrived: once more, for the motion's rendition. (One
            # that is processing may have passed that step: live_motions_unchecked catches it.)
            scheduling.photo_process_again(photo=still.photo, keyring=keyring)
    log.info("user %s: photo %s is Live, with the video of %s", user.pk, still.photo_id, merged)
    return still.photo


def live_motion_checked(photo_id) -> None:
    """The worker has made the joined video's rendition (or found none needed or possible)."""
    LiveCandidate.objects.filter(photo_id=photo_id, merged_from__isnull=False).update(
        motion_ready=True
    )


def live_motions_unchecked(*, user, limit: int):
    """The user's ready Live items whose joined video the worker has not looked at yet (the
    video joined while the still was being processed, after its motion step)."""
    return Photo.objects.filter(
        owner=user,
        state=Photo.State.READY,
        live_candidate__merged_from__isnull=False,
        live_candidate__motion_ready=False,
    )[:limit]


def live_item_with_motion(*, user, content_mac: bytes):
    """The id of the user's Live item whose video has this content MAC (a MOV uploaded again),
    else None."""
    return (
        LiveCandidate.objects.filter(owner=user, motion_content_mac=content_mac)
        .values_list("photo_id", flat=True)
        .first()
    )


def live_merged_into(*, user, photo_ids) -> dict[str, str]:
    """{former MOV id: its Live item's id} for the ids that became another item's motion."""
    rows = LiveCandidate.objects.filter(owner=user, merged_from__in=photo_ids)
    return {str(row.merged_from): str(row.photo_id) for row in rows}
