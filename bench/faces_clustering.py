"""Benchmark of the face clustering (worker/clustering.py; exemplars and incremental assignment
in vault/people/embeddings.py): a full re-clustering of 10k, 50k and 100k faces, incremental
assignment per face, and peak memory, against scikit-learn's DBSCAN measured in the same run.

Run: .venv/bin/python bench/faces_clustering.py [--quick]   (~10 min; --quick ~3 min)
bench/faces.py prints these rows too (it calls rows()).

- full re-clustering: cluster_faces on n synthetic faces of one user (no names yet, the worst
  case: every face is free), median of several runs, each size in a fresh process whose peak
  memory (VmHWM) is reported. Wall time and CPU time (of the process, all threads): on a
  shared machine the wall time measures the neighbours' load too; the ratio uses CPU time.
  Baseline: sklearn.cluster.DBSCAN(algorithm="brute") on the same embeddings in its own fresh
  process — the DBSCAN alone, without the constraints, so the ratio flatters the baseline.
  (Its ball_tree and kd_tree were slower still in 128-D: 42 s and 76 s for 10k faces against
  1.5 s brute, measured once while writing this.)
- re-clustering with names: the same 100k faces after the user named the 50 largest people
  (protected), 10 % of their faces new since: the run every later batch pays.
- incremental assignment: assign_incremental for 2,000 new faces against 500 people with
  MAX_EXEMPLARS exemplars each, through an ExemplarIndex built once per job (what the worker
  does) and, as the baseline, a plain dict (the (people × k, 128) matrix stacked per face).
- exemplars: exemplars() for those 500 people (~200 faces each).

Synthetic faces have the spread of real dlib embeddings measured on the deepface set
(training/evaluate_faces.py): same person median ~0.39, different people median ~0.89;
people sizes follow Zipf (s = 0.8) — a few people in most photos, many seen a few times — and
10 % of faces are strangers seen once. Not a test: the figures depend on the machine and on what
else runs (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from training.synthetic_faces import STRANGERS, synthetic_embeddings  # noqa: E402
from vaultdev.report import memory_mib, print_table  # noqa: E402

MIB = 1 << 20
FACES_PER_PERSON = 200  # people = n / 200: 500 people in 100k faces
SIZES = (10_000, 50_000, 100_000)
NAMED = 50
HEADER = ("measure", "ours", "baseline", "baseline / ours", "peak RSS ours / baseline (MiB)")


# --- fresh processes --------------------------------------------------------------------------


def child(mode: str, n: int, runs: int) -> None:
    """Runs in a fresh interpreter; prints one JSON line: seconds per run, memory."""
    from sklearn.cluster import DBSCAN

    from vault.people import embeddings
    from worker import clustering

    x, labels, photos = synthetic_embeddings(n, max(1, n // FACES_PER_PERSON), seed=1)
    people: list = []
    owner: list = [None] * n
    if mode == "named":
        # the NAMED largest people are named; 90 % of their faces are theirs, 10 % are new
        named = np.argsort(-np.bincount(labels[labels >= 0]))[:NAMED]
        people = [embeddings.PersonItem(f"p{p}", True) for p in named]
        rng = np.random.default_rng(4)
        for i in np.flatnonzero(np.isin(labels, named) & (rng.random(n) < 0.9)):
            owner[i] = f"p{labels[i]}"

    # imports and first-call set-up (sklearn, scipy, threadpoolctl) are not what a run costs
    clustering.cluster_faces([embeddings.FaceItem(str(i), "p", x[i], None) for i in range(50)], [])
    DBSCAN(eps=0.5, min_samples=3, algorithm="brute").fit(x[:50])
    before = memory_mib()
    times, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        if mode in ("ours", "named"):
            faces = [embeddings.FaceItem(f"f{i:06d}", photos[i], x[i], owner[i]) for i in range(n)]
            result = clustering.cluster_faces(faces, people)
            made = len(result.new_people) + len(people)
        else:
            found = DBSCAN(
                eps=embeddings.DISTANCE_THRESHOLD,
                min_samples=embeddings.MIN_CLUSTER_SIZE,
                algorithm="brute",
            ).fit_predict(x)
            made = int(found.max()) + 1
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    print(
        json.dumps(
            {"times": times, "cpu": cpu, "before": before, "after": memory_mib(), "people": made}
        )
    )


def in_fresh_process(mode: str, n: int, runs: int) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--child", mode, "--n", str(n), "--runs", str(runs)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise SystemExit(f"child {mode} {n} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- in-process timings ----------------------------------------------------------------------


def incremental(runs: int, faces: int = 2000, people: int = 500) -> dict[str, float]:
    """ms per new face through an ExemplarIndex and through a dict; s for the exemplars."""
    from vault.people import embeddings

    x, labels, _ = synthetic_embeddings(people * FACES_PER_PERSON, people, seed=2)
    started = time.perf_counter()
    by_person = {
        f"p{p}": embeddings.exemplars(x[labels == p]) for p in range(people) if (labels == p).any()
    }
    exemplar_s = time.perf_counter() - started
    new, _, _ = synthetic_embeddings(faces, people, seed=3)
    index = embeddings.ExemplarIndex(by_person)
    samples: dict[str, list[float]] = {"index": [], "dict": []}
    for _ in range(runs):
        for name, people_arg in (("index", index), ("dict", by_person)):
            count = faces if name == "index" else faces // 10
            started = time.perf_counter()
            for row in new[:count]:
                embeddings.assign_incremental(row, people_arg, excluded=("p0",))
            samples[name].append((time.perf_counter() - started) / count * 1000)
    return {
        "index_ms": statistics.median(samples["index"]),
        "dict_ms": statistics.median(samples["dict"]),
        "exemplars_s": exemplar_s,
        "people": len(by_person),
        "exemplar_rows": sum(len(e) for e in by_person.values()),
    }


def rows(quick: bool = False) -> list[tuple[str, ...]]:
    """The table's rows (HEADER), measured now: several minutes."""
    from vault.people import embeddings

    runs = 2 if quick else 3
    out = []
    for n in SIZES:
        ours = in_fresh_process("ours", n, 1 if n >= 100_000 and quick else runs)
        # the brute baseline at 100k takes many minutes: once, and only without --quick
        base_runs = 0 if (quick and n > 10_000) else (1 if n > 10_000 else runs)
        base = in_fresh_process("sklearn", n, base_runs) if base_runs else None
        ours_s, ours_cpu = statistics.median(ours["times"]), statistics.median(ours["cpu"])
        base_cpu = statistics.median(base["cpu"]) if base else None
        out.append(
            (
                f"full re-clustering, {n // 1000}k faces (s, CPU s; {len(ours['times'])}"
                f"{'/' + str(len(base['times'])) if base else ''} runs; {ours['people']} people)",
                f"{ours_s:.1f} (CPU {ours_cpu:.1f})",
                f"{statistics.median(base['times']):.1f} (CPU {base_cpu:.1f})"
                if base
                else "not run",
                f"{base_cpu / ours_cpu:.1f}x" if base else "-",
                f"{ours['after']['VmHWM']:.0f} / "
                + (f"{base['after']['VmHWM']:.0f}" if base else "-"),
            )
        )
    named = in_fresh_process("named", SIZES[-1], 1 if quick else runs)
    out.append(
        (
            f"re-clustering {SIZES[-1] // 1000}k faces, the {NAMED} largest people named "
            f"(90 % of their faces theirs, 10 % new; s, CPU s; {len(named['times'])} runs)",
            f"{statistics.median(named['times']):.1f} (CPU {statistics.median(named['cpu']):.1f})",
            "-",
            "-",
            f"{named['after']['VmHWM']:.0f} / -",
        )
    )
    inc = incremental(runs)
    out.append(
        (
            f"incremental assignment, ms per face ({inc['people']} people × "
            f"{embeddings.MAX_EXEMPLARS} exemplars; baseline: a dict per call)",
            f"{inc['index_ms']:.2f}",
            f"{inc['dict_ms']:.2f}",
            f"{inc['dict_ms'] / inc['index_ms']:.1f}x",
            "-",
        )
    )
    out.append(
        (
            f"exemplars for {inc['people']} people of ~{FACES_PER_PERSON} faces (s)",
            f"{inc['exemplars_s']:.1f}",
            "-",
            "-",
            "-",
        )
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs, no large baselines")
    parser.add_argument("--child", choices=("ours", "named", "sklearn"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--runs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.n, args.runs)
        return
    from vault.people import embeddings

    load_before = os.getloadavg()[0]
    table = rows(args.quick)
    threads = os.environ.get("VAULT_ML_THREADS", "2")
    print(f"face clustering — {os.cpu_count()} CPUs, VAULT_ML_THREADS={threads}, median of runs")
    print(
        f"DISTANCE_THRESHOLD {embeddings.DISTANCE_THRESHOLD}, MIN_CLUSTER_SIZE "
        f"{embeddings.MIN_CLUSTER_SIZE}, MAX_EXEMPLARS {embeddings.MAX_EXEMPLARS}; synthetic "
        f"faces, {FACES_PER_PERSON} per person (Zipf), {STRANGERS:.0%} strangers"
    )
    print("baseline: sklearn.cluster.DBSCAN(algorithm='brute'), DBSCAN alone; own fresh process")
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print()
    print_table(HEADER, table)


if __name__ == "__main__":
    main()
