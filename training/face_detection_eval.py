"""Face detection on hand-boxed real photos: recall, false positives and faces per photo for the
active face detector, at several score thresholds, with and without the tiled second pass.

Run: .venv/bin/python -m training.face_detection_eval [--deepface DIR]   (about a minute)

The set is training/datasets/face_boxes.csv (its README section says how the boxes were drawn).
Photos come from installed packages (scikit-image, matplotlib, Debian opencv-doc) and, when
--deepface (or $DEEPFACE_DATASET) names a checkout of serengil/deepface's tests/unit/dataset,
its two photos of several people (couple.jpg, selfie-many-people.jpg; evaluation only, never
committed). Rows:

- **photos**: every photo as it is (300-2300 px);
- **12 MP composites**: the photos with faces pasted, shrunk, onto a 4000 × 3000 picture (an
  upscaled opencv-doc building.jpg, which has no face), so that the faces are 40-270 px in a
  12-megapixel picture, as in a group photo taken from a few metres; and the same composite at
  2000 × 1500 (the pipeline's JPEG draft size). Ground truth moves with the pasted photos.

Matching (the PASCAL VOC criterion, Everingham et al. 2010): detections, best first, each match
the unmatched "face" box with which they have the highest IoU if it is ≥ 0.5. A detection that
matches no face but lies mostly (≥ 50 %) inside a "hard" region (a profile, a cut or turned-away
head, an out-of-focus crowd) is neither a hit nor a false positive; any other is a false positive.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PIL import Image, ImageOps  # noqa: E402

MANIFEST = ROOT / "training" / "datasets" / "face_boxes.csv"
OPENCV_DOC_EXAMPLES = Path("/usr/share/doc/opencv-doc/examples")
KINDS = ("face", "hard", "none")
MATCH_IOU = 0.5
HARD_COVER = 0.5
THRESHOLDS = (0.3, 0.4, 0.5, 0.6)
COMPOSITE_SIZE = (4000, 3000)
DRAFT_SIZE = (2000, 1500)


@dataclass(frozen=True)
class Box:
    kind: str  # face or hard
    box: tuple[float, float, float, float]  # left, top, width, height (px)
    note: str = ""


@dataclass
class Photo:
    name: str  # source:path
    group: str  # "portrait", "group" (2+ faces), "no face", "composite"
    image: Image.Image = dataclasses.field(repr=False)
    boxes: list[Box]

    @property
    def faces(self) -> list[Box]:
        return [box for box in self.boxes if box.kind == "face"]


def source_roots(deepface: Path | None) -> dict[str, Path | None]:
    """Each source's directory on this machine, or None when it is not there."""
    roots: dict[str, Path | None] = {"skimage": None, "matplotlib": None}
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
    roots["opencv-doc"] = OPENCV_DOC_EXAMPLES if OPENCV_DOC_EXAMPLES.is_dir() else None
    roots["deepface"] = deepface if deepface and deepface.is_dir() else None
    return roots


