"""`manage.py vault_move_blobs`: copy a running vault's blobs from its local directory to the
object store, verified, resumable (vault.photos.blob_move; docs/object-store.md)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from vault.blobstore import get_store
from vault.blobstore.fallback import FallbackStore
from vault.photos.blob_move import MoveError, blobs_move

SWITCH_FIRST = (
    "switch the vault first: set VAULT_BLOB_STORE=s3, the VAULT_S3_* settings and "
    "VAULT_BLOB_FALLBACK_DIR={directory} for the web and every worker, restart them, then run "
    "this command with the same settings (docs/object-store.md)"
)


class Command(BaseCommand):
    help = (
        "Copy every blob from the local directory (VAULT_BLOB_FALLBACK_DIR) to the object "
        "store while the vault runs; verify each copy (size, SPV1 header, SHA-256 of the bytes "
        "read back); resumable; local copies are removed only with --remove-local."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--remove-local",
            action="store_true",
            help="delete each local file once its copy in the object store verified",
        )
        parser.add_argument(
            "--limit",
            type=int,
            help="copy at most this many objects in this run (run again to go on)",
        )

    def handle(self, *args, remove_local=False, limit=None, **options):
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        store = get_store()
        if not isinstance(store, FallbackStore):
            directory = settings.VAULT_BLOB_FALLBACK_DIR or f"{settings.VAULT_DATA_DIR}/blobs"
            raise CommandError(
                f"the vault's blob store is {store.kind!r} without a local read fallback: "
                + SWITCH_FIRST.format(directory=directory)
            )
        source, target = store.fallback, store.primary
        if not source.root.is_dir():
            raise CommandError(f"{source.root} does not exist: nothing to move from")
        probe = target.probe()
        if not probe["ok"]:
            raise CommandError(
                f"the object store is not usable: {probe.get('error') or 'probe failed'}"
            )
        self.stdout.write(
            f"moving blobs from {source.root} to {target!r}"
            + (" and removing each local copy once verified" if remove_local else "")
        )
        try:
            report = blobs_move(
                source=source,
                target=target,
                remove_local=remove_local,
                limit=limit,
                progress=lambda line: self.stdout.write(line, ending="\n"),
            )
        except MoveError as error:
            raise CommandError(f"move stopped: {error}; run it again to resume") from None
        except KeyboardInterrupt:  # Ctrl-C: what was copied stays; an unfinished upload never
            # becomes an object
            raise CommandError("interrupted; run it again to resume") from None
        for problem in report.problems:
            self.stdout.write(f"problem: {problem}")
        if report.vanished:
            self.stdout.write(f"{report.vanished} blob(s) were deleted by the vault meanwhile")
        if report.newer:
            self.stdout.write(
                f"{report.newer} blob(s) had been rewritten in the object store since the "
                "switch: kept those, the local copies were stale"
            )
        if report.left:
            self.stdout.write(f"stopped at --limit: {report.left} object(s) left for the next run")
        if report.busy:
            raise CommandError(
                f"{len(report.busy)} object(s) of photos a worker was processing were not "
                "moved; run the command again"
            )
        if report.problems:
            raise CommandError(f"{len(report.problems)} problem(s); see above")
        self.stdout.write(
            f"ok: {report.copied} copied, {report.already} already there, {report.newer} newer "
            f"in the object store, {report.removed_local} local copies removed"
            + ("" if report.left else "; every blob is in the object store")
        )
