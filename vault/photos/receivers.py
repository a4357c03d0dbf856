"""Signal receivers: when a user's keys are destroyed (account deletion, or starting over
without the recovery key), their photos are unreadable for good, so rows and blobs go too."""

from django.dispatch import receiver

from vault.accounts.signals import account_keys_destroyed
from vault.photos import storage
from vault.photos.models import Photo


@receiver(account_keys_destroyed)
def _remove_photos_of_destroyed_keys(sender, user, **kwargs):
    Photo.objects.filter(owner=user).delete()
    storage.remove_user_blobs(user.pk)
