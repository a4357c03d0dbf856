"""Albums, their members, their keys and their photos (docs/sharing.md).

Nothing here is readable without an album key AK: names and descriptions are sealed under AK,
AK is stored only HPKE-wrapped to each member (the owner included), and a photo enters an album
as its data key sealed under AK. Plaintext by design: who is a member with which role, which
photo is in which album, who added it and when, and the key version.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from vault.photos.models import Photo


class Album(models.Model):
    class Kind(models.TextChoices):
        ALBUM = "album", "Album"
        # Partner sharing: the implicit album "everything of the owner" (docs/sharing.md)
        PARTNER = "partner", "Whole library"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.ALBUM)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="albums_owned"
    )
    # The version of AK that every wrap and seal of this album uses now (docs/sharing.md).
    key_version = models.PositiveIntegerField(default=1)
    # A member left: AK must change before anything more enters the album (the owner's next
    # signed-in visit, or the next add, rotates).
    rotation_due = models.BooleanField(default=False)
    name_sealed = models.BinaryField()
    description_sealed = models.BinaryField()
    # Whether members see each photo's place (a sealed copy of latitude/longitude).
    include_locations = models.BooleanField(default=False)
    cover = models.ForeignKey(
        Photo, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"album {self.id}"


class AlbumMember(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        CONTRIBUTOR = "contributor", "Contributor"
        VIEWER = "viewer", "Viewer"

    album = models.ForeignKey(Album, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="album_memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    added_at = models.DateTimeField(default=timezone.now)
    # A partner share only: the partner's gallery lists the owner's photos (their toggle).
    in_gallery = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["album", "user"], name="album_member_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.user_id} of {self.album_id}"

    @property
    def can_add(self) -> bool:
        return self.role in (self.Role.OWNER, self.Role.CONTRIBUTOR)


class AlbumKeyWrap(models.Model):
    """AK of one version, HPKE-wrapped to one member's public key (info: album, member, version)."""

    album = models.ForeignKey(Album, on_delete=models.CASCADE, related_name="key_wraps")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    wrapped_key = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["album", "user", "version"], name="album_key_wrap_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"key v{self.version} of {self.album_id} for {self.user_id}"


class AlbumPhoto(models.Model):
    """A photo in an album: its DK sealed under AK, and the fields members may see, sealed
    under AK as album-level copies (so members never need the owner's metadata key)."""

    album = models.ForeignKey(Album, on_delete=models.CASCADE, related_name="entries")
    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="album_entries")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)
    key_version = models.PositiveIntegerField()
    wrapped_data_key = models.BinaryField()
    name_sealed = models.BinaryField()
    place_sealed = models.BinaryField(null=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["album", "photo"], name="album_photo_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.photo_id} in {self.album_id}"


class TrashedAlbumEntry(models.Model):
    """An album a photo was in when it went to the trash, so that restoring puts it back. Its
    AlbumPhoto (the DK wrap and sealed copies) is deleted at once; restoring seals afresh."""

    album = models.ForeignKey(Album, on_delete=models.CASCADE, related_name="+")
    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="+")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    was_cover = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["album", "photo"], name="trashed_album_entry_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.photo_id} (trashed) of {self.album_id}"
