"""`manage.py export_training_set`: write one user's photos that carry labels the user confirmed,
decrypted, as a class-folder dataset (`<out>/<label>/<photo id>.jpg`) for the training notebooks
(DESIGN §7). Only confirmed labels are training signal: tags the model gave and the user left
alone are not exported, nor are the labels a user rejected."""

from __future__ import annotations

import getpass
import io
import os
import sys
from collections import Counter
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from PIL import Image, UnidentifiedImageError

from vault.accounts.models import User
from vault.accounts.services import keys_unlock_with_password
from vault.crypto import DecryptionError
from vault.photos.blobs import blob_open
from vault.photos.models import Blob, Photo, Tag

WARNING = (
    "WARNING: this writes DECRYPTED copies of {email}'s photos to {out}. Anyone who can read "
    "that folder sees them: keep it on this machine, and delete it when training is done."
)


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # mkdir's mode is filtered by the umask


def _write_private(path: Path, data: bytes) -> None:
    # O_EXCL and O_NOFOLLOW: never write through a file or link someone placed there first.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)


class Command(BaseCommand):
    help = (
        "Write a user's photos that carry user-confirmed labels, decrypted from their previews, "
        "as <out>/<label>/<photo id>.jpg (folders 0700, files 0600) for the training notebooks."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", required=True, help="email of the user whose photos to write")
        parser.add_argument(
            "--out", required=True, help="folder to create (it must not exist, or be empty)"
        )
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the user's password from standard input instead of prompting",
        )

    def handle(self, *args, user, out, password_stdin=False, **options):
        account = User.objects.filter(email__iexact=user).first()
        if account is None:
            raise CommandError(f"no user with the email {user}")
        out_dir = Path(out).expanduser()
        # An empty or new folder only: left-over files from an earlier export would keep labels
        # the user has since removed or rejected.
        if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
            raise CommandError(f"{out_dir} exists and is not an empty folder")
        self.stderr.write(WARNING.format(email=account.email, out=out_dir))
        if password_stdin:
            password_text = sys.stdin.readline().rstrip("\n")
        else:
            password_text = getpass.getpass(f"Password of {account.email}: ")
        try:
            private_key = keys_unlock_with_password(account, password_text).private_key
        except DecryptionError:
            raise CommandError("that password does not unlock this account") from None

        confirmed = (
            Tag.objects.filter(
                photo__owner=account,
                photo__state=Photo.State.READY,
                source=Tag.USER,
                rejected=False,
            )
            .order_by("photo_id", "label")
            .values_list("photo_id", "label")
        )
        labels_of: dict = {}
        for photo_id, label in confirmed:
            labels_of.setdefault(photo_id, []).append(label)
        previews = Blob.objects.filter(
            photo_id__in=labels_of, variant=Blob.Variant.PREVIEW, index=0
        ).select_related("photo")

        _private_dir(out_dir)
        counts: Counter[str] = Counter()
        problems = []
        written_photos = 0
        for blob in previews:
            try:
                with blob_open(blob, private_key=private_key) as reader:
                    data = reader.read_all()
                with Image.open(io.BytesIO(data)) as image:
                    image.verify()  # a training set of undecodable files helps nobody
            except (OSError, DecryptionError, UnidentifiedImageError) as error:
                reason = type(error).__name__
                problems.append(f"photo {blob.photo_id}: preview unreadable ({reason})")
                continue
            for label in labels_of[blob.photo_id]:
                _private_dir(out_dir / label)
                _write_private(out_dir / label / f"{blob.photo_id}.jpg", data)
                counts[label] += 1
            written_photos += 1
        missing = len(labels_of) - written_photos - len(problems)
        for problem in problems:
            self.stderr.write(problem)
        for label in Tag.Label.values:
            self.stdout.write(f"{label:>10}: {counts[label]}")
        self.stdout.write(
            f"{written_photos} photo(s) written to {out_dir}"
            + (f"; {missing} without a preview yet" if missing else "")
            + (f"; {len(problems)} unreadable" if problems else "")
        )
