"""`manage.py vault_restore SNAPSHOT`: restore a backup into a fresh database and data directory,
bring the schema up to date and check every blob (`vault_check`). Says what it did."""

from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from vault.backup import BackupError, backup_restore
from vault.blobstore import get_store
from vault.blobstore.local import LocalStore
from vault.version import vault_version


class Command(BaseCommand):
    help = (
        "Restore a snapshot made by vault_backup into the configured (empty) database and "
        "blob store (VAULT_DATA_DIR without blobs, or an empty bucket), run the migrations, "
        "then vault_check."
    )

    def add_arguments(self, parser):
        parser.add_argument("snapshot", type=Path, help="a snapshot directory of vault_backup")

    def handle(self, *args, snapshot: Path, **options):
        data_dir = Path(settings.VAULT_DATA_DIR)
        db = connection.settings_dict
        where = f"database {db['NAME']!r}" + (f" on {db['HOST']}" if db.get("HOST") else "")
        store = get_store()
        blobs_into = data_dir if isinstance(store, LocalStore) else f"the empty bucket of {store!r}"
        self.stdout.write(f"restoring {snapshot} into {where} and {blobs_into}")
        try:
            restored = backup_restore(snapshot.resolve(), data_dir=data_dir)
        except BackupError as error:
            raise CommandError(f"restore failed: {error}") from None
        self.stdout.write(
            f"restored the database dump ({restored.dump_bytes} bytes, taken "
            f"{restored.created_at:%Y-%m-%d %H:%M:%S %Z}) and {restored.blob_count} blob(s) "
            f"({restored.blob_bytes} bytes)"
        )
        made_by = restored.vault_version or "a release before 0.3.0"
        self.stdout.write(
            f"bringing the schema of vault {made_by} up to date for vault {vault_version()} "
            "(migrate, all or nothing)"
        )
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("checking every blob against its row (vault_check)")
        call_command("vault_check", stdout=self.stdout, stderr=self.stderr)
        self.stdout.write(
            "done: users sign in with their passwords as before, provided this server has the "
            "same Argon2 pepper (VAULT_PEPPER_FILE) as the one that was backed up"
        )
