"""Photos, their encrypted blobs, their tags, and the processing grants that let a worker read
them (DESIGN §4, §6).

What is plaintext here is plaintext by design (DESIGN §4): state, dimensions, capture date,
tag labels and scores. Filenames, camera and GPS are sealed under the owner's metadata key.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from vault.photos.fields import WallClockField

# The gallery's order, newest first: capture time (else upload time; microseconds, so a burst
# keeps its sub-second order), then upload time (photos taken in the same instant stay in the
# order they were uploaded), then the id, so that the order is total and never changes between
# two queries: paging and the photo page's newer/older links rely on it.
GALLERY_ORDER = ("-shown_at", "-uploaded_at", "-id")


def wall_clock_now() -> dt.datetime:
    """Now on the server's clock (TIME_ZONE), without a time zone: an upload's local time."""
    return timezone.localtime().replace(tzinfo=None)


class Photo(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", "Queued for processing"
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        PHOTO = "photo", "Photo"
        VIDEO = "video", "Video"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="photos"
    )
    # A video is a Photo too (DESIGN §12): same blobs, grants and pages, plus a duration.
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PHOTO)
    duration = models.FloatField(null=True, blank=True)  # seconds, a video's, from its container
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    progress = models.PositiveSmallIntegerField(default=0)  # percent, while processing
    failure_reason = models.TextField(blank=True)
    # Processing runs started since the owner last asked for one (upload or retry button): a
    # photo that kills its worker every time (out of memory) must not be tried forever.
    attempts = models.PositiveSmallIntegerField(default=0)
    media_type = models.CharField(max_length=32)
    size = models.BigIntegerField()  # bytes of the original
    width = models.PositiveIntegerField(null=True)
    height = models.PositiveIntegerField(null=True)
    taken_at = models.DateTimeField(null=True)  # from EXIF, when the photo says
    uploaded_at = models.DateTimeField(default=timezone.now)
    # The gallery's order and month: capture date when known, else upload date.
    shown_at = models.DateTimeField(default=timezone.now)
    # The same moment as the camera's clock showed it (naive): what the gallery shows, groups
    # by month and filters by. With `taken_offset` it is shown_at at that offset; without it,
    # shown_at in the server's TIME_ZONE (a camera that wrote no offset, or the upload time).
    shown_local = WallClockField(default=wall_clock_now)
    # Minutes east of UTC of the camera's clock (EXIF OffsetTime*, XMP, IPTC); None when the
    # photo does not say (then a GPS or "Z" time is read in TIME_ZONE like a bare one).
    taken_offset = models.SmallIntegerField(null=True)
    # HMAC-SHA-256 of the original under the owner's metadata key: finds duplicates without
    # keeping a plain hash that would confirm a known photo.
    content_mac = models.BinaryField(max_length=32)
    name_sealed = models.BinaryField()
    exif_sealed = models.BinaryField(null=True)
    processed_at = models.DateTimeField(null=True)
    # The model id (name@sha256 prefix) whose tags the photo carries; "" when not tagged yet.
    # A photo tagged by another model than the active one is re-tagged on its owner's visit.
    tagged_by = models.CharField(max_length=80, blank=True, default="")
    # The face models ("<detector id>+<embedder id>") that looked for faces in it; "" when none
    # has. Like tagged_by: a photo not seen by the active models is looked at on the owner's
    # visit ("failed:" + id when they could not read it).
    faces_by = models.CharField(max_length=120, blank=True, default="")
    # An animated WebP or APNG: its thumbnails show one frame (worker/pictures.py), the original
    # plays. Plaintext like the media type and dimensions: it says nothing about the content.
    animated = models.BooleanField(default=False)
    # In the trash since then (docs/sharing.md): out of the gallery, every album and share;
    # deleted for good after TRASH_DAYS (vault/albums/trash.py).
    trashed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["owner", "content_mac"], name="photo_unique_content"),
        ]
        indexes = [
            models.Index(fields=["owner", *GALLERY_ORDER], name="photo_gallery"),
            # The owner-visit work looks for the few photos still pending or processing.
            models.Index(fields=["owner", "state"], name="photo_owner_state"),
            # The model status counts the ready photos each active model has yet to see: an
            # index-only scan of this narrow index, not of the table and its sealed fields.
            models.Index(
                fields=["owner", "tagged_by", "faces_by"],
                condition=models.Q(state="ready"),
                name="photo_ready_stamps",
            ),
            # The gallery's date filter reads the local capture time.
            models.Index(fields=["owner", "shown_local"], name="photo_local_date"),
            # The trash page and the people pages (which leave out faces of trashed photos)
            # find the owner's few trashed photos without reading the others.
            models.Index(
                fields=["owner", "trashed_at"],
                condition=models.Q(trashed_at__isnull=False),
                name="photo_trashed",
            ),
        ]
        ordering = list(GALLERY_ORDER)

    def __str__(self) -> str:
        return f"photo {self.id}"

    @property
    def is_video(self) -> bool:
        return self.kind == self.Kind.VIDEO

    @property
    def motion_clip(self) -> bool:
        """Whether the worker found a motion clip in this photo (one query)."""
        return self.blobs.filter(variant=Blob.Variant.MOTION).exists()

    @property
    def duration_label(self) -> str:
        """ "1:05" or "1:02:03" for a video's duration; "" when unknown."""
        if self.duration is None:
            return ""
        minutes, seconds = divmod(round(self.duration), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"

    @property
    def taken_offset_label(self) -> str:
        """ "UTC+02:00" for the camera clock's offset; "" when the photo does not say."""
        if self.taken_offset is None:
            return ""
        sign = "+" if self.taken_offset >= 0 else "-"
        hours, minutes = divmod(abs(self.taken_offset), 60)
        return f"UTC{sign}{hours:02d}:{minutes:02d}"


class Blob(models.Model):
    """One SPV1 file on disk. Its path follows from (owner, photo, variant, index)."""

    class Variant(models.TextChoices):
        ORIGINAL = "original"
        THUMB = "thumb"
        PREVIEW = "preview"
        FACE = "face"
        # A video the browser can play, made by the worker when the original is not (§12).
        RENDITION = "rendition"
        # The clip of a motion photo (a JPEG/HEIC with an MP4 inside), found by the worker.
        MOTION = "motion"

    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="blobs")
    variant = models.CharField(max_length=16, choices=Variant.choices)
    index = models.PositiveIntegerField(default=0)
    media_type = models.CharField(max_length=32)
    size = models.BigIntegerField()  # plaintext bytes
    width = models.PositiveIntegerField(null=True)
    height = models.PositiveIntegerField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["photo", "variant", "index"], name="blob_unique_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.variant}-{self.index} of {self.photo_id}"


