"""Sharing an album of 1,000 photos, removing a member (key rotation), and the member's first
album page against the owner's.

Run: .venv/bin/python bench/sharing.py   (a few minutes: it starts a throwaway PostgreSQL and
Valkey and writes 1,000 small encrypted photos)

Rows, each the median of RUNS runs taken in turns:
- add 1,000 photos to an album (the owner unwraps each DK from its original and seals it,
  its name and no place under AK);
- share the album with one member (one HPKE wrap of AK); target <= 2 s;
- remove that member: rotation re-seals 1,000 DKs and names under a new AK, in one
  transaction; target <= 5 s;
- the album's first page (HTML, then its first 20 thumbnails, decrypted) as the member, as the
  owner, and the owner's own gallery's first page (20 thumbnails opened through their own
  private key: the baseline); target: member within 1.2x of the owner.
Pages go through Django's test client in this process (views, database, decryption; no
network). Not a test: the numbers depend on the machine and on what else runs.
"""

import io
import os
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vaultdev.report import print_table  # noqa: E402
from vaultdev.services import throwaway_vault  # noqa: E402

RUNS = 5
PHOTOS = 1000
THUMBS = 20
OWNER_PASSWORD = "correct horse battery staple 42"  # noqa: S105 - a sample, not a secret
MEMBER_PASSWORD = "member passphrase of nine words 9"  # noqa: S105


def _jpeg(seed: int) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (400, 300), (seed % 256, (seed * 7) % 256, 90)).save(out, "JPEG")
    return out.getvalue()


def _photos(owner, keyring) -> None:
    """PHOTOS ready photos of the owner: an original and a thumbnail each, encrypted."""
    import datetime as dt
    import os as _os

    from django.utils import timezone

    from vault.crypto import container, seal
    from vault.photos import blobs
    from vault.photos.models import Photo
    from vault.photos.sealing import name_aad

    start = timezone.now()
    for i in range(PHOTOS):
        data = _jpeg(i)
        photo = Photo(
            owner=owner,
            state=Photo.State.READY,
            media_type="image/jpeg",
            size=len(data),
            width=400,
            height=300,
            content_mac=_os.urandom(32),
            shown_at=start - dt.timedelta(minutes=i),
        )
        photo.name_sealed = seal.seal(
            keyring.metadata_key, f"IMG_{i:04}.jpg".encode(), name_aad(photo.id)
        )
        photo.save()
        dk = container.new_data_key()
        for variant in ("original", "thumb"):
            blobs.blob_write(
                photo=photo,
                variant=variant,
                data=data,
                data_key=dk,
                owner_public_key=keyring.public_key,
                media_type="image/jpeg",
                width=400,
                height=300,
            )


def _page(client, url: str, thumb_pattern: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    thumbs = re.findall(thumb_pattern, response.content.decode())[:THUMBS]
    assert len(thumbs) == THUMBS, len(thumbs)
    for thumb in thumbs:
        got = client.get(thumb)
        assert got.status_code == 200
        b"".join(got.streaming_content)


def measure() -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    setup_test_environment()  # "testserver" as a host, mail kept in memory for the codes
    from vault.accounts.keyring import Keyring
    from vault.accounts.services import account_create, keys_unlock_with_password
    from vault.albums import services
    from vault.albums.models import AlbumMember
    from vaultdev.signin import sign_in

    call_command("migrate", verbosity=0)
    owner, _ = account_create(
        name="Olive", email="olive@example.org", password=OWNER_PASSWORD, email_verified=True
    )
    member, _ = account_create(
        name="Mia", email="mia@example.org", password=MEMBER_PASSWORD, email_verified=True
    )
    unlocked = keys_unlock_with_password(owner, OWNER_PASSWORD)
    ring = Keyring(user_id=owner.pk, umk=unlocked.umk, private_key=unlocked.private_key)
    started = time.perf_counter()
    _photos(owner, ring)
    setup_s = time.perf_counter() - started
    ids = list(owner.photos.values_list("id", flat=True))

    adds, shares, rotations = [], [], []
    album = None
    for run in range(RUNS):
        if album is not None:
            services.album_delete(album=album)
        album = services.album_create(owner=owner, keyring=ring, name=f"Bench {run}")
        t0 = time.perf_counter()
        services.album_photos_add(album=album, keyring=ring, user=owner, photo_ids=ids)
        t1 = time.perf_counter()
        services.album_member_add(album=album, keyring=ring, email=member.email, role="viewer")
        t2 = time.perf_counter()
        album.refresh_from_db()
        row = AlbumMember.objects.get(album=album, user=member)
        services.album_member_remove(album=album, keyring=ring, member=row)
        t3 = time.perf_counter()
        adds.append(t1 - t0)
        shares.append(t2 - t1)
        rotations.append(t3 - t2)
    album.refresh_from_db()
    services.album_member_add(album=album, keyring=ring, email=member.email, role="viewer")

    owner_client, member_client = Client(), Client()
    sign_in(owner_client, owner, OWNER_PASSWORD)
    sign_in(member_client, member, MEMBER_PASSWORD)
    album_url = reverse("albums:detail", args=[album.id])
    album_thumbs = rf"/albums/{album.id}/photos/[0-9a-f-]+/thumb"
    pages = {
        "owner's gallery, first page + 20 thumbnails (baseline)": lambda: _page(
            owner_client, reverse("photos:gallery"), r"/photos/[0-9a-f-]+/thumb"
        ),
        "album page + 20 thumbnails, as the owner": lambda: _page(
            owner_client, album_url, album_thumbs
        ),
        "album page + 20 thumbnails, as the member": lambda: _page(
            member_client, album_url, album_thumbs
        ),
    }
    for fn in pages.values():
        fn()  # warm-up
    times = {name: [] for name in pages}
    for _ in range(RUNS):
        for name, fn in pages.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"sharing an album of {PHOTOS} photos — {os.cpu_count()} CPUs (load {load}), "
        f"median of {RUNS} runs (setup: {setup_s:.0f} s to write the photos)"
    )
    print()
    ms = {name: statistics.median(series) * 1000 for name, series in times.items()}
    baseline = next(iter(ms.values()))
    owner_album = ms["album page + 20 thumbnails, as the owner"]
    rows = [
        (f"add {PHOTOS} photos to an album", f"{statistics.median(adds) * 1000:.0f}", "", ""),
        (
            "share with one member (target <= 2000 ms)",
            f"{statistics.median(shares) * 1000:.0f}",
            "",
            "",
        ),
        (
            f"remove the member: rotation of {PHOTOS} (target <= 5000 ms)",
            f"{statistics.median(rotations) * 1000:.0f}",
            "",
            "",
        ),
    ]
    rows += [
        (name, f"{value:.0f}", f"{value / baseline:.2f}x", f"{value / owner_album:.2f}x")
        for name, value in ms.items()
    ]
    print_table(("operation", "ms", "vs gallery", "vs owner's album page"), rows)


def main() -> None:
    with throwaway_vault("spvs-"):
        measure()


if __name__ == "__main__":
    main()
