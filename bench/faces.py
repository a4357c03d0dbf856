"""Benchmark of the face models: detection time on a 12-megapixel photo, embedding time per
face, load time and memory; then the clustering rows of bench/faces_clustering.py when it is
there.

Run: .venv/bin/python bench/faces.py   (about 2 minutes on 2 cores for the face models, plus
bench/faces_clustering.py's ~10; `--quick` about 1 + 3; `--no-clustering` skips the latter)

- the 12 MP photo is training/face_detection_eval.py's composite: the real photos with faces
  that installed packages carry (and deepface's group photos when $DEEPFACE_DATASET names
  them) pasted onto a 4000 × 3000 picture, faces 40-300 px; decoded once, in memory, as the
  pipeline hands it over;
- detection: `FaceDetector.detect` as shipped (whole picture + its tiles), the whole-picture
  pass alone, and the baseline: the same picture at the 1600 × 1200 preview size, measured in
  the same run (the models take turns within each run); median of several runs;
- embedding: `FaceEmbedder.embed` per face (5-point alignment + ResNet), the crop
  (`face_crop`) and the blur/size check (`face_is_clusterable`), per face, median;
- load and memory in a fresh process: import of mediapipe + dlib, both loads (sha256 check
  included), VmRSS after each, and VmHWM (peak) after 30 photos detected and embedded.
Not a test: the numbers depend on the machine and on what else runs (the load average is
printed).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("GLOG_minloglevel", "2")

from vaultdev.report import memory_mib, print_table  # noqa: E402

MIB = 1 << 20
PREVIEW = (1600, 1200)


def twelve_megapixels():
    """(the 12 MP composite, its preview-sized copy), upright RGB."""
    from PIL import Image

    from training.face_detection_eval import composite, photos_load

    deepface = os.environ.get("DEEPFACE_DATASET")
    photos, _missing = photos_load(Path(deepface) if deepface else None)
    large = composite(photos)
    if large is None:
        raise SystemExit("no photo with faces on this machine (scikit-image, matplotlib?)")
    preview = large.image.resize(PREVIEW, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return large.image, preview


def child(count: int) -> None:
    """Runs in a fresh interpreter; prints one JSON line."""
    started = time.perf_counter()
    import dlib  # noqa: F401 - timed: what a worker imports before its first face
    import mediapipe  # noqa: F401

    from worker.ai.face_detector import load_face_detector
    from worker.ai.face_embedder import load_face_embedder

    imported = time.perf_counter()
    out: dict = {"import_s": imported - started, "after_import": memory_mib()}
    detector = load_face_detector(ROOT / "models")
    out["detector_s"] = time.perf_counter() - imported
    loaded = time.perf_counter()
    embedder = load_face_embedder(ROOT / "models")
    out["embedder_s"] = time.perf_counter() - loaded
    out["after_load"] = memory_mib()
    large, preview = twelve_megapixels()
    for number in range(count):
        image = large if number % 2 == 0 else preview
        embedder.embed(image, detector.detect(image))
    out["after_work"] = memory_mib()
    print(json.dumps(out))


def in_fresh_process(count: int) -> dict:
    command = [sys.executable, __file__, "--child", "--count", str(count)]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if result.returncode != 0:
        raise SystemExit(f"child failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def timed(fn, runs: int) -> tuple[float, float]:
    """(median wall ms, median CPU ms of this process, all its threads) of `runs` calls, after
    one untimed call. CPU time is what the call costs the machine; wall time also counts
    waiting for cores that other processes hold."""
    fn()
    wall, cpu = [], []
    for _ in range(runs):
        started, started_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def face_rows(runs: int) -> tuple[list[tuple], dict]:
    from worker.ai.face_detector import face_is_clusterable, load_face_detector
    from worker.ai.face_embedder import face_crop, load_face_embedder

    detector = load_face_detector(ROOT / "models")
    embedder = load_face_embedder(ROOT / "models")
    whole_only = dataclasses.replace(detector, tiling=None)
    large, preview = twelve_megapixels()
    calls = {
        "preview": lambda: detector.detect(preview),
        "shipped": lambda: detector.detect(large),
        "whole": lambda: whole_only.detect(large),
    }
    wall: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    for fn in calls.values():
        fn()  # warm: the first call of each shape sets up buffers
    for _ in range(runs):  # taking turns, so that other load slows all alike
        for name, fn in calls.items():
            started, started_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[name].append((time.perf_counter() - started) * 1000)
            cpu[name].append((time.process_time() - started_cpu) * 1000)
    ms = {name: (statistics.median(wall[name]), statistics.median(cpu[name])) for name in calls}
    faces = detector.detect(large)
    count = max(1, len(faces))
    per_face = {
        "embed": timed(lambda: embedder.embed(large, faces), runs),
        "crop": timed(lambda: [face_crop(large, face) for face in faces], runs),
        "check": timed(lambda: [face_is_clusterable(large, face) for face in faces], runs),
    }
    base = ms["preview"][0]
    grid = f"{detector.tiling.columns} x {detector.tiling.rows}" if detector.tiling else "no"

    def row(label: str, measured: tuple[float, float], ratio: bool = True, per: int = 1):
        wall_ms, cpu_ms = measured[0] / per, measured[1] / per
        return (label, f"{wall_ms:.1f}", f"{cpu_ms:.1f}", f"{wall_ms / base:.2f}x" if ratio else "")

    rows = [
        row("detect, 1600 x 1200 preview, shipped (baseline)", ms["preview"]),
        row(f"detect, 12 MP, shipped (whole picture + {grid} tiles)", ms["shipped"]),
        row("detect, 12 MP, whole-picture pass only", ms["whole"]),
        row("embed (5-point alignment + ResNet), per face", per_face["embed"], False, count),
        row("face_crop (160 px thumbnail), per face", per_face["crop"], False, count),
        row("face_is_clusterable (size + blur), per face", per_face["check"], False, count),
    ]
    info = {
        "faces": len(faces),
        "found_whole": len(whole_only.detect(large)),
        "found_preview": len(detector.detect(preview)),
        "detector": detector.model_id,
        "embedder": embedder.model_id,
    }
    return rows, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument(
        "--no-clustering", action="store_true", help="skip bench/faces_clustering.py's rows"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.count)
        return
    runs, photos = (3, 10) if args.quick else (7, 30)
    load_before = os.getloadavg()[0]
    fresh = in_fresh_process(photos)
    rows, info = face_rows(runs)
    print(f"faces — {os.cpu_count()} CPUs, median of {runs} runs")
    print(f"detector {info['detector']}, embedder {info['embedder']}")
    print(
        f"12 MP composite: {info['faces']} faces found as shipped, {info['found_whole']} by the "
        f"whole-picture pass alone, {info['found_preview']} on the preview"
    )
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print()
    print_table(("measure", "wall ms", "CPU ms", "wall vs baseline"), rows)
    print()
    memory_rows = [
        ("import mediapipe + dlib, fresh process (s)", f"{fresh['import_s']:.2f}"),
        ("load_face_detector: sha256 + mediapipe graph (s)", f"{fresh['detector_s']:.2f}"),
        ("load_face_embedder: sha256 of both files + dlib (s)", f"{fresh['embedder_s']:.2f}"),
        ("VmRSS after imports (MiB)", f"{fresh['after_import']['VmRSS']:.0f}"),
        ("VmRSS after loading both models (MiB)", f"{fresh['after_load']['VmRSS']:.0f}"),
        (
            f"VmRSS after {photos} photos detected + embedded (MiB)",
            f"{fresh['after_work']['VmRSS']:.0f}",
        ),
        (f"VmHWM (peak) after {photos} photos (MiB)", f"{fresh['after_work']['VmHWM']:.0f}"),
    ]
    print_table(("fresh process", "value"), memory_rows)
    if args.no_clustering:
        return
    try:
        from bench import faces_clustering
    except ImportError:
        print("\n(bench/faces_clustering.py is not there: no clustering rows)")
        return
    print()
    header = getattr(faces_clustering, "HEADER", None)
    clustering = faces_clustering.rows(quick=args.quick)
    if header is None:
        header = tuple(f"column {i + 1}" for i in range(len(clustering[0]))) if clustering else ()
    print_table(tuple(header), [tuple(str(cell) for cell in row) for row in clustering])


if __name__ == "__main__":
    main()
