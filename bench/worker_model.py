"""The worker's process model, measured on real RQ workers and a real Valkey: RQ's
SimpleWorker (jobs run in the worker process, the tagger loaded once — what VaultWorker is)
against RQ's default forking Worker (a work horse forked per job, so a model loaded in the job
is loaded again for every photo; preloading it in the parent instead risks TensorFlow's
fork deadlock, tensorflow#51832, keras#9964, so that variant is not run). Also the worker's
memory over many jobs. Used by bench/tagger.py; also runs alone:

    .venv/bin/python -m bench.worker_model [--jobs-memory 500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ["chelsea.png", "coffee.png", "motorcycle_left.png", "astronaut.png", "rocket.jpg"]
SIMPLE = "rq.worker.SimpleWorker"
WORKER_CLASSES = {
    "SimpleWorker (VaultWorker: in process, loaded once)": SIMPLE,
    "Worker (fork per job, loaded per job)": "rq.worker.Worker",
}


def _rss_kb(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def tag_job(photo: str) -> dict:
    """The RQ job: tag one scikit-image photo with the active tagger, as the pipeline step
    does (the tagger cached per process by worker.ai.loader). Returns the process's memory."""
    import skimage
    from PIL import Image

    from worker.ai.tagger import load_tagger

    tagger = load_tagger(ROOT / "models", threads=int(os.environ.get("VAULT_ML_THREADS", "2")))
    with Image.open(Path(skimage.__file__).parent / "data" / photo) as image:
        labels = tagger.tag(image.convert("RGB"))
    return {
        "rss_kb": _rss_kb(),
        "hwm_kb": _rss_kb("VmHWM"),
        "labels": [item.label for item in labels],
        "pid": os.getpid(),
    }


def _run_jobs(redis_url: str, worker_class: str, count: int) -> list:
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(redis_url)
    connection.flushdb()
    queue = Queue("bench", connection=connection)
    jobs = [
        queue.enqueue("bench.worker_model.tag_job", PHOTOS[i % len(PHOTOS)], result_ttl=3600)
        for i in range(count)
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    subprocess.run(
        [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", redis_url, "-w",
         worker_class, "--logging_level", "WARNING", "bench"],
        cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    for job in jobs:
        job.refresh()
        if not job.is_finished:
            raise RuntimeError(f"job {job.id} did not finish: {job.get_status()}")
    return jobs


def _job_seconds(job) -> float:
    return (job.ended_at - job.started_at).total_seconds()


def worker_process_model_rows(*, jobs: int = 5) -> list[tuple[str, ...]]:
    """Rows (model, first job ms, median later job ms, ratio to SimpleWorker): each job's
    time from RQ's own started/ended stamps, so worker start-up is not counted."""
    from vaultdev.services import start_valkey

    with tempfile.TemporaryDirectory(prefix="spv-bw-", dir="/tmp") as tmp:
        valkey = start_valkey(Path(tmp) / "v", Path(tmp) / "v.sock", persist=False)
        try:
            medians = {}
            firsts = {}
            for name, worker_class in WORKER_CLASSES.items():
                finished = _run_jobs(valkey.url, worker_class, jobs)
                times = [_job_seconds(job) for job in finished]
                firsts[name] = times[0]
                medians[name] = statistics.median(times[1:])
        finally:
            valkey.stop()
    baseline = medians[next(iter(WORKER_CLASSES))]
    return [
        (name, f"{firsts[name] * 1000:.0f}", f"{medians[name] * 1000:.0f}",
         f"{medians[name] / baseline:.1f}x")
        for name in WORKER_CLASSES
    ]  # fmt: skip


def memory_rows(*, jobs: int = 500) -> list[tuple[str, ...]]:
    """The SimpleWorker's resident memory after its first job (the tagger loaded) and after
    `jobs` jobs, from the jobs' own /proc/self/status."""
    from vaultdev.services import start_valkey

    with tempfile.TemporaryDirectory(prefix="spv-bm-", dir="/tmp") as tmp:
        valkey = start_valkey(Path(tmp) / "v", Path(tmp) / "v.sock", persist=False)
        try:
            results = [job.return_value() for job in _run_jobs(valkey.url, SIMPLE, jobs)]
        finally:
            valkey.stop()
    assert len({result["pid"] for result in results}) == 1  # one process ran them all
    mib = 1024
    return [
        ("after job 1 (tagger loaded)", f"{results[0]['rss_kb'] / mib:.0f}", ""),
        (f"after job {jobs}", f"{results[-1]['rss_kb'] / mib:.0f}",
         f"{results[-1]['rss_kb'] / results[0]['rss_kb']:.2f}x"),
        (f"peak over {jobs} jobs (VmHWM)", f"{results[-1]['hwm_kb'] / mib:.0f}", ""),
    ]  # fmt: skip


WORKER_HEADER = ("worker process model", "first job ms", "median ms/job", "vs SimpleWorker")
MEMORY_HEADER = ("worker RSS (SimpleWorker)", "MiB", "vs job 1")


def main() -> None:
    from vaultdev.report import print_table

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5, help="jobs per process model")
    parser.add_argument("--jobs-memory", type=int, default=500)
    args = parser.parse_args()
    started = time.monotonic()
    print_table(WORKER_HEADER, worker_process_model_rows(jobs=args.jobs))
    print()
    print_table(MEMORY_HEADER, memory_rows(jobs=args.jobs_memory))
    threads = os.environ.get("VAULT_ML_THREADS", "2")
    print(f"\n({time.monotonic() - started:.0f} s; VAULT_ML_THREADS={threads})")


if __name__ == "__main__":
    main()
