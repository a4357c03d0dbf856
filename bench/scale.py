"""How fast the gallery, its polls and the people pages stay as one user's library grows.

Run: .venv/bin/python bench/scale.py                  (1k, 10k and 100k photos)
     .venv/bin/python bench/scale.py --sizes 1k,10k   (a quick run: a minute or two)

It builds one user's library per size in an embedded PostgreSQL — 1k photos and 50 people,
10k and 500, 100k and 5k — with the vault's own sealing helpers and key wraps: photos ready
over ten years with 1–2 tags each (up to date with the active tagger and face models, as in a
vault at rest), people with 20 faces each and their 20 embeddings as sealed exemplars, a fifth
of them named. No blob is written: no measured page reads one. Libraries are kept between runs
under `var/bench-scale/` (one database per size, migrated to the current code on each run), so
only the first run pays for the build (100k: a few minutes); `--rebuild` builds them again.

Then it signs the user in through the real login pages, advertises a worker key in Valkey as
a running worker does (so the owner-visit work runs as in production), and times each page
through Django's test client in this process: the median of RUNS after a warm-up, and the
number of SQL queries of one request. Two rows change one tag before each request (as the
worker tagging a photo or the owner correcting one does), so that they show what a page costs
when whatever it caches about the library is stale. The last column is the largest library's
time over the smallest's, measured in the same run: about 1x for a page whose cost does not
grow with the library. Targets (issue 25): every row under
150 ms at 100k on 2 cores, the "load more" fragment and the status polls under 50 ms.
Not a test: the numbers depend on the machine and on what else runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vaultdev.report import print_table  # noqa: E402
from vaultdev.services import start_postgres, start_valkey  # noqa: E402

RUNS = 5
PASSWORD = "bench scale passphrase that is long enough"  # noqa: S105 - a sample, not a secret
EMAIL = "scale@example.org"
# Bump when the library's shape changes: cached databases of another version are rebuilt.
BUILD_VERSION = "1"
SIZES = {"1k": (1_000, 50), "10k": (10_000, 500), "100k": (100_000, 5_000)}
FACES_PER_PERSON = 20
NAMED_EVERY = 5  # a fifth of the people are named
YEARS = 10
BATCH = 5_000
CACHE_DIR = ROOT / "var" / "bench-scale"
TARGET_MS = 150
FAST_TARGET_MS = 50  # the "load more" fragment and the status polls


# --- building a library ---------------------------------------------------------------------


def library_build(*, photos: int, people: int, seed: int = 25) -> None:
    """One user with `photos` ready photos and `people` people (FACES_PER_PERSON faces each),
    sealed under the user's real metadata key. Bulk inserts, BATCH rows at a time."""
    import numpy as np
    from django.db import connection, transaction

    from vault.accounts.services import account_create, keys_unlock_with_password
    from vault.crypto import seal
    from vault.crypto.keys import metadata_key
    from vault.people import sealing as people_sealing
    from vault.people.models import Face, PeopleState, Person
    from vault.photos.models import Photo, Tag
    from vault.photos.sealing import exif_aad, name_aad
    from vault.photos.seen_by import active_faces_id, active_tagger_id

    started = time.perf_counter()
    rng = random.Random(seed)
    vectors = np.random.default_rng(seed)
    user, _ = account_create(name="Scale", email=EMAIL, password=PASSWORD, email_verified=True)
    mk = metadata_key(keys_unlock_with_password(user, PASSWORD).umk)
    tagger_id, problem = active_tagger_id()
    faces_id, faces_problem = active_faces_id()
    if tagger_id is None or faces_id is None:
        raise SystemExit(f"no active models to stamp the photos with: {problem or faces_problem}")
    labels = list(Tag.Label.values)
    end = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    span = YEARS * 365 * 24 * 3600
    photo_ids = []
    for first in range(0, photos, BATCH):
        rows, tags = [], []
        for number in range(first, min(photos, first + BATCH)):
            photo_id = uuid.uuid4()
            photo_ids.append(photo_id)
            taken = end - dt.timedelta(
                seconds=rng.randrange(span), microseconds=rng.randrange(10**6)
            )
            exif = b'{"make": "Canon", "model": "EOS 80D", "exposure_time": "1/125"}'
            rows.append(
                Photo(
                    id=photo_id,
                    owner=user,
                    state=Photo.State.READY,
                    progress=100,
                    media_type="image/jpeg",
                    size=rng.randrange(1_000_000, 6_000_000),
                    width=4000,
                    height=3000,
                    taken_at=taken,
                    shown_at=taken,
                    shown_local=taken.replace(tzinfo=None),  # as if the camera's clock ran in UTC
                    uploaded_at=end + dt.timedelta(seconds=number),
                    processed_at=end + dt.timedelta(seconds=number),
                    content_mac=secrets.token_bytes(32),
                    name_sealed=seal.seal(mk, f"IMG_{number:06d}.jpg".encode(), name_aad(photo_id)),
                    exif_sealed=seal.seal(mk, exif, exif_aad(photo_id)),
                    tagged_by=tagger_id,
                    faces_by=faces_id,
                )
            )
            for label in rng.sample(labels, rng.choice((1, 2))):
                tags.append(
                    Tag(photo_id=photo_id, label=label, score=rng.uniform(0.3, 1), source=tagger_id)
                )
        with transaction.atomic():
            Photo.objects.bulk_create(rows, batch_size=BATCH)
            Tag.objects.bulk_create(tags, batch_size=BATCH)
    # Faces: each person's 20 faces on 20 distinct photos; a photo's faces get indexes 0, 1, ...
    next_index: dict[uuid.UUID, int] = {}
    batch_people, batch_faces = [], []
    for number in range(people):
        person_id = uuid.uuid4()
        centre = vectors.normal(0, 1, 128)
        embeddings = (centre + vectors.normal(0, 0.25, (FACES_PER_PERSON, 128))).astype("<f4")
        embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True) * 2  # dlib-like norms
        named = number % NAMED_EVERY == 0
        batch_people.append(
            Person(
                id=person_id,
                owner=user,
                name_sealed=(
                    people_sealing.name_seal(mk, person_id, f"Person {number:05d}")
                    if named
                    else None
                ),
                protected=named,
                exemplars_sealed=people_sealing.vectors_seal(
                    mk, embeddings.tobytes(), people_sealing.exemplars_aad(person_id)
                ),
            )
        )
        for embedding, photo_id in zip(
            embeddings, rng.sample(photo_ids, FACES_PER_PERSON), strict=True
        ):
            face_id = uuid.uuid4()
            index = next_index.get(photo_id, 0)
            next_index[photo_id] = index + 1
            batch_faces.append(
                Face(
                    id=face_id,
                    photo_id=photo_id,
                    owner=user,
                    index=index,
                    left=0.3,
                    top=0.2,
                    width=0.2,
                    height=0.25,
                    score=0.95,
                    embedding_sealed=people_sealing.vectors_seal(
                        mk, embedding.tobytes(), people_sealing.embedding_aad(face_id)
                    ),
                    person_id=person_id,
                    assigned_by=Face.AssignedBy.AUTO,
                    clustered=True,
                    detected_by=faces_id,
                )
            )
        if len(batch_faces) >= BATCH or number == people - 1:
            with transaction.atomic():
                Person.objects.bulk_create(batch_people, batch_size=BATCH)
                Face.objects.bulk_create(batch_faces, batch_size=BATCH)
            batch_people, batch_faces = [], []
    now = dt.datetime.now(dt.UTC)
    PeopleState.objects.update_or_create(
        owner=user,
        defaults={"needs_clustering": False, "changed_at": now, "clustered_at": now},
    )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # as autovacuum would: index-only scans need it
        cursor.execute("CREATE TABLE bench_scale_built (version text)")
        cursor.execute("INSERT INTO bench_scale_built VALUES (%s)", [BUILD_VERSION])
    print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)


