"""Delete for good every photo that has been in the trash for 30 days. Run daily: in
production by systemd's vault-trash-expire.timer (systemd/), by hand with
`manage.py vault_trash_expire`."""

from django.core.management.base import BaseCommand

from vault.photos.trash import TRASH_DAYS, trash_expire


class Command(BaseCommand):
    help = f"Delete for good the photos trashed {TRASH_DAYS} days ago or earlier."

    def handle(self, *args, **options):
        count = trash_expire()
        self.stdout.write(f"Deleted {count} photo(s) for good from the trash.")