def manifest_read(path: Path = MANIFEST) -> dict[tuple[str, str], list[Box]]:
    """{(source, path): boxes} ("none" photos have no boxes). Raises ValueError on a bad line."""
    photos: dict[tuple[str, str], list[Box]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            key = (row["source"], row["path"])
            if row["kind"] not in KINDS:
                raise ValueError(f"{path.name}:{number}: unknown kind {row['kind']!r}")
            boxes = photos.setdefault(key, [])
            if row["kind"] == "none":
                continue
            box = tuple(float(row[k]) for k in ("left", "top", "width", "height"))
            if box[2] <= 0 or box[3] <= 0:
                raise ValueError(f"{path.name}:{number}: empty box")
            boxes.append(Box(row["kind"], box, row["note"]))
    return photos


def photos_load(deepface: Path | None = None) -> tuple[list[Photo], list[str]]:
    """(the manifest's photos that are on this machine, upright RGB; the names missing)."""
    roots = source_roots(deepface)
    photos, missing = [], []
    for (source, path), boxes in manifest_read().items():
        root = roots.get(source)
        name = f"{source}:{path}"
        if root is None or not (root / path).is_file():
            missing.append(name)
            continue
        with Image.open(root / path) as image:
            rgb = ImageOps.exif_transpose(image).convert("RGB")
        faces = sum(box.kind == "face" for box in boxes)
        group = "no face" if not boxes else "group" if faces >= 2 else "one person"
        photos.append(Photo(name, group, rgb, boxes))
    return photos, missing


# Where each photo goes on the 4000 × 3000 composite: (width it is shrunk to, left, top).
LAYOUT = {
    "skimage:astronaut.png": (420, 150, 250),
    "matplotlib:grace_hopper.jpg": (360, 700, 200),
    "opencv-doc:data/messi5.jpg": (900, 1200, 150),
    "opencv-doc:data/basketball1.png": (900, 2250, 150),
    "skimage:camera.png": (420, 3350, 200),
    "deepface:couple.jpg": (1000, 150, 1000),
    "deepface:selfie-many-people.jpg": (1000, 1300, 900),
    "deepface:selfie-many-people.jpg#small": (620, 2500, 1100),
}


def composite(photos: list[Photo], size: tuple[int, int] = COMPOSITE_SIZE) -> Photo | None:
    """The photos with faces pasted, shrunk, onto one large picture (see LAYOUT), with their
    boxes moved along; None when none of them is available."""
    by_name = {photo.name: photo for photo in photos}
    background = OPENCV_DOC_EXAMPLES / "data" / "building.jpg"
    if background.is_file():
        with Image.open(background) as image:
            canvas = image.convert("RGB").resize(COMPOSITE_SIZE, Image.Resampling.BICUBIC)
    else:
        canvas = Image.new("RGB", COMPOSITE_SIZE, (128, 128, 128))
    boxes: list[Box] = []
    for key, (width, left, top) in LAYOUT.items():
        photo = by_name.get(key.split("#")[0])
        if photo is None:
            continue
        scale = width / photo.image.width
        height = round(photo.image.height * scale)
        canvas.paste(photo.image.resize((width, height), Image.Resampling.LANCZOS), (left, top))
        for box in photo.boxes:
            x, y, w, h = box.box
            moved = (left + x * scale, top + y * scale, w * scale, h * scale)
            boxes.append(Box(box.kind, moved, f"{key}: {box.note}"))
    if not boxes:
        return None
    if size != COMPOSITE_SIZE:
        factor = size[0] / COMPOSITE_SIZE[0]
        canvas = canvas.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        boxes = [Box(b.kind, tuple(v * factor for v in b.box), b.note) for b in boxes]
    name = f"composite {size[0]}x{size[1]}"
    return Photo(name, "composite", canvas, boxes)


def match(detections, boxes: list[Box]) -> tuple[int, int, int]:
    """(faces found, hard regions hit, false positives) for one photo's detections."""
    from worker.ai.face_detector import _covered, iou

    faces = [box for box in boxes if box.kind == "face"]
    hard = [box for box in boxes if box.kind == "hard"]
    taken: set[int] = set()
    hits = hard_hits = false = 0
    for detection in sorted(detections, key=lambda d: -d.score):
        scored = [
            (iou(detection.box, face.box), index)
            for index, face in enumerate(faces)
            if index not in taken
        ]
        best, index = max(scored, default=(0.0, -1))
        if best >= MATCH_IOU:
            taken.add(index)
            hits += 1
        elif any(
            max(_covered(detection.box, region.box), _covered(region.box, detection.box))
            >= HARD_COVER
            for region in hard
        ):
            hard_hits += 1
        else:
            false += 1
    return hits, hard_hits, false


@dataclass
class Outcome:
    faces: int = 0
    found: int = 0
    hard_found: int = 0
    false: int = 0
    false_photos: list[str] = dataclasses.field(default_factory=list)
    ms: list[float] = dataclasses.field(default_factory=list)


def evaluate(detector, photos: list[Photo]) -> Outcome:
    outcome = Outcome()
    for photo in photos:
        started = time.perf_counter()
        detections = detector.detect(photo.image)
        outcome.ms.append((time.perf_counter() - started) * 1000)
        hits, hard_hits, false = match(detections, photo.boxes)
        outcome.faces += len(photo.faces)
        outcome.found += hits
        outcome.hard_found += hard_hits
        outcome.false += false
        if false:
            outcome.false_photos.append(f"{photo.name} ({false})")
    return outcome


HEADER = ("set", "threshold", "tiles", "recall", "false positives", "hard hits", "ms/photo")


def detection_table(deepface: Path | None = None, *, thresholds=THRESHOLDS) -> list[tuple]:
    """Rows of HEADER for the active detector (models/), for each set, threshold and with or
    without tiling. The set names say how many photos each has."""
    from worker.ai.face_detector import SCORE_THRESHOLD, load_face_detector

    detector = load_face_detector(ROOT / "models")
    photos, _missing = photos_load(deepface)
    large = [c for c in (composite(photos), composite(photos, DRAFT_SIZE)) if c is not None]
    sets = {
        f"group photos ({sum(p.group == 'group' for p in photos)})": [
            p for p in photos if p.group == "group"
        ],
        f"one-person photos ({sum(p.group == 'one person' for p in photos)})": [
            p for p in photos if p.group == "one person"
        ],
        f"no-face photos ({sum(p.group == 'no face' for p in photos)})": [
            p for p in photos if p.group == "no face"
        ],
    }
    for photo in large:
        sets[photo.name] = [photo]
    rows = []
    for name, members in sets.items():
        if not members:  # e.g. no group photo without the deepface set
            continue
        for threshold in thresholds:
            for tiles in (False, True):
                configured = dataclasses.replace(
                    detector,
                    threshold=threshold,
                    tiling=detector.tiling if tiles else None,
                )
                outcome = evaluate(configured, members)
                mark = (
                    " *"
                    if threshold == SCORE_THRESHOLD and tiles == (detector.tiling is not None)
                    else ""
                )
                rows.append(
                    (
                        name,
                        f"{threshold:.2f}{mark}",
                        "yes" if tiles else "no",
                        f"{outcome.found}/{outcome.faces}" if outcome.faces else "-",
                        str(outcome.false)
                        + (f" ({', '.join(outcome.false_photos)})" if outcome.false_photos else ""),
                        str(outcome.hard_found),
                        f"{statistics.median(outcome.ms):.0f}",
                    )
                )
    return rows


def per_photo_rows(deepface: Path | None = None) -> list[tuple]:
    """(photo, faces in the ground truth, faces detected, of which right) at the shipped
    settings: the "detection count per photo" table."""
    from worker.ai.face_detector import load_face_detector

    detector = load_face_detector(ROOT / "models")
    photos, _missing = photos_load(deepface)
    rows = []
    for photo in [*photos, *(c for c in (composite(photos),) if c is not None)]:
        detections = detector.detect(photo.image)
        hits, hard_hits, false = match(detections, photo.boxes)
        rows.append(
            (
                photo.name,
                f"{photo.image.width}x{photo.image.height}",
                str(len(photo.faces)),
                str(len(detections)),
                str(hits),
                str(hard_hits),
                str(false),
            )
        )
    return rows


PER_PHOTO_HEADER = ("photo", "size", "faces", "detected", "right", "hard", "false")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = os.environ.get("DEEPFACE_DATASET")
    parser.add_argument(
        "--deepface",
        type=Path,
        default=Path(default) if default else None,
        help="serengil/deepface tests/unit/dataset directory (optional; $DEEPFACE_DATASET)",
    )
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from vaultdev.report import print_table
    from worker.ai.face_detector import SCORE_THRESHOLD, load_face_detector

    detector = load_face_detector(ROOT / "models")
    _photos, missing = photos_load(args.deepface)
    print(f"face detection — {detector.model_id}; * = shipped settings")
    print(f"shipped: threshold {SCORE_THRESHOLD}, {detector.tiling}")
    print(f"ground truth: {MANIFEST.relative_to(ROOT)}; match: IoU >= {MATCH_IOU}")
    if missing:
        print(f"not on this machine (skipped): {', '.join(missing)}")
    print()
    print_table(HEADER, detection_table(args.deepface))
    print()
    print_table(PER_PHOTO_HEADER, per_photo_rows(args.deepface))


if __name__ == "__main__":
    main()