def library_ready() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('bench_scale_built')")
        if cursor.fetchone()[0] is None:
            return False
        cursor.execute("SELECT version FROM bench_scale_built")
        row = cursor.fetchone()
    return row is not None and row[0] == BUILD_VERSION


def database_reset(pg, name: str) -> None:
    import psycopg

    with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_use(name: str, url: str) -> None:
    """Point Django's default connection at another database of the same server."""
    from django.conf import settings
    from django.db import connections

    from vault.env import database_from_url

    connections.close_all()
    settings.DATABASES["default"].update(database_from_url(url))
    settings.DATABASES["default"]["NAME"] = name


# --- measuring ------------------------------------------------------------------------------


def timed(client, url: str, headers: dict, before=None) -> tuple[float, int, int]:
    """(median ms of RUNS after one warm-up, SQL queries of one request, status code).
    `before()`, when given, runs (untimed) before each request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get(url, headers=headers)  # warm-up
    if before:
        before()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, headers=headers)
    count = len(queries)  # now: the next request empties the connection's query log
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    times = []
    for _ in range(RUNS):
        if before:
            before()
        started = time.perf_counter()
        client.get(url, headers=headers)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, count, response.status_code


def deep_page_url(user) -> str:
    """The gallery page that starts 90 % of the way down the library: by its keyset cursor when
    the gallery pages by keyset (`selectors.gallery_cursor`), else by its page number."""
    from vault.photos import selectors

    photos = selectors.photos_for_gallery(user=user)
    depth = int(photos.count() * 0.9)
    cursor = getattr(selectors, "gallery_cursor", None)
    if cursor is not None:
        before = photos[depth - 1]
        return f"/photos/?after={cursor(before)}"
    return f"/photos/?page={depth // selectors.PAGE_SIZE + 1}"


def tag_changer(user):
    """A function that changes one tag of the library each time it is called (as the worker
    tagging a photo, or the owner correcting one, does), so that whatever a page caches about
    the library is stale at the next request."""
    from vault.photos.models import Tag

    tag = Tag.objects.filter(photo__owner=user, label__in=["fruit", "other"]).first()
    labels = {"fruit": "other", "other": "fruit"}

    def change() -> None:
        tag.label = labels[tag.label]
        Tag.objects.filter(pk=tag.pk).update(label=tag.label)

    return change


def pages_to_measure(client, user) -> list[tuple]:
    """(row, url, headers, target ms[, before each request]) of every measured request."""
    from vault.people.models import Person
    from vault.photos.models import Photo

    first = client.get("/photos/").content.decode()
    more = re.search(r'data-more href="([^"]+)"', first)
    if more is None:
        raise SystemExit("the gallery's first page has no 'load more' link")
    more_url = "/photos/" + more.group(1).replace("&amp;", "&")
    middle_year = 2026 - YEARS // 2
    named = Person.objects.filter(owner=user, name_sealed__isnull=False).order_by("id").first()
    unnamed = Person.objects.filter(owner=user, name_sealed__isnull=True).order_by("id").first()
    ids = Photo.objects.filter(owner=user).order_by("-shown_at").values_list("id", flat=True)[:20]
    status = "/photos/status?" + "&".join(f"id={photo_id}" for photo_id in ids)
    partial = {"X-Vault-Partial": "1"}
    return [
        ("gallery /photos/", "/photos/", {}, TARGET_MS),
        ("gallery, a tag changed before each", "/photos/", {}, TARGET_MS, tag_changer(user)),
        ("gallery by tag", "/photos/?tag=animal", {}, TARGET_MS),
        (
            "gallery by year",
            f"/photos/?date_from={middle_year}-01-01&date_to={middle_year}-12-31",
            {},
            TARGET_MS,
        ),
        ("gallery deep page (90 %)", deep_page_url(user), {}, TARGET_MS),
        ('"load more" fragment', more_url, partial, FAST_TARGET_MS),
        ("/people/", "/people/", {}, TARGET_MS),
        ("a named person's page", f"/people/{named.id}/", {}, TARGET_MS),
        ("an unnamed group's page", f"/people/{unnamed.id}/", {}, TARGET_MS),
        ("/photos/tagging poll", "/photos/tagging", {}, FAST_TARGET_MS),
        (
            "tagging poll, a tag changed before each",
            "/photos/tagging",
            {},
            FAST_TARGET_MS,
            tag_changer(user),
        ),
        ("/photos/status poll (20 ids)", status, {}, FAST_TARGET_MS),
    ]


def library_measure(rows: list[str] | None = None) -> list[tuple[str, float, int, float]]:
    """(row, median ms, queries, target ms) for the library in the current database; only the
    rows whose name contains one of `rows`, when given."""
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
    from django.contrib.auth import get_user_model
    from django.test import Client

    from vault.processing.worker_keys import advertise, withdraw
    from vaultdev.signin import sign_in

    user = get_user_model().objects.get(email=EMAIL)
    # A live worker's key, as a running worker advertises it: the owner-visit work (re-grants,
    # bringing photos up to date, a due clustering run) then runs on each visit as in production.
    worker_key = (
        X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    advertise(worker_key, ttl=3600)
    try:
        client = Client()
        sign_in(client, user, PASSWORD)
        results = []
        for row, url, headers, target, *before in pages_to_measure(client, user):
            if rows and not any(part in row for part in rows):
                continue
            ms, queries, _status = timed(client, url, headers, *before)
            results.append((row, ms, queries, target))
            print(f"  {row}: {ms:.0f} ms, {queries} queries", flush=True)
        return results
    finally:
        withdraw(worker_key)


# --- the run --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default=",".join(SIZES), help=f"comma-separated, of {', '.join(SIZES)}"
    )
    parser.add_argument("--rebuild", action="store_true", help="build the libraries afresh")
    parser.add_argument(
        "--rows",
        default="",
        help="comma-separated parts of row names to measure only those (e.g. gallery,poll)",
    )
    parser.add_argument("--cache-dir", type=Path, default=CACHE_DIR)
    args = parser.parse_args()
    sizes = [size.strip() for size in args.sizes.split(",") if size.strip()]
    unknown = [size for size in sizes if size not in SIZES]
    if unknown or not sizes:
        parser.error(f"unknown size {', '.join(unknown)}; choose from {', '.join(SIZES)}")

    args.cache_dir.mkdir(parents=True, exist_ok=True)
    # Short path: unix sockets must stay under ~100 bytes.
    run_dir = Path(tempfile.mkdtemp(prefix="spvs-", dir="/tmp"))
    pg = valkey = None
    try:
        pg = start_postgres(args.cache_dir / "pg", database="postgres")
        valkey = start_valkey(run_dir / "valkey", run_dir / "valkey.sock", persist=False)
        os.environ.update(
            DJANGO_SETTINGS_MODULE="vault.settings",
            DATABASE_URL=pg.url("postgres"),
            REDIS_URL=valkey.url,
            VAULT_DEV_DEFAULTS="true",  # a generated secret key, in the throwaway directory
            VAULT_VAR_DIR=str(run_dir / "var"),
            VAULT_DATA_DIR=str(run_dir / "data"),
            ALLOWED_HOSTS="testserver",
            LOG_LEVEL="WARNING",
        )
        import django

        django.setup()
        from django.core.management import call_command
        from django.test.utils import setup_test_environment

        setup_test_environment()  # the emailed sign-in code lands in mail.outbox

        table: dict[str, list] = {}
        for size in sizes:
            photos, people = SIZES[size]
            name = f"scale_{size}"
            if args.rebuild:
                database_reset(pg, name)
            else:
                import psycopg

                with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
                    found = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                    ).fetchone()
                if not found:
                    database_reset(pg, name)
            database_use(name, pg.url(name))
            call_command("migrate", verbosity=0)
            if not library_ready():
                print(f"{size}: building {photos} photos and {people} people ...", flush=True)
                database_reset(pg, name)
                database_use(name, pg.url(name))
                call_command("migrate", verbosity=0)
                library_build(photos=photos, people=people)
            print(f"{size}: measuring", flush=True)
            table[size] = library_measure([part for part in args.rows.split(",") if part])
    finally:
        from django.db import connections

        connections.close_all()
        if valkey is not None:
            valkey.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(run_dir, ignore_errors=True)

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print()
    print(
        f"server time per request (Django test client), median of {RUNS} after a warm-up, "
        f"and SQL queries — {os.cpu_count()} CPUs (load {load})"
    )
    print(f"targets at 100k: {TARGET_MS} ms, 'load more' and status polls {FAST_TARGET_MS} ms")
    print()
    # The smallest library measured in the same run is the baseline: a page whose cost does
    # not grow with the library stays near 1x.
    baseline, largest = sizes[0], sizes[-1]
    ratio = len(sizes) > 1
    header = (
        "page",
        *(f"{size} ({SIZES[size][0]} photos, {SIZES[size][1]} people)" for size in sizes),
        *((f"{largest} vs {baseline}",) if ratio else ()),
    )
    rows = []
    for index, (row, *_rest) in enumerate(next(iter(table.values()))):
        cells = []
        for size in sizes:
            _row, ms, queries, target = table[size][index]
            mark = " !" if size == "100k" and ms > target else ""
            cells.append(f"{ms:.0f} ms · {queries} q{mark}")
        if ratio:
            cells.append(f"{table[largest][index][1] / table[baseline][index][1]:.1f}x")
        rows.append((row, *cells))
    print_table(header, rows)
    if "100k" in table:
        print("\n! over its target")


if __name__ == "__main__":
    main()
