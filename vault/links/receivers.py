"""A photo moved to the trash leaves every link at once (its DK wraps under each link go)."""

from __future__ import annotations

from django.dispatch import receiver

from vault.links.models import LinkPhoto
from vault.photos.trash import photos_trashed


@receiver(photos_trashed)
def _leave_links(sender, user, photo_ids, **kwargs):
    LinkPhoto.objects.filter(photo_id__in=photo_ids).delete()