class Tag(models.Model):
    class Label(models.TextChoices):
        HUMAN = "human", "Human"
        LANDSCAPE = "landscape", "Landscape"
        ANIMAL = "animal", "Animal"
        VEHICLE = "vehicle", "Vehicle"
        FRUIT = "fruit", "Fruit"
        OTHER = "other", "Other"

    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="tags")
    label = models.CharField(max_length=16, choices=Label.choices)
    score = models.FloatField(default=1.0)
    # Which model (name@sha256 prefix) tagged it, or USER for a correction.
    source = models.CharField(max_length=80)
    # A user's "not this label": kept (source USER) so that no re-run of the tagger gives the
    # label back, and as a negative example for the next fine-tune. Never shown as a tag.
    rejected = models.BooleanField(default=False)

    USER = "user"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["photo", "label"], name="tag_unique_label"),
        ]

    def __str__(self) -> str:
        return self.label


class ProcessingGrant(models.Model):
    """DK and MK of one photo wrapped (HPKE) to one live worker's in-memory key (DESIGN §4).

    A worker that restarts has a new key, so grants to its old key are dead weight; the owner's
    next visit re-grants. The worker deletes the photo's grants when its job ends.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="grants")
    worker_key_id = models.CharField(max_length=16)  # hex SHA-256(pk_W)[:8]
    wrapped_data_key = models.BinaryField()
    wrapped_metadata_key = models.BinaryField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["photo", "worker_key_id"], name="grant_unique_worker"),
        ]

    def __str__(self) -> str:
        return f"grant {self.id} for {self.photo_id}"


class ResumableUpload(models.Model):
    """A file going up in pieces over several requests (the tus protocol, DESIGN §12). The
    pieces are encrypted straight into the future original's SPV1 blob (a staging file,
    vault/photos/resumable.py), whose data key is kept only wrapped to the owner's public key,
    so nothing of an unfinished upload is in clear. The last piece makes it a photo or video."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="resumable_uploads"
    )
    length = models.BigIntegerField()  # bytes the whole file has (tus Upload-Length)
    offset = models.BigIntegerField(default=0)  # bytes received and stored so far
    parts = models.PositiveIntegerField(default=0)  # SPV1 "part" blobs (the earlier format)
    # The photo the upload becomes: its staged original is encrypted for (user, photo_id,
    # "original") from the first piece on. Null for uploads begun before staging existed.
    photo_id = models.UUIDField(null=True)
    name_sealed = models.BinaryField()  # the file's name, sealed like Photo.name_sealed
    # The upload batch it belongs to (the page's random id, for Live Photo pairing), sealed.
    batch_sealed = models.BinaryField(null=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Once assembled: what happened to the file, as the upload page reports it.
    outcome = models.JSONField(null=True, blank=True)

    def __str__(self) -> str:
        return f"resumable upload {self.id}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("photos:resumable", args=[self.id])


class LiveCandidate(models.Model):
    """One half of a possible Live Photo (a still or its MOV) waiting for the other half of the
    same upload batch (vault/photos/live_photos.py). The base name and content identifier are
    kept only as HMACs under the owner's Live-pairing key, mixed with the batch's random id:
    nothing readable, nothing that links two batches. Once paired, the still's row keeps which
    MOV (by its former id) became its motion, so the upload page following that id finds it."""

    photo = models.OneToOneField(Photo, on_delete=models.CASCADE, related_name="live_candidate")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    is_motion = models.BooleanField()  # the MOV half (else the still)
    name_mac = models.BinaryField(max_length=32, null=True)
    identifier_mac = models.BinaryField(max_length=32, null=True)
    merged_from = models.UUIDField(null=True, blank=True)  # the MOV's id, once paired
    # The MOV's content MAC (like Photo.content_mac), once paired: the same MOV uploaded again
    # is a duplicate of this item, not a new video.
    motion_content_mac = models.BinaryField(max_length=32, null=True)
    # Whether the worker has looked at the joined video (made its rendition if a browser needs
    # one): until then the owner's visits have the still processed again (live_photos).
    motion_ready = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["owner", "name_mac"], name="live_name"),
            models.Index(fields=["owner", "identifier_mac"], name="live_identifier"),
            models.Index(fields=["owner", "merged_from"], name="live_merged"),
            models.Index(fields=["owner", "motion_content_mac"], name="live_motion_mac"),
        ]

    def __str__(self) -> str:
        return f"live candidate {self.photo_id}"


class LibraryChange(models.Model):
    """One change to an owner's photos or tags that the gallery's counts depend on (a photo
    added, deleted, processed or re-dated; a tag added, removed or rejected). Written by
    database triggers (migration 0009), so that every writer — web, worker, cascades — is
    seen; read by vault.photos.library_version to know when cached counts are stale. Holds
    nothing but the owner's id: no name, place or label."""

    id = models.BigAutoField(primary_key=True)
    # Not a foreign key: the triggers write it while an account's photos are being deleted.
    owner_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["owner_id", "id"], name="library_change_owner")]

    def __str__(self) -> str:
        return f"change {self.id} of user {self.owner_id}"
