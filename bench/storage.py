"""Blob stores: the vault on its local directory against the same vault on an S3 object store
(SeaweedFS `weed server -s3` on this machine), measured side by side in one run.

Run: .venv/bin/python bench/storage.py   (several minutes; `--quick` takes fewer photos and runs)

It starts one throwaway PostgreSQL (two databases), two Valkeys, one weed, and two identical
vaults, one per store: a gunicorn each (2 processes x 8 threads) and 2 RQ workers each with the
full pipeline (thumbnails, tags, faces). A worker is idle when its vault is not being measured.
Rows, each the median of RUNS runs taken in turns (local, S3, S3, local...):

- upload request: one 12-megapixel JPEG (about 3 MB) per request, as the upload page sends it,
  before any worker runs (nothing competes for the CPU);
- thumbnail p95: 20 concurrent clients fetching the thumbnails of the vault's ready photos
  (decrypted on request: with S3 each is a ranged GET of the blob);
- full-pipeline ingest with 2 workers: BATCH photos uploaded by 2 clients while the 2 workers
  process them, photos per second until the last is ready.

Target from issue 23: the S3 store within 1.3x of the local store on each row. Rows comparing
one worker host with two (the multi-host harness, vaultdev/netns.py) are added by
`worker_host_rows()` below. Not a test: the numbers depend on the machine and on what else runs.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ingest import (  # noqa: E402
    Browser,
    free_port,
    hammer,
    percentile,
    stop,
    twelve_megapixel_jpegs,
)
from vault.blobstore.local import LocalStore  # noqa: E402
from vaultdev.report import print_table  # noqa: E402
from vaultdev.services import start_postgres, start_seaweed, start_valkey  # noqa: E402

PASSWORD = "bench passphrase that is long enough 1"  # noqa: S105 - a sample, not a secret
STORES = ("local", "s3")
TARGET = 1.3


@dataclass
class Vault:
    """One vault of the bench: its environment, server, workers and signed-in user."""

    store: str
    env: dict[str, str]
    database_url: str
    port: int = 0
    cookies: dict[str, str] = field(default_factory=dict)
    server: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)

    def browser(self) -> Browser:
        return Browser(self.port, self.cookies, csrf=self.cookies["csrftoken"])


def _sign_up(vault: Vault) -> None:
    """Migrate the vault's database and sign its user in, in a child process with the vault's
    settings (so that the two vaults never share a Django configuration)."""
    code = (
        "import django, json; django.setup()\n"
        "from django.core.management import call_command\n"
        "from django.test import Client\n"
        "from django.test.utils import setup_test_environment\n"
        "setup_test_environment()\n"
        "from vault.accounts.services import account_create\n"
        "from vaultdev.signin import sign_in\n"
        "call_command('migrate', verbosity=0)\n"
        "user, _ = account_create(name='Bench', email='bench@example.org', "
        f"password={PASSWORD!r}, email_verified=True)\n"
        "client = Client()\n"
        f"sign_in(client, user, {PASSWORD!r})\n"
        "print(json.dumps({k: m.value for k, m in client.cookies.items()}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=vault.env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"setting up the {vault.store} vault failed:\n{result.stderr[-3000:]}")
    vault.cookies = json.loads(result.stdout.strip().splitlines()[-1])


def _serve(vault: Vault) -> None:
    vault.port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    vault.server = subprocess.Popen(
        [str(gunicorn), "--bind", f"127.0.0.1:{vault.port}", "--workers", "2", "--threads", "8",
         "--worker-class", "gthread", "--timeout", "300", "--log-level", "warning",
         "vault.wsgi:application"],
        cwd=ROOT, env=vault.env, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        try:
            _, _, _, response = Browser(vault.port, vault.cookies).request("GET", "/photos/upload")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        if name == "csrftoken":
            vault.cookies["csrftoken"] = rest.split(";", 1)[0]


def _start_workers(vault: Vault, count: int = 2) -> None:
    from vault.processing.queue import QUEUE

    for _ in range(count):
        vault.workers.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "rqworker", QUEUE, "--worker-class",
                 "worker.vault_worker.VaultWorker", "--worker-ttl", "20"],
                cwd=ROOT, env=vault.env, start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
        )  # fmt: skip


def _live_keys(vault: Vault) -> int:
    import redis

    from vault.processing.worker_keys import worker_adverts

    connection = redis.Redis.from_url(vault.env["REDIS_URL"])
    secret = vault.env["VAULT_WORKER_ENROLMENT_SECRET"].encode()
    return sum(advert.enrolled for advert in worker_adverts(connection, secret=secret))


def _states(vault: Vault, photo_ids: list[str]) -> list[str]:
    import psycopg

    with psycopg.connect(vault.database_url) as conn:
        rows = conn.execute(
            "SELECT state FROM photos_photo WHERE id = ANY(%s::uuid[])", (photo_ids,)
        ).fetchall()
    return [row[0] for row in rows]


def _wait_ready(vault: Vault, photo_ids: list[str], timeout: float = 900) -> None:
    browser = vault.browser()
    deadline = time.monotonic() + timeout
    polled = 0.0
    while time.monotonic() < deadline:
        if time.monotonic() - polled > 2:  # the owner's page polls: grants to live workers
            browser.request("GET", "/photos/status?" + "&".join(f"id={p}" for p in photo_ids))
            polled = time.monotonic()
        states = _states(vault, photo_ids)
        if len(states) == len(photo_ids) and all(state == "ready" for state in states):
            return
        if "failed" in states:
            raise RuntimeError(f"a photo failed to process in the {vault.store} vault")
        time.sleep(0.05)
    raise RuntimeError(f"the {vault.store} vault did not process its photos in time")


def _upload(browser: Browser, data: bytes) -> tuple[str, float]:
    status, reply, elapsed = browser.upload("/photos/upload", "p.jpg", data)
    assert status == 200 and b'"stored"' in reply, reply[:300]
    return json.loads(reply)["files"][0]["photo"], elapsed


def _ingest(vault: Vault, batch: list[bytes]) -> float:
    """Photos per second: `batch` uploaded by 2 clients while the workers process them."""
    ids: list[str] = []
    lock = threading.Lock()

    def uploader(share: list[bytes]) -> None:
        browser = vault.browser()
        for data in share:
            photo_id, _ = _upload(browser, data)
            with lock:
                ids.append(photo_id)

    start = time.perf_counter()
    threads = [threading.Thread(target=uploader, args=(batch[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _wait_ready(vault, ids)
    return len(batch) / (time.perf_counter() - start)


def _ready_thumbs(vault: Vault, count: int = 20) -> list[str]:
    import psycopg

    with psycopg.connect(vault.database_url) as conn:
        rows = conn.execute(
            "SELECT id FROM photos_photo WHERE state = 'ready' ORDER BY uploaded_at LIMIT %s",
            (count,),
        ).fetchall()
    return [f"/photos/{row[0]}/thumb" for row in rows]


def _bare_write(store, data: bytes, number: int) -> float:
    """Seconds to write `data` as one object through the store's writer (in 64 KiB pieces, as
    the SPV1 writer does), with no web request and no encryption around it."""
    start = time.perf_counter()
    with store.writer(f"bare/{number}/original-0.spv") as writer:
        for offset in range(0, len(data), 1 << 16):
            writer.write(data[offset : offset + (1 << 16)])
        writer.finish()
    return time.perf_counter() - start


def _process_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) process `pid` has used so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_host_rows() -> list[tuple[str, ...]]:
    """Rows comparing one worker host with two (issue 23: two >= 1.7x one), measured by the
    multi-host harness (vaultdev/netns.py); none until it lands."""
    return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer photos and runs")
    args = parser.parse_args()
    runs = 3 if args.quick else 5
    batch = 4 if args.quick else 6
    per_client = 10 if args.quick else 25  # thumbnail requests per client and run

    root = Path(tempfile.mkdtemp(prefix="spvs-", dir="/tmp"))
    pg = weed = None
    valkeys = []
    vaults: dict[str, Vault] = {}
    try:
        pg = start_postgres(root / "pg", database="vault_local")
        import psycopg

        with psycopg.connect(pg.url("postgres"), autocommit=True) as conn:
            conn.execute('CREATE DATABASE "vault_s3"')
        weed = start_seaweed(prefix="spvs-weed-")
        base = {
            **os.environ,
            "SECRET_KEY": secrets.token_urlsafe(40),
            # Set, not derived from SECRET_KEY, so that this process (no Django settings) can
            # count the enrolled workers.
            "VAULT_WORKER_ENROLMENT_SECRET": secrets.token_urlsafe(32),
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "STATIC_MANIFEST": "false",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
            "DJANGO_SETTINGS_MODULE": "vault.settings",
            "LOG_LEVEL": "WARNING",
        }
        for store in STORES:
            valkey = start_valkey(root / f"valkey-{store}", root / f"v-{store}.sock", persist=False)
            valkeys.append(valkey)
            env = {
                **base,
                "DATABASE_URL": pg.url(f"vault_{store}"),
                "REDIS_URL": valkey.url,
                "VAULT_VAR_DIR": str(root / f"var-{store}"),
                "VAULT_DATA_DIR": str(root / f"data-{store}"),
                **(weed.env() if store == "s3" else {"VAULT_BLOB_STORE": "local"}),
            }
            vaults[store] = Vault(store=store, env=env, database_url=pg.url(f"vault_{store}"))
            _sign_up(vaults[store])
            _serve(vaults[store])

        count = runs * (1 + batch) + 2
        print(f"generating {count} 12-megapixel JPEGs…", flush=True)
        photos = twelve_megapixel_jpegs(count)
        mean_mb = statistics.mean(len(p) for p in photos) / 1e6

        def turns(number: int) -> tuple[str, ...]:
            return STORES if number % 2 == 0 else STORES[::-1]

        # 1. Upload requests, no worker running.
        print("timing uploads…", flush=True)
        uploads = {store: [] for store in STORES}
        pending = {store: [] for store in STORES}
        browsers = {store: vault.browser() for store, vault in vaults.items()}
        for store in STORES:  # warm-up: first request of each server
            pending[store].append(_upload(browsers[store], photos[-1])[0])
        for number in range(runs):
            for store in turns(number):
                photo_id, elapsed = _upload(browsers[store], photos[number])
                uploads[store].append(elapsed)
                pending[store].append(photo_id)

        # 1b. The floor: the same bytes written by the store alone (no request, no encryption).
        # Their CPU: this process's, and weed's (the S3 gateway, filer and volume server).
        bare = {store: [] for store in STORES}
        bare_cpu = {store: [] for store in STORES}
        weed_cpu = []
        bare_stores = {"local": LocalStore(root / "bare"), "s3": weed.store()}
        for number in range(runs):
            for store in turns(number):
                cpu, weed_before = time.process_time(), _process_cpu(weed.process.pid)
                bare[store].append(_bare_write(bare_stores[store], photos[number], number))
                bare_cpu[store].append(time.process_time() - cpu)
                if store == "s3":
                    weed_cpu.append(_process_cpu(weed.process.pid) - weed_before)

        # 2. Ingest: both vaults' workers started (idle when their vault is not measured).
        print("starting workers…", flush=True)
        for vault in vaults.values():
            _start_workers(vault)
        deadline = time.monotonic() + 300
        while any(_live_keys(v) < 2 for v in vaults.values()):
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start")
            time.sleep(0.2)
        for store, vault in vaults.items():
            _wait_ready(vault, pending[store])  # the upload photos, processed before timing
        print("ingesting…", flush=True)
        rates = {store: [] for store in STORES}
        for number in range(runs):
            chunk = photos[runs + number * batch : runs + (number + 1) * batch]
            for store in turns(number):
                rates[store].append(_ingest(vaults[store], chunk))

        # 3. Thumbnails under 20 concurrent clients.
        print("serving thumbnails…", flush=True)
        paths = {store: _ready_thumbs(vault) for store, vault in vaults.items()}
        for store, vault in vaults.items():
            hammer(vault.port, vault.cookies, paths[store], 20, 3)  # warm-up
        p95 = {store: [] for store in STORES}
        for number in range(runs):
            for store in turns(number):
                vault = vaults[store]
                latencies = hammer(vault.port, vault.cookies, paths[store], 20, per_client)
                p95[store].append(percentile(latencies, 0.95))
    finally:
        for vault in vaults.values():
            for process in vault.workers:
                stop(process)
            if vault.server is not None:
                stop(vault.server)
        for valkey in valkeys:
            valkey.stop()
        if weed is not None:
            weed.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)

    up = {store: statistics.median(values) * 1000 for store, values in uploads.items()}
    floor = {store: statistics.median(values) * 1000 for store, values in bare.items()}
    cpu = {store: statistics.median(values) * 1000 for store, values in bare_cpu.items()}
    weed_ms = statistics.mean(weed_cpu) * 1000  # a mean: /proc counts in 10 ms ticks
    thumb = {store: statistics.median(values) * 1000 for store, values in p95.items()}
    rate = {store: statistics.median(values) for store, values in rates.items()}

    def row(name: str, local: float, s3: float, unit: str, ratio: float) -> tuple[str, ...]:
        verdict = "met" if ratio <= TARGET else "NOT met"
        return (name, f"{local:.1f} {unit}", f"{s3:.1f} {unit}", f"{ratio:.2f}x", verdict)

    rows = [
        row(f"upload request, {mean_mb:.1f} MB JPEG", up["local"], up["s3"], "ms",
            up["s3"] / up["local"]),
        (*row("  the same bytes written by the store alone", floor["local"], floor["s3"],
              "ms", floor["s3"] / floor["local"])[:4], ""),
        ("  CPU of that write: this process + weed", f"{cpu['local']:.1f} ms",
         f"{cpu['s3']:.1f} + {weed_ms:.1f} ms", f"{(cpu['s3'] + weed_ms) / cpu['local']:.2f}x",
         ""),
        row(f"thumbnail p95, 20 clients ({len(paths['s3'])} thumbnails)", thumb["local"],
            thumb["s3"], "ms", thumb["s3"] / thumb["local"]),
        (f"full-pipeline ingest, 2 workers, {batch} photos", f"{rate['local']:.2f} /s",
         f"{rate['s3']:.2f} /s", f"{rate['local'] / rate['s3']:.2f}x",
         "met" if rate["local"] / rate["s3"] <= TARGET else "NOT met"),
    ]  # fmt: skip
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nblob stores — {os.cpu_count()} CPUs (load {load}), "
        f"{'quick, ' if args.quick else ''}median of {runs} runs, S3 = SeaweedFS "
        "`weed server -s3` on this machine"
    )
    print_table(
        ("measure", "local store", "S3 store", "S3 cost vs local", f"<= {TARGET}x"),
        rows + worker_host_rows(),
    )
    print(
        "\nS3 cost: S3 time / local time (for ingest, local rate / S3 rate), so above 1 means"
        "\nthe object store is slower. Both vaults run the same code on the same machine, one"
        "\nafter the other in alternating order; weed shares the 2 cores with everything else."
        "\n'written by the store alone': the upload's bytes through LocalStore (temporary file,"
        "\nfsync, rename) and S3Store (one PUT to weed's gateway, which passes them to its filer"
        "\nand volume server): the part of the upload row no vault code can remove. Its CPU:"
        "\nthe writing process's, plus weed's (MD5 of every byte, for the S3 ETag and again"
        "\nbetween weed's own servers) on the same 2 cores."
    )


if __name__ == "__main__":
    main()
