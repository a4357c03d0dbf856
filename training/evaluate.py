"""How well the active tagger labels real photos: the hand-labelled manifest of photos that
installed packages carry (training/datasets/real_photos.csv, DESIGN §10), run through the
worker's own loader and tagger, scored per label and on the main label.

    python -m training.evaluate [--models-dir models] [--manifest training/datasets/real_photos.csv]
                                [--json] [--misses]

`--manifest training/datasets/real_photos_heldout.csv` reports the held-out part, which is never
used to choose the mapping or thresholds (training/datasets/README.md).

Not a test and not CI: a development-machine report. The numbers come from a small, lopsided
set (see training/datasets/README.md) and every figure quoted from it must say so.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image, ImageOps

from vault.modelcards import LABELS

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "training" / "datasets" / "real_photos.csv"
OPENCV_DOC_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
OPENCV_DOC_EXAMPLES = Path("/usr/share/doc/opencv-doc/examples")  # its other sample folders
OPENCV_DOC_HTML = Path("/usr/share/doc/opencv-doc/opencv4/html")  # the tutorials' photos
SOURCES = ("skimage", "matplotlib", "opencv-doc", "sklearn", "opencv-examples", "opencv-html")
# Photos never used to choose the mapping or the thresholds (training/datasets/README.md).
HELD_OUT = ROOT / "training" / "datasets" / "real_photos_heldout.csv"
TARGET_ACCURACY = 0.85  # main label right, from the tagging issue
TOP_OUTPUTS = 3  # model outputs shown per miss: enough to see which class a mapping lacks


# --- the manifest ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ManifestRow:
    source: str
    path: str  # relative to the source's root directory
    main_label: str
    labels: tuple[str, ...]
    note: str

    @property
    def name(self) -> str:
        return f"{self.source}:{self.path}"


def source_roots() -> dict[str, Path | None]:
    """Each source's root directory on this machine, or None when its package is missing.
    Resolved at run time because the packages live wherever the venv put them."""
    roots: dict[str, Path | None] = dict.fromkeys(SOURCES)
    try:
        import skimage

        roots["skimage"] = Path(skimage.__file__).parent / "data"
    except ImportError:
        pass
    try:
        import matplotlib

        roots["matplotlib"] = Path(matplotlib.get_data_path()) / "sample_data"
    except ImportError:
        pass
    # scikit-learn's two sample photos, found without importing it (seconds of start-up).
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.origin:
        roots["sklearn"] = Path(spec.origin).parent / "datasets" / "images"
    for source, folder in (
        ("opencv-doc", OPENCV_DOC_DATA),
        ("opencv-examples", OPENCV_DOC_EXAMPLES),
        ("opencv-html", OPENCV_DOC_HTML),
    ):
        if folder.is_dir():
            roots[source] = folder
    return roots


def manifest_read(path: Path = MANIFEST) -> list[ManifestRow]:
    """The manifest's rows, checked: known source, vault labels only, main label among the
    labels, `other` never combined with another label. Raises ValueError naming the line."""
    rows = []
    with Path(path).open(newline="", encoding="utf-8") as handle:
        for line, record in enumerate(csv.DictReader(handle), start=2):
            labels = tuple(label.strip() for label in record["labels"].split(";") if label.strip())
            row = ManifestRow(
                source=record["source"].strip(),
                path=record["path"].strip(),
                main_label=record["main_label"].strip(),
                labels=labels,
                note=(record.get("note") or "").strip(),
            )
            problem = _row_problem(row)
            if problem:
                raise ValueError(f"{Path(path).name} line {line} ({row.name}): {problem}")
            rows.append(row)
    names = Counter(row.name for row in rows)
    duplicated = [name for name, count in names.items() if count > 1]
    if duplicated:
        raise ValueError(f"{Path(path).name}: listed twice: {', '.join(duplicated)}")
    return rows


def _row_problem(row: ManifestRow) -> str | None:
    if row.source not in SOURCES:
        return f"unknown source {row.source!r}"
    if not row.path or Path(row.path).is_absolute() or ".." in Path(row.path).parts:
        return "path must be relative to the source's root"
    unknown = [label for label in row.labels if label not in LABELS]
    if unknown:
        return f"unknown labels {unknown}"
    if row.main_label not in row.labels:
        return f"main label {row.main_label!r} is not among its labels"
    if "other" in row.labels and len(row.labels) > 1:
        # The tagger gives `other` only when no label passes, so it can never be right together
        # with another label; such a row would count a miss whatever the tagger did.
        return "other cannot be combined with another label"
    return None


def photo_file(row: ManifestRow, roots: dict[str, Path | None]) -> Path | None:
    """The photo's file on this machine, or None when its source or the file is missing."""
    root = roots.get(row.source)
    if root is None:
        return None
    file = root / row.path
    return file if file.is_file() else None


