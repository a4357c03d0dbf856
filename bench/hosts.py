"""Benchmark of issue 23: full-pipeline ingest with one worker host against two.

Run as root: .venv/bin/python bench/hosts.py   (about 4 minutes; `--quick`: about 2)

It builds the multi-host lab of tests/multihost (vaultdev/multihost.py: network namespaces for
the web with PostgreSQL and Valkey behind TLS, a SeaweedFS cluster of a master, two volume
servers and a filer with the S3 gateway, a client, and worker hosts with no shared directory),
signs one user in, and measures batches of photos (scikit-image's astronaut, coffee, cat and
rocket scaled to 2000 px, ~250 KB each: decode, EXIF, two thumbnails, tags, faces, every blob
through S3):

- processing: the batch is uploaded while the workers are suspended (`rq suspend`), then they
  resume; the time from the first job's start to the last job's end, from RQ's job records;
- end to end: the batch is uploaded one file per request, as the upload page sends them, while
  the workers run; the time from the first request until every photo is ready (the client polls
  the status the page polls).

CPUs (2 cores): worker host A is pinned to CPU 0, worker host B to CPU 1 (taskset); the web,
PostgreSQL, Valkey, SeaweedFS and the client float over both. With one worker host, CPU 1 is
left to those; with two, they share both cores with the workers. Each worker runs one
process with VAULT_ML_THREADS=1. Target: two worker hosts >= 1.7x one. Each figure is the
median of several runs; not a test (the numbers depend on what else runs on the machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vaultdev import multihost, netns  # noqa: E402
from vaultdev.report import print_table  # noqa: E402
from vaultdev.samples.lab_photos import lab_photos  # noqa: E402


def _upload(client, photos) -> list[str]:
    return [client.upload(name, data) for name, data, _subject in photos]


def _wait_ready(client, photo_ids: list[str]) -> None:
    def ready() -> bool:
        states = {entry["state"] for entry in client.status(photo_ids).values()}
        if "failed" in states or "missing" in states:
            raise RuntimeError(f"a photo did not make it: {states}")
        return states == {"ready"}

    multihost.wait_for(ready, timeout=600, interval=0.25, what="the batch ready")


def processing_seconds(vault, client, photos) -> float:
    """Upload with the workers suspended, resume them: first job start to last job end."""
    from rq.suspension import resume, suspend

    with vault.web.entered():
        suspend(vault.redis())
    try:
        ids = _upload(client, photos)
    finally:
        with vault.web.entered():
            resume(vault.redis())
    _wait_ready(client, ids)
    times = vault.job_times(ids)
    return max(end for _start, end in times.values()) - min(s for s, _end in times.values())


def end_to_end_seconds(client, photos) -> float:
    start = time.perf_counter()
    ids = _upload(client, photos)
    _wait_ready(client, ids)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer photos and runs")
    args = parser.parse_args()
    reason = netns.unavailable()
    if reason:
        sys.exit(f"bench/hosts.py: {reason}")
    runs = 3 if args.quick else 5
    batch = 16 if args.quick else 24
    # 2000 px: a worker's share of a photo (decode, thumbnails, face detection) outweighs the
    # fixed cost every photo puts on the shared hosts (requests, TLS relay, S3 round trips).
    photos = iter(lab_photos(2 * 2 * runs * batch, seed=5, side=2000))

    def next_batch():
        return [next(photos) for _ in range(batch)]

    results: dict[str, dict[str, list[float]]] = {}
    lab = netns.Lab()
    try:
        print("starting the lab…", flush=True)
        vault = multihost.start_vault_lab(lab)
        client = multihost.Client(vault)
        client.sign_in()
        for label, roles in (("1 worker host", ("worker-a",)), ("2 worker hosts", ("worker-b",))):
            vault.start_workers(*roles)
            print(f"{label}: {runs} runs of {batch} photos…", flush=True)
            results[label] = {"processing": [], "end to end": []}
            for _ in range(runs):
                results[label]["processing"].append(processing_seconds(vault, client, next_batch()))
                results[label]["end to end"].append(end_to_end_seconds(client, next_batch()))
    finally:
        lab.close()

    rows = []
    for kind in ("processing", "end to end"):
        one = statistics.median(results["1 worker host"][kind])
        for label in results:
            seconds = statistics.median(results[label][kind])
            rows.append(
                (
                    f"{kind}, {label}",
                    f"{seconds:.2f}",
                    f"{batch / seconds:.2f}",
                    f"{one / seconds:.2f}x",
                    " ".join(f"{s:.1f}" for s in results[label][kind]),
                )
            )
    print()
    print(f"{batch} photos a batch, median of {runs} runs (target: 2 worker hosts >= 1.7x one)")
    print_table(("batch", "median s", "photos/s", "vs 1 host", "runs (s)"), rows)


if __name__ == "__main__":
    main()
