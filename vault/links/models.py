"""Share links (docs/links.md). The link key LK is never here: a link row holds SHA-256 of the
access token derived from LK, its settings, and each shared photo's data key sealed under
another key derived from LK. Plaintext by design: which photos a link shows, its settings,
expiry and open count.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from vault.photos.models import Photo


class Link(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="links"
    )
    # The album the link was made from (for the owner's list only; the link is a snapshot of
    # its photos at that moment). Null for a selection.
    album = models.ForeignKey(
        "albums.Album", null=True, blank=True, on_delete=models.CASCADE, related_name="links"
    )
    token_hash = models.BinaryField()
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    allow_downloads = models.BooleanField(default=False)
    include_locations = models.BooleanField(default=False)
    # Access control only (Django's password hasher); the photos are not encrypted under it.
    password_hash = models.CharField(max_length=256, blank=True)
    open_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "id"]

    def __str__(self) -> str:
        return f"link {self.id}"

    def works(self, now=None) -> bool:
        now = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)


class LinkPhoto(models.Model):
    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="photos")
    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()
    wrapped_data_key = models.BinaryField()
    name_sealed = models.BinaryField()
    place_sealed = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["link", "position"]
        constraints = [
            models.UniqueConstraint(fields=["link", "photo"], name="link_photo_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.photo_id} in link {self.link_id}"
