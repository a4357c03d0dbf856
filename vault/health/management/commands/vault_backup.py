"""`manage.py vault_backup`: take a snapshot (database dump + blobs) and keep the newest N.

Run daily by `vault-backup.timer`; a failure exits non-zero (the unit fails, the journal says
why) and shows in /healthz.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from vault.backup import BackupError, backup_create


class Command(BaseCommand):
    help = "Back up the database and the encrypted blobs into a new snapshot directory."

    def add_arguments(self, parser):
        parser.add_argument("--dir", type=Path, help="backup directory (default: VAULT_BACKUP_DIR)")
        parser.add_argument(
            "--keep", type=int, help="snapshots to keep (default: VAULT_BACKUP_KEEP)"
        )

    def handle(self, *args, dir=None, keep=None, **options):
        root = dir or settings.VAULT_BACKUP_DIR
        if root is None:
            raise CommandError("no backup directory: set VAULT_BACKUP_DIR or pass --dir")
        keep = keep or settings.VAULT_BACKUP_KEEP
        try:
            snapshot = backup_create(root=Path(root), keep=keep)
        except BackupError as error:
            raise CommandError(f"backup failed: {error}") from None
        self.stdout.write(
            f"ok: {snapshot.path} (vault {snapshot.vault_version}): "
            f"database {snapshot.dump_bytes} bytes, "
            f"{snapshot.blob_count} blob(s) of {snapshot.blob_bytes} bytes; "
            f"keeping the newest {keep}"
        )