def photo_open(file: Path) -> Image.Image:
    """Decoded as the worker sees an upload: upright (EXIF orientation applied), RGB."""
    with Image.open(file) as image:
        image.load()
        return ImageOps.exif_transpose(image).convert("RGB")


# --- one photo ------------------------------------------------------------------------------


@dataclass
class PhotoResult:
    name: str
    main_label: str
    labels: tuple[str, ...]
    given: list[tuple[str, float]]  # the tagger's labels, best first, with scores
    top_outputs: list[tuple[int, str, float]] = field(default_factory=list)  # index, name, p

    @property
    def best(self) -> str:
        return self.given[0][0]

    @property
    def correct(self) -> bool:
        return self.best == self.main_label


def photo_evaluate(tagger, row: ManifestRow, image: Image.Image) -> PhotoResult:
    """Tag one photo with the worker's Tagger and compare with its manifest row. The scores
    come from the same label_scores/labels_given the worker uses, from one forward pass that
    also yields the model's top outputs (what a mapping fix needs to know)."""
    from worker.ai.tagger import label_scores, labels_given

    probabilities = tagger.probabilities([image])[0]
    given = labels_given(label_scores(probabilities, tagger.card), tagger.card)
    outputs = tagger.card.get("outputs")
    top = probabilities.argsort()[::-1][:TOP_OUTPUTS]
    return PhotoResult(
        name=row.name,
        main_label=row.main_label,
        labels=row.labels,
        given=[(item.label, item.score) for item in given],
        top_outputs=[(int(i), outputs[i], round(float(probabilities[i]), 4)) for i in top],
    )


# --- the whole set --------------------------------------------------------------------------


def label_counts(results: list[PhotoResult]) -> dict[str, dict]:
    """Per vault label: support (photos whose manifest lists it), given (photos the tagger gave
    it), true positives, precision and recall (None when undefined: nothing given or no
    support)."""
    table = {}
    for label in LABELS:
        support = sum(label in r.labels for r in results)
        given = sum(label in dict(r.given) for r in results)
        hits = sum(label in r.labels and label in dict(r.given) for r in results)
        table[label] = {
            "support": support,
            "given": given,
            "true_positives": hits,
            "precision": round(hits / given, 4) if given else None,
            "recall": round(hits / support, 4) if support else None,
        }
    return table


def main_accuracy(results: list[PhotoResult]) -> dict:
    correct = sum(r.correct for r in results)
    return {
        "correct": correct,
        "total": len(results),
        "accuracy": round(correct / len(results), 4) if results else None,
    }


def summary(
    results: list[PhotoResult],
    rows: list[ManifestRow],
    missing: list[ManifestRow],
    model_id: str,
    manifest: str = "",
) -> dict:
    """Everything the report prints, as plain data (`--json` prints exactly this)."""
    sources = sorted({r.name.split(":", 1)[0] for r in results})
    return {
        "model": model_id,
        "manifest": manifest,
        "manifest_rows": len(rows),
        "photos": len(results),
        "sources": sources,
        "missing": dict(Counter(row.source for row in missing)),
        "main_label": main_accuracy(results),
        "main_label_by_source": {
            source: main_accuracy([r for r in results if r.name.startswith(f"{source}:")])
            for source in sources
        },
        "labels": label_counts(results),
        "misses": [asdict(r) for r in results if not r.correct],
    }


