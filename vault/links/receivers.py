"""A photo moved to the trash leaves every link at once (its DK wraps under each link go); so do
a member's photos when they leave an album or are removed from it, from every link made from
that album."""

from __future__ import annotations

from django.dispatch import receiver

from vault.albums.services import member_photos_taken_out
from vault.links.models import LinkPhoto
from vault.photos.trash import photos_trashed


@receiver(photos_trashed)
def _leave_links(sender, user, photo_ids, **kwargs):
    LinkPhoto.objects.filter(photo_id__in=photo_ids).delete()


@receiver(member_photos_taken_out)
def _member_photos_leave_album_links(sender, album, user_id, photo_ids, **kwargs):
    LinkPhoto.objects.filter(link__album=album, photo_id__in=photo_ids).delete()
