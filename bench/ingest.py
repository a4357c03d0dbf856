"""Benchmark of photo ingest: upload, processing and thumbnail serving, on real servers.

Run: .venv/bin/python bench/ingest.py   (about 3 minutes; `--quick` takes about one)

It starts a throwaway PostgreSQL and Valkey under /tmp, a gunicorn serving the vault (2
processes × 8 threads, settings bench/ingest_settings.py which add two baseline views) and two
RQ workers (2 cores), signs one user in, and measures with 12-megapixel JPEGs:

- the upload request time (one file per request, as the upload page sends them) against the
  same bytes POSTed to a plain view that stores them unencrypted (fsync, like a blob);
- photos per second through processing (decrypt, EXIF, two thumbnails, encrypt) for workers
  without models (the baseline), with the tagger only, and with the full pipeline (tags and
  faces: detection with tiles on these 12 MP photos, embedding of the faces found), and end to
  end (uploads from 2 clients while full workers run);
- the workers' peak RSS (largest single process, work horses included) against an idle worker;
- thumbnail request p50/p95 under 20 concurrent clients against the same bytes served from a
  plain file by a plain view;
- a gallery reload as a browser does it: one page's thumbnails (up to 20) over 6 connections,
  loaded twice in a row through a browser-like cache. Decrypted pictures are sent with
  `Cache-Control: private, no-store`, so the second load fetches them all again; with
  `VAULT_CACHE_DECRYPTED_SECONDS` (`private, max-age=N`) it would send no request at all.

Each figure is the median of several runs. Targets from the issue: encryption adds <= 15 % to
the upload time; encrypted thumbnail p95 <= 2x the plain one; >= 4 photos/s without ML and
>= 4 photos/s with tagging, >= 2 photos/s with the full pipeline (tags and faces) on 2 cores.
Not a test: the numbers depend on the machine and on what else runs.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.cookies import SimpleCookie
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402

from vault.processing.queue import QUEUE  # noqa: E402
from vaultdev.report import print_table  # noqa: E402
from vaultdev.services import start_postgres, start_valkey  # noqa: E402

PASSWORD = "bench passphrase that is long enough 1"  # noqa: S105 - a sample, not a secret
MIB = 1 << 20


# --- pictures -------------------------------------------------------------------------------


def twelve_megapixel_jpegs(count: int) -> list[bytes]:
    """Distinct 4000 × 3000 JPEGs that compress like photos (smooth texture, ~3 MB each)."""
    rng = random.Random(7)
    texture = Image.frombytes("RGB", (500, 375), rng.randbytes(500 * 375 * 3))
    base = texture.resize((4000, 3000), Image.Resampling.BICUBIC)
    photos = []
    for number in range(count):
        image = base.copy()
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y = rng.randrange(3600), rng.randrange(2600)
            colour = tuple(rng.randrange(256) for _ in range(3))
            draw.ellipse((x, y, x + rng.randrange(50, 400), y + rng.randrange(50, 400)), colour)
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x9003] = f"2024:05:{1 + number % 28:02d} 12:00:00"
        out = io.BytesIO()
        image.save(out, "JPEG", quality=90, exif=exif)
        photos.append(out.getvalue())
    return photos


# --- HTTP -----------------------------------------------------------------------------------


class Browser:
    """One keep-alive connection carrying the signed-in user's cookies."""

    def __init__(self, port: int, cookies: dict[str, str], csrf: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        if csrf:
            self.headers["X-CSRFToken"] = csrf

    def request(self, method: str, path: str, body: bytes | None = None, headers=None):
        for attempt in (1, 2):
            start = time.perf_counter()
            try:
                self.conn.request(
                    method, path, body=body, headers={**self.headers, **(headers or {})}
                )
                response = self.conn.getresponse()
                data = response.read()
                return response.status, data, time.perf_counter() - start, response
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # gunicorn closed the idle keep-alive connection: open a new one, once.
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def upload(self, path: str, name: str, data: bytes) -> tuple[int, bytes, float]:
        boundary = secrets.token_hex(16)
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; '
                f'filename="{name}"\r\nContent-Type: image/jpeg\r\n\r\n'
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        status, reply, elapsed, _ = self.request(
            "POST",
            path,
            body,
            {
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Accept": "application/json",
            },
        )
        return status, reply, elapsed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- processes ------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """pid and its children (RQ forks one work horse per job)."""
    pids = [pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                pids.append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return pids


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class PeakRss(threading.Thread):
    """Samples every 50 ms the largest RSS of any process in the workers' trees."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids, self.peak, self.running = pids, 0.0, True

    def run(self) -> None:
        while self.running:
            for pid in self.pids:
                for member in process_tree(pid):
                    self.peak = max(self.peak, rss_mib(member))
            time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- measurements ---------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def hammer(port, cookies, paths: list[str], clients: int, per_client: int) -> list[float]:
    """`clients` threads, each requesting `per_client` URLs; returns every latency in seconds."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        browser = Browser(port, cookies)
        mine = []
        for i in range(per_client):
            status, body, elapsed, _ = browser.request("GET", paths[(offset + i) % len(paths)])
            assert status == 200 and body, status
            mine.append(elapsed)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies


class BrowserCache:
    """What a browser's HTTP cache does with these responses: keep one only if Cache-Control
    allows it (no "no-store", a max-age), reuse it without a request until it expires.
    `cache_control` replaces the server's header, to see what another policy would cost."""

    def __init__(self, cache_control: str | None = None) -> None:
        self.cache_control = cache_control
        self.fresh_until: dict[str, float] = {}

    def fresh(self, path: str) -> bool:
        return self.fresh_until.get(path, 0.0) > time.monotonic()

    def store(self, path: str, response) -> None:
        header = self.cache_control or response.getheader("Cache-Control", "")
        directives = {part.strip().lower() for part in header.split(",")}
        ages = [int(d.split("=", 1)[1]) for d in directives if d.startswith("max-age=")]
        if "no-store" not in directives and ages and ages[0] > 0:
            self.fresh_until[path] = time.monotonic() + ages[0]


def gallery_load(port, cookies, paths: list[str], cache: BrowserCache) -> tuple[float, int]:
    """Load a gallery page's thumbnails as a browser does: 6 connections to the host, each URL
    once, the fresh ones from the cache. Returns (seconds until the last one, requests sent)."""
    pending = [p for p in paths if not cache.fresh(p)]
    lock = threading.Lock()
    sent = 0

    def connection() -> None:
        nonlocal sent
        browser = Browser(port, cookies)
        while True:
            with lock:
                if not pending:
                    return
                path = pending.pop(0)
                sent += 1
            status, body, _, response = browser.request("GET", path)
            assert status == 200 and body, status
            with lock:
                cache.store(path, response)

    start = time.perf_counter()
    threads = [threading.Thread(target=connection) for _ in range(min(6, len(pending)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start, sent


def wait_all_ready(photo_ids: list[str], timeout: float = 600) -> None:
    from vault.photos.models import Photo

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = list(Photo.objects.filter(pk__in=photo_ids).values_list("state", flat=True))
        if len(states) == len(photo_ids) and all(s == "ready" for s in states):
            return
        if "failed" in states:
            raise RuntimeError("a photo failed to process")
        time.sleep(0.05)
    raise RuntimeError("photos were not processed in time")


# --- the server -----------------------------------------------------------------------------


def bench_environment(root: Path, pg, valkey) -> dict[str, str]:
    """The environment of a bench vault under `root`: its PostgreSQL and Valkey, bench settings."""
    return {
        "DATABASE_URL": pg.url("vault"),
        "REDIS_URL": valkey.url,
        "SECRET_KEY": secrets.token_urlsafe(40),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "STATIC_MANIFEST": "false",
        "VAULT_VAR_DIR": str(root / "var"),
        "VAULT_DATA_DIR": str(root / "data"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "DJANGO_SETTINGS_MODULE": "bench.ingest_settings",
        "LOG_LEVEL": "WARNING",
    }


def owner_signed_in():
    """Migrate, create the bench owner, sign in: (the owner, its session cookies name → value)."""
    from django.core.management import call_command
    from django.test import Client

    from vault.accounts.services import account_create
    from vaultdev.signin import sign_in

    call_command("migrate", verbosity=0)
    user, _ = account_create(
        name="Bench", email="bench@example.org", password=PASSWORD, email_verified=True
    )
    client = Client()
    sign_in(client, user, PASSWORD)
    return user, {name: morsel.value for name, morsel in client.cookies.items()}


def gunicorn_start(port: int, cookies: dict[str, str], *, timeout_s: int) -> subprocess.Popen:
    """The vault under gunicorn (2 processes × 8 threads) on 127.0.0.1:`port`, once it answers."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "8",
         "--worker-class", "gthread", "--timeout", str(timeout_s), "--log-level", "warning",
         "vault.wsgi:application"],
        cwd=ROOT, env=dict(os.environ), start_new_session=True,
    )  # fmt: skip
    for _ in range(300):
        try:
            Browser(port, cookies).request("GET", "/healthz")
            break
        except OSError:
            time.sleep(0.1)
    return server


def csrf_browser(port: int, cookies: dict[str, str]) -> Browser:
    """A Browser that sends the upload page's CSRF token; adds the token to `cookies`."""
    _, _, _, response = Browser(port, cookies).request("GET", "/photos/upload")
    jar = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar.load(header)
    if "csrftoken" in jar:
        cookies["csrftoken"] = jar["csrftoken"].value
    return Browser(port, cookies, csrf=cookies["csrftoken"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer photos and runs (~1 min)")
    args = parser.parse_args()
    runs = 3 if args.quick else 7
    photo_count = 19 if args.quick else 50
    thumb_requests = 10 if args.quick else 25  # per client and run

    root = Path(tempfile.mkdtemp(prefix="spvb-", dir="/tmp"))
    pg = valkey = server = None
    workers: list[subprocess.Popen] = []
    try:
        pg = start_postgres(root / "pg", database="vault")
        valkey = start_valkey(root / "valkey", root / "v.sock", persist=False)
        env = bench_environment(root, pg, valkey)
        os.environ.update(env)
        import django

        django.setup()

        from vault.accounts.services import keys_unlock_with_password
        from vault.photos.blobs import blob_open
        from vault.photos.models import Blob, Photo
        from vault.processing.worker_keys import live_worker_keys

        user, cookies = owner_signed_in()

        print(f"generating {photo_count} 12-megapixel JPEGs…", flush=True)
        photos = twelve_megapixel_jpegs(photo_count)
        mean_size = statistics.mean(len(p) for p in photos) / MIB

        port = free_port()
        server = gunicorn_start(port, cookies, timeout_s=300)
        browser = csrf_browser(port, cookies)

        # 1. Upload request time, no worker running (nothing competes for the CPU).
        print("timing uploads…", flush=True)
        upload_paths = {
            "vault": "/photos/upload",
            "unencrypted": "/bench/unencrypted-upload",
            "bare": "/bench/plain-upload",
        }
        upload_times = {kind: [] for kind in upload_paths}
        uploaded, unencrypted_ids = [], []
        for number in range(runs):
            data = photos[number]
            kinds = list(upload_paths)
            for kind in kinds[number % 3 :] + kinds[: number % 3]:  # rotate the order
                status, reply, elapsed = browser.upload(upload_paths[kind], "p.jpg", data)
                assert status == 200 and b'"stored"' in reply, reply[:200]
                upload_times[kind].append(elapsed)
                if kind != "bare":
                    photo_id = json.loads(reply)["files"][0]["photo"]
                    (uploaded if kind == "vault" else unencrypted_ids).append(photo_id)
        # The unencrypted baseline's rows point at plain files: not for the workers.
        Photo.objects.filter(pk__in=unencrypted_ids).delete()

        # 2. Processing: two workers, as on a 2-core box. First workers without a tagger (the
        #    baseline of the tagging step), then workers with the active tagger, each on photos
        #    uploaded while no worker ran.
        print("processing…", flush=True)
        worker_cmd = [
            sys.executable, "manage.py", "rqworker", QUEUE,
            "--worker-class", "worker.vault_worker.VaultWorker", "--worker-ttl", "20",
        ]  # fmt: skip

        def start_workers(**extra_env: str) -> None:
            for _ in range(2):
                workers.append(
                    subprocess.Popen(
                        worker_cmd,
                        cwd=ROOT,
                        env=dict(os.environ, **extra_env),
                        start_new_session=True,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
            deadline = time.monotonic() + 120
            while len(live_worker_keys()) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(1)

        def process(photo_ids: list[str]) -> float:
            start = time.perf_counter()
            # The owner's status poll grants the waiting photos to the live workers.
            browser.request("GET", "/photos/status?" + "&".join(f"id={p}" for p in photo_ids))
            wait_all_ready(photo_ids)
            return len(photo_ids) / (time.perf_counter() - start)

        from vault.photos.seen_by import active_faces_id, active_tagger_id

        tagger_id, faces_id = active_tagger_id()[0] or "", active_faces_id()[0] or ""

        def upload_batch(batch: list[bytes]) -> list[str]:
            ids = []
            for data in batch:
                status, reply, _ = browser.upload("/photos/upload", "p.jpg", data)
                assert status == 200 and b'"stored"' in reply, reply[:200]
                ids.append(json.loads(reply)["files"][0]["photo"])
            return ids

        def settle(photo_ids: list[str]) -> None:
            # Already processed: keep the next workers' bringing old photos up to date (new
            # tagger, new face models) out of the measurement.
            Photo.objects.filter(pk__in=photo_ids).update(tagged_by=tagger_id, faces_by=faces_id)

        start_workers(VAULT_MODELS_DIR=str(root / "no-models"))
        plain_rate = process(uploaded)
        while workers:
            stop(workers.pop())
        settle(uploaded)
        # Thumbnails and tags, no faces: the tagger's card and file alone in a models dir.
        tagger_only = root / "tagger-only"
        tagger_only.mkdir()
        for path in (ROOT / "models").glob("tagger-*"):
            (tagger_only / path.name).symlink_to(path)
        tags_batch = upload_batch(photos[runs : 2 * runs])
        start_workers(VAULT_MODELS_DIR=str(tagger_only))
        tags_rate = process(tags_batch)
        while workers:
            stop(workers.pop())
        settle(tags_batch)
        full_batch = upload_batch(photos[2 * runs : 3 * runs])
        start_workers()
        idle_rss = max(rss_mib(w.pid) for w in workers)
        sampler = PeakRss([w.pid for w in workers])
        sampler.start()
        processing_rate = process(full_batch)
        done = Photo.objects.filter(pk__in=full_batch)
        assert done.filter(tagged_by=tagger_id).count() == len(full_batch), "not all tagged"
        assert done.filter(faces_by=faces_id).count() == len(full_batch), "faces not looked for"

        rest = photos[3 * runs :]
        end_to_end_ids: list[str] = []
        lock = threading.Lock()

        def uploader(share: list[bytes]) -> None:
            mine = Browser(port, cookies, csrf=cookies["csrftoken"])

            for data in share:
                status, reply, _ = mine.upload("/photos/upload", "p.jpg", data)
                assert status == 200, reply[:200]
                with lock:
                    end_to_end_ids.append(json.loads(reply)["files"][0]["photo"])

        start = time.perf_counter()
        threads = [threading.Thread(target=uploader, args=(rest[i::2],)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wait_all_ready(end_to_end_ids)
        end_to_end_rate = len(rest) / (time.perf_counter() - start)
        sampler.running = False
        sampler.join()

        # 3. Thumbnails under 20 concurrent clients; the baseline serves the same decrypted
        #    bytes from plain files through a plain view, on the same server.
        print("serving thumbnails…", flush=True)
        ready = list(Photo.objects.filter(owner=user, state="ready")[:20])
        private_key = keys_unlock_with_password(user, PASSWORD).private_key
        plain_dir = root / "data" / "plain"
        plain_dir.mkdir(parents=True, exist_ok=True)
        for number, photo in enumerate(ready):
            blob = Blob.objects.select_related("photo").get(photo=photo, variant="thumb")
            with blob_open(blob, private_key=private_key) as reader:
                (plain_dir / f"thumb-{number}.jpg").write_bytes(reader.read_all())
        thumb_size = statistics.mean(
            (plain_dir / f"thumb-{n}.jpg").stat().st_size for n in range(len(ready))
        )
        vault_paths = [f"/photos/{photo.id}/thumb" for photo in ready]
        plain_paths = [f"/bench/plain-thumb/{n}" for n in range(len(ready))]
        hammer(port, cookies, vault_paths + plain_paths, 20, 5)  # warm up both
        thumb = {"vault": ([], []), "plain": ([], [])}
        for number in range(runs):
            order = ("vault", "plain") if number % 2 else ("plain", "vault")
            for kind in order:
                paths = vault_paths if kind == "vault" else plain_paths
                latencies = hammer(port, cookies, paths, 20, thumb_requests)
                thumb[kind][0].append(percentile(latencies, 0.50))
                thumb[kind][1].append(percentile(latencies, 0.95))

        # 4. Gallery reload: the same page loaded twice, through a cache that honours the
        #    vault's headers (no-store) and through one given the max-age a setting would send.
        print("reloading a gallery page…", flush=True)
        gallery = {"no-store": ([], [], []), "max-age": ([], [], [])}
        for number in range(runs):
            order = ("no-store", "max-age") if number % 2 else ("max-age", "no-store")
            for policy in order:
                cache = BrowserCache(None if policy == "no-store" else "private, max-age=86400")
                first, _ = gallery_load(port, cookies, vault_paths, cache)
                again, sent = gallery_load(port, cookies, vault_paths, cache)
                gallery[policy][0].append(first)
                gallery[policy][1].append(again)
                gallery[policy][2].append(sent)
    finally:
        for process in workers:
            stop(process)
        if server is not None:
            stop(server)
        if valkey is not None:
            valkey.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)

    ms = 1000
    up = {kind: statistics.median(times) for kind, times in upload_times.items()}
    p50 = {k: statistics.median(v[0]) for k, v in thumb.items()}
    p95 = {k: statistics.median(v[1]) for k, v in thumb.items()}
    load = {k: statistics.median(v[0]) for k, v in gallery.items()}
    reload = {k: statistics.median(v[1]) for k, v in gallery.items()}
    sent = {k: max(v[2]) for k, v in gallery.items()}

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    rows = [
        (f"upload request, {mean_size:.1f} MB JPEG (ms)", f"{up['vault'] * ms:.1f}",
         f"{up['unencrypted'] * ms:.1f}", f"{up['vault'] / up['unencrypted']:.2f}x",
         f"<= 1.15x: {verdict(up['vault'] / up['unencrypted'] <= 1.15)}"),
        ("  vs a bare store of the bytes (ms)", f"{up['vault'] * ms:.1f}",
         f"{up['bare'] * ms:.1f}", f"{up['vault'] / up['bare']:.2f}x", ""),
        ("processing with tagging, 2 workers (photos/s)", f"{tags_rate:.2f}",
         f"{plain_rate:.2f}", f"{tags_rate / plain_rate:.2f}x",
         f">= 4: {verdict(tags_rate >= 4)}"),
        ("full pipeline: thumbnails + tags + faces (photos/s)", f"{processing_rate:.2f}",
         f"{plain_rate:.2f}", f"{processing_rate / plain_rate:.2f}x",
         f">= 2: {verdict(processing_rate >= 2)}"),
        ("upload + processing end to end (photos/s)", f"{end_to_end_rate:.2f}", "", "", ""),
        ("worker peak RSS (MiB)", f"{sampler.peak:.0f}", f"{idle_rss:.0f} idle",
         f"{sampler.peak / idle_rss:.2f}x", ""),
        (f"thumbnail p50, 20 clients, {thumb_size / 1024:.0f} KiB (ms)", f"{p50['vault'] * ms:.1f}",
         f"{p50['plain'] * ms:.1f}", f"{p50['vault'] / p50['plain']:.2f}x", ""),
        ("thumbnail p95, 20 clients (ms)", f"{p95['vault'] * ms:.1f}", f"{p95['plain'] * ms:.1f}",
         f"{p95['vault'] / p95['plain']:.2f}x",
         f"<= 2x: {verdict(p95['vault'] / p95['plain'] <= 2)}"),
        (f"gallery load, {len(vault_paths)} thumbnails, 6 connections (ms)",
         f"{load['no-store'] * ms:.1f}", f"{load['max-age'] * ms:.1f}", "", ""),
        (f"  reload: no-store ({sent['no-store']} requests) vs max-age ({sent['max-age']}) (ms)",
         f"{reload['no-store'] * ms:.1f}", f"{reload['max-age'] * ms:.1f}", "", ""),
    ]  # fmt: skip
    print(
        f"\nphoto ingest benchmark — {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"{'quick, ' if args.quick else ''}medians of {runs} runs, {photo_count} photos"
    )
    print_table(("measure", "vault", "baseline", "ratio", "target"), rows)
    print(
        "\nbaselines: upload — the vault's own upload path (same checks, rows, durable write) with"
        "\nthe cipher and keyed hash swapped for a plain write and SHA-256; bare store — a view"
        "\nthat only streams the bytes to a file and fsyncs it. RSS — an idle worker. thumbnail —"
        "\nthe same bytes served from a plain file by a plain view, same server. processing —"
        "\nthe same pipeline on workers without a tagger (no tags step). gallery — the vault's"
        "\nheaders (no-store: a reload fetches and decrypts every thumbnail again) against a"
        "\nbrowser cache given `private, max-age` (VAULT_CACHE_DECRYPTED_SECONDS > 0): the reload"
        "\nsends no request, at the price of decrypted thumbnails left on the device."
    )


if __name__ == "__main__":
    main()