def evaluate(tagger, rows: list[ManifestRow], roots: dict[str, Path | None]):
    """(results, missing rows) over the manifest; photos whose file is absent are skipped."""
    results, missing = [], []
    for row in rows:
        file = photo_file(row, roots)
        if file is None:
            missing.append(row)
            continue
        results.append(photo_evaluate(tagger, row, photo_open(file)))
    return results, missing


# --- report ---------------------------------------------------------------------------------


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f} %"


def report_print(report: dict, *, misses: bool) -> None:
    from vaultdev.report import print_table

    accuracy = report["main_label"]
    print(f"tagger {report['model']} on {report['photos']} real photos")
    print(f"({', '.join(report['sources'])}; {report['manifest']})")
    if report["missing"]:
        parts = ", ".join(f"{n} from {source}" for source, n in sorted(report["missing"].items()))
        print(
            f"skipped {sum(report['missing'].values())} of {report['manifest_rows']} photos "
            f"that are not on this machine ({parts}"
            + ("; apt-get install opencv-doc)" if "opencv-doc" in report["missing"] else ")")
        )
    print()
    rows = [
        (
            label,
            _ratio(counts["precision"]),
            _ratio(counts["recall"]),
            str(counts["support"]),
            str(counts["given"]),
        )
        for label, counts in report["labels"].items()
    ]
    print_table(("label", "precision", "recall", "support", "given"), rows)
    print()
    print_table(
        ("main label right", "right", "photos", "accuracy"),
        [
            (
                "all sources" if name == "all" else name,
                str(acc["correct"]),
                str(acc["total"]),
                _ratio(acc["accuracy"]),
            )
            for name, acc in [*report["main_label_by_source"].items(), ("all", accuracy)]
        ],
    )
    verdict = "meets" if (accuracy["accuracy"] or 0) >= TARGET_ACCURACY else "misses"
    print(
        f"\nmain label right: {accuracy['correct']}/{accuracy['total']} — {verdict} the "
        f"{TARGET_ACCURACY:.0%} target"
    )
    if misses and report["misses"]:
        print("\nmisses (manifest main label → tagger's labels; top model outputs)")
        for miss in report["misses"]:
            given = ", ".join(f"{label} {score:.2f}" for label, score in miss["given"])
            top = "; ".join(f"#{i} {name} {p:.2f}" for i, name, p in miss["top_outputs"])
            print(f"  {miss['name']}: {miss['main_label']} → {given}\n      {top}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    parser.add_argument("--json", action="store_true", help="print machine-readable output")
    parser.add_argument("--misses", action="store_true", help="list the photos it got wrong")
    args = parser.parse_args(argv)

    # TensorFlow's start-up chatter would bury the table; its errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from worker.ai.loader import ModelUnavailable
    from worker.ai.tagger import load_tagger

    rows = manifest_read(args.manifest)
    try:
        tagger = load_tagger(args.models_dir, threads=int(os.environ.get("VAULT_ML_THREADS", 2)))
    except ModelUnavailable as error:
        print(f"no usable tagger in {args.models_dir}: {error}", file=sys.stderr)
        return 2
    results, missing = evaluate(tagger, rows, source_roots())
    if not results:
        print("none of the manifest's photos is on this machine", file=sys.stderr)
        return 2
    manifest = str(
        args.manifest.relative_to(ROOT) if args.manifest.is_relative_to(ROOT) else args.manifest
    )
    report = summary(results, rows, missing, tagger.model_id, manifest)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        report_print(report, misses=args.misses)
    return 0


if __name__ == "__main__":
    sys.exit(main())
