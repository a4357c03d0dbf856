"""Benchmark of the tagger: load time, time per photo and memory, for the default model against a
VGG16 with the same six-label head (the seed design's model), measured in the same run.

Run: .venv/bin/python bench/tagger.py   (about 6 minutes on 2 cores; `--quick` about 3)

- load time: `load_tagger` (sha256 check + Keras load) in a fresh process, and the import of
  TensorFlow + Keras that comes before it, median of 3 processes each;
- ms per photo at batch 1 (what the worker does: one photo per job) and batch 16, through the
  Tagger API (resize and crop + forward pass + label mapping) and through the bare
  `model.predict_on_batch` on ready arrays, median of several runs;
- process memory (VmRSS, and VmHWM = peak) in a fresh process after importing TensorFlow, after
  loading the tagger, and after tagging 500 photos one by one.

The photos are real ones that scikit-image ships (300–1400 px, decoded once, in memory), so the
resize cost is that of a preview-sized decode, as the worker's draft decoding gives it.
VGG16 = keras.applications.VGG16(weights=None, include_top=False) + global average pooling +
Dense(6, softmax): random weights, which cost the same time as trained ones. The "VGG16 /
default" column is the ratio. Threads: VAULT_ML_THREADS (default 2), as the worker sets them.
Not a test: the numbers depend on the machine and on what else runs.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Keep TensorFlow's start-up chatter out of the table; errors still show.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from vaultdev.report import memory_mib, print_table  # noqa: E402

THREADS = int(os.environ.get("VAULT_ML_THREADS", "2"))
MIB = 1 << 20
PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "motorcycle_left.png",
    "rocket.jpg",
    "camera.png",
    "retina.jpg",
    "hubble_deep_field.jpg",
)
VGG_LABELS = ["human", "landscape", "animal", "vehicle", "fruit", "other"]


# --- inputs and models ----------------------------------------------------------------------


def photos() -> list:
    """The benchmark photos, decoded once, upright RGB, as the worker hands them to the tagger."""
    import skimage
    from PIL import Image, ImageOps

    root = Path(skimage.__file__).parent / "data"
    images = []
    for name in PHOTOS:
        with Image.open(root / name) as image:
            images.append(ImageOps.exif_transpose(image).convert("RGB"))
    return images


def vgg16_models_dir(parent: Path) -> Path:
    """A models/ directory holding a random-weight VGG16 tagger and its card, so that it is
    loaded through exactly the same path (card, sha256, Keras load) as the default model."""
    import keras

    from vault import modelcards

    models_dir = parent / "vgg16-models"
    models_dir.mkdir()
    base = keras.applications.VGG16(weights=None, include_top=False, input_shape=(224, 224, 3))
    head = keras.layers.Dense(len(VGG_LABELS), activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(base.output)
    )
    model = keras.Model(base.input, head)
    file = models_dir / "tagger-vgg16-bench.keras"
    model.save(file)
    modelcards.card_write(
        models_dir / "tagger-vgg16-bench.json",
        {
            "name": "vgg16-random-bench",
            "task": "tagger",
            "file": file.name,
            "sha256": modelcards.file_sha256(file),
            "format": "keras",
            "source": "keras.applications.VGG16(weights=None), random weights: timing only",
            "licence": "MIT",
            "labels": VGG_LABELS,
            "input": {"size": [224, 224], "resize": "center-crop", "range": "0-255"},
            "outputs": VGG_LABELS,
            "output_activation": "softmax",
            "label_map": {label: [i] for i, label in enumerate(VGG_LABELS[:-1])},
            "thresholds": dict.fromkeys(VGG_LABELS[:-1], 0.5),
            "made_by": "bench/tagger.py",
            "date": datetime.date.today().isoformat(),
            "active": True,
        },
    )
    return models_dir


# --- fresh processes ------------------------------------------------------------------------


def child(mode: str, models_dir: Path, count: int) -> None:
    """Runs in a fresh interpreter (see in_fresh_process); prints one JSON line."""
    started = time.perf_counter()
    import keras  # noqa: F401 - timed: every worker pays this import before its first load
    import tensorflow  # noqa: F401

    from worker.ai.loader import configure_threads
    from worker.ai.tagger import load_tagger

    configure_threads(THREADS)
    imported = time.perf_counter()
    out: dict = {"import_s": imported - started, "after_import": memory_mib()}
    tagger = load_tagger(models_dir, threads=THREADS)
    out["load_s"] = time.perf_counter() - imported
    out["after_load"] = memory_mib()
    if mode == "memory":
        images = photos()
        for number in range(count):
            tagger.tag(images[number % len(images)])
        out["after_tagging"] = memory_mib()
    print(json.dumps(out))


def in_fresh_process(mode: str, models_dir: Path, count: int = 0) -> dict:
    command = [sys.executable, __file__, "--child", mode, "--models-dir", str(models_dir)]
    result = subprocess.run(
        [*command, "--count", str(count)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if result.returncode != 0:
        raise SystemExit(f"child {mode} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- in-process timing ----------------------------------------------------------------------


def timed_calls(tagger, images: list) -> dict[str, tuple]:
    """{measure: (fn, photos per call, calls per run)}: the four per-photo timings."""
    import numpy as np

    from worker.ai.tagger import model_input

    batch16 = [images[i % len(images)] for i in range(16)]
    arrays16 = np.stack([model_input(image, tagger.card) for image in batch16])
    cursor = iter(range(1 << 30))

    def tag_one():
        return tagger.tag(images[next(cursor) % len(images)])

    return {
        "tag_1": (tag_one, 1, len(images)),
        "tag_16": (lambda: tagger.tag_batch(batch16), 16, 1),
        "raw_1": (lambda: tagger.model.predict_on_batch(arrays16[:1]), 1, len(images)),
        "raw_16": (lambda: tagger.model.predict_on_batch(arrays16), 16, 1),
    }


def timings(taggers: dict, images: list, runs: int) -> dict[str, dict[str, float]]:
    """{model: {measure: median ms per photo}}. The models take turns within each run, so
    that whatever else the machine does slows both alike and the ratio stays fair."""
    calls = {name: timed_calls(tagger, images) for name, tagger in taggers.items()}
    for by_measure in calls.values():
        for fn, _, _ in by_measure.values():
            fn()  # the first call traces the model's graph: not what a photo costs afterwards
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in taggers}
    for _ in range(runs):
        for measure in ("tag_1", "tag_16", "raw_1", "raw_16"):
            for name in taggers:
                fn, per_call, count = calls[name][measure]
                started = time.perf_counter()
                for _ in range(count):
                    fn()
                elapsed = (time.perf_counter() - started) / (count * per_call)
                samples[name].setdefault(measure, []).append(elapsed)
    return {
        name: {measure: statistics.median(values) * 1000 for measure, values in by.items()}
        for name, by in samples.items()
    }


# --- the worker's process model (filled in by the lead) -------------------------------------


# --- main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--quick", action="store_true", help="fewer runs and photos")
    parser.add_argument("--child", choices=("load", "memory"), help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.models_dir, args.count)
        return

    runs, load_runs, tagged = (3, 2, 100) if args.quick else (5, 3, 500)
    from worker.ai.loader import ModelUnavailable, configure_threads
    from worker.ai.tagger import load_tagger

    configure_threads(THREADS)  # before the first TensorFlow op, as the worker does
    # Printed with the table: other processes on the same cores skew every figure.
    load_before = os.getloadavg()[0]
    try:
        default = load_tagger(args.models_dir, threads=THREADS)
    except ModelUnavailable as error:
        raise SystemExit(f"no usable tagger in {args.models_dir}: {error}") from None
    images = photos()

    with tempfile.TemporaryDirectory(prefix="bench-tagger-") as tmp:
        vgg_dir = vgg16_models_dir(Path(tmp))
        vgg = load_tagger(vgg_dir, threads=THREADS)
        dirs = {"default": args.models_dir, "vgg16": vgg_dir}
        taggers = {"default": default, "vgg16": vgg}
        # Fresh processes alternate between the models for the same reason as timings().
        loads: dict[str, list] = {name: [] for name in dirs}
        for _ in range(load_runs):
            for name, models_dir in dirs.items():
                loads[name].append(in_fresh_process("load", models_dir))
        memory = {name: in_fresh_process("memory", d, tagged) for name, d in dirs.items()}
        per_photo = timings(taggers, images, runs)
        measured = {
            name: {
                "import_s": statistics.median(load["import_s"] for load in loads[name]),
                "load_s": statistics.median(load["load_s"] for load in loads[name]),
                **per_photo[name],
                "rss_import": memory[name]["after_import"]["VmRSS"],
                "rss_loaded": memory[name]["after_load"]["VmRSS"],
                "rss_tagged": memory[name]["after_tagging"]["VmRSS"],
                "hwm_tagged": memory[name]["after_tagging"]["VmHWM"],
                "file_mb": tagger.card.file.stat().st_size / 1e6,
                "params_m": tagger.model.count_params() / 1e6,
            }
            for name, tagger in taggers.items()
        }

    base, other = measured["default"], measured["vgg16"]
    rows_spec = [
        ("import TensorFlow + Keras, fresh process (s)", "import_s", "{:.2f}"),
        ("load_tagger: sha256 + Keras load, fresh process (s)", "load_s", "{:.2f}"),
        ("Tagger.tag, batch 1 (ms/photo)", "tag_1", "{:.1f}"),
        ("Tagger.tag_batch, batch 16 (ms/photo)", "tag_16", "{:.1f}"),
        ("model.predict_on_batch, batch 1 (ms/photo)", "raw_1", "{:.1f}"),
        ("model.predict_on_batch, batch 16 (ms/photo)", "raw_16", "{:.1f}"),
        ("VmRSS after importing TensorFlow (MiB)", "rss_import", "{:.0f}"),
        ("VmRSS after loading the tagger (MiB)", "rss_loaded", "{:.0f}"),
        (f"VmRSS after tagging {tagged} photos (MiB)", "rss_tagged", "{:.0f}"),
        (f"VmHWM (peak) after tagging {tagged} photos (MiB)", "hwm_tagged", "{:.0f}"),
        ("model file (MB)", "file_mb", "{:.1f}"),
        ("parameters (millions)", "params_m", "{:.1f}"),
    ]
    rows = [
        (label, fmt.format(base[key]), fmt.format(other[key]), f"{other[key] / base[key]:.2f}x")
        for label, key, fmt in rows_spec
    ]

    print(f"tagger — {os.cpu_count()} CPUs, VAULT_ML_THREADS={THREADS}, median of {runs} runs")
    print(f"(load: median of {load_runs} fresh processes; memory: one fresh process each)")
    print(f"default = {default.model_id}; VGG16 = random weights + GAP + Dense(6)")
    print(f"photos: {len(images)} scikit-image photos, {', '.join(PHOTOS)}")
    print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print()
    print_table(("measure", "default", "VGG16", "VGG16 / default"), rows)
    # The worker's process model and its memory over many jobs, on real RQ workers.
    from bench import worker_model

    print()
    print_table(worker_model.WORKER_HEADER, worker_model.worker_process_model_rows(jobs=5))
    print()
    memory_jobs = 100 if args.quick else 500
    print_table(worker_model.MEMORY_HEADER, worker_model.memory_rows(jobs=memory_jobs))


if __name__ == "__main__":
    main()
