"""`manage.py migrate`, all or nothing: Django's own command, run inside one transaction.

Django wraps each migration in a transaction of its own, so a run that fails in its third
migration keeps the first two: a schema that neither the old release nor the new one knows, and
a vault that neither starts. PostgreSQL's DDL is transactional, so one transaction around the
whole run leaves the database exactly as it was when any migration fails (the old release still
runs on it; `tests/upgrade/test_migration_failure.py` proves it). Every `manage.py migrate` gets
this: `make run`, the deploy's upgrade step, `vault_restore` and the test database.

A migration that cannot run inside a transaction (CREATE INDEX CONCURRENTLY) fails loudly here;
the vault has none (`test_every_vault_migration_is_atomic`).
"""

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import transaction


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " All or nothing: the whole run is one transaction."

    def handle(self, *args, **options):
        with transaction.atomic(using=options["database"]):
            return super().handle(*args, **options)
