"""`manage.py vault_check`: re-verify stored blobs and list orphans, in the local directory or
the object store alike (see vault.photos.sanity)."""

from __future__ import annotations

import getpass
import sys

from django.core.management.base import BaseCommand, CommandError

from vault.accounts.models import User
from vault.accounts.services import keys_unlock_with_password
from vault.crypto import DecryptionError
from vault.photos.sanity import sweep


class Command(BaseCommand):
    help = (
        "Check every blob in the blob store against its row (structure and exact size), list "
        "orphans and discard partial writes abandoned for a day. With --user, ask for that "
        "user's password and also verify every header MAC."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", help="email of the user whose blobs to check")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the user's password from standard input instead of prompting",
        )
        parser.add_argument(
            "--no-password", action="store_true", help="with --user: structure checks only"
        )
        parser.add_argument(
            "--chunks", action="store_true", help="with a password: decrypt every chunk too"
        )

    def handle(
        self, *args, user=None, password_stdin=False, no_password=False, chunks=False, **options
    ):
        user_ids = None
        private_keys = {}
        if user:
            account = User.objects.filter(email__iexact=user).first()
            if account is None:
                raise CommandError(f"no user with the email {user}")
            user_ids = {account.pk}
            if not no_password:
                if password_stdin:
                    password_text = sys.stdin.readline().rstrip("\n")
                else:
                    password_text = getpass.getpass(f"Password of {account.email}: ")
                try:
                    unlocked = keys_unlock_with_password(account, password_text)
                except DecryptionError:
                    raise CommandError("that password does not unlock this account") from None
                private_keys[account.pk] = unlocked.private_key
        try:
            report = sweep(user_ids=user_ids, private_keys=private_keys, chunks=chunks)
        except OSError as error:  # the store could not be listed or read (StoreError)
            raise CommandError(f"cannot check the blob store: {error}") from None
        for note in report.notes:
            self.stdout.write(note)
        for problem in report.problems:
            self.stdout.write(problem)
        summary = f"{report.checked} blob(s) checked, {report.verified} authenticated"
        if not report.ok:
            raise CommandError(f"{summary}; {len(report.problems)} problem(s)")
        self.stdout.write(f"ok: {summary}, no orphans")
