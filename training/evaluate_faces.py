"""How well faces are recognised and grouped into people, on real identities: verification and
clustering on serengil/deepface's tests/unit/dataset, the same on augmented copies of the faces
that installed packages carry, clustering of synthetic embedding sets for scale, and the
detection table of training/face_detection_eval.py.

    .venv/bin/python -m training.evaluate_faces [--deepface DIR]   (~2 min the first time)

--deepface (or $DEEPFACE_DATASET) names a checkout of the deepface repository's
tests/unit/dataset (photos of a few real people and master.csv, its same/different pairs);
evaluation only: its photos are never committed. Bring it onto a machine with
`git clone --depth 1 https://github.com/serengil/deepface` (or an archive of that folder).

Everything goes through the worker's own code: the active detector and embedder (models/),
face_is_clusterable, and worker.clustering.cluster_faces with all photos uploaded by one user.
Identities of the deepface photos come from its pair lists: photos joined by a "Yes" pair
(master.csv and face-recognition-pivot.csv) are one person (connected components); the face of
a labelled photo is its largest detected face (the other faces of a portrait are bystanders,
unlabelled). Embeddings are cached under $VAULT_EVAL_CACHE (default /tmp/vault-faces-eval),
keyed by model ids and the photo's bytes.

Measures:
- true-accept rate (same-person pairs with distance <= t) and false-accept rate (different-person
  pairs with distance <= t), at DISTANCE_THRESHOLD and at the largest t with FAR <= 0.1 %;
- purity (Manning, Raghavan & Schütze, Introduction to Information Retrieval, 2008, §16.3: the
  share of assigned faces whose person's majority identity is theirs), and homogeneity and
  completeness (Rosenberg & Hirschberg, V-measure, EMNLP 2007; sklearn.metrics) with each
  unassigned face counted as a cluster of its own, so leaving faces out costs completeness;
  over the clusterable labelled faces (those face_is_clusterable refuses are counted apart);
- people per real identity (how many people its faces were split into) and faces left out.
Not a test: a development-machine report from small sets, and every figure quoted says so.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from PIL import Image, ImageEnhance, ImageOps  # noqa: E402

from vault.people import embeddings  # noqa: E402
from worker import clustering  # noqa: E402

CACHE = Path(os.environ.get("VAULT_EVAL_CACHE") or Path(tempfile.gettempdir()) / "vault-faces-eval")
PAIR_FILES = ("master.csv", "face-recognition-pivot.csv")
TARGET_FAR = 0.001
TARGET_PURITY = 0.95
TARGET_COMPLETENESS = 0.9
SWEEP_THRESHOLDS = (0.40, 0.44, 0.48, 0.50, 0.52, 0.55, 0.58, 0.60)
SWEEP_SIZES = (2, 3, 4)
# The faces that installed packages carry, augmented (photo name as in face_detection_eval).
AUGMENTED_SOURCES = {
    "skimage:astronaut.png": "Eileen Collins",
    "matplotlib:grace_hopper.jpg": "Grace Hopper",
    "opencv-doc:data/messi5.jpg": "footballer",
}
COPIES = 12  # augmented copies per photo
SYNTHETIC_SETS = ((2_000, 40), (10_000, 200))  # (faces, people)


@dataclass(frozen=True)
class Face:
    photo: str
    box: tuple[float, float, float, float]
    score: float
    clusterable: bool
    embedding: np.ndarray  # (128,) float32
    label: str | None = None  # the real identity, when known


# --- detection + embedding through the worker's models, cached ------------------------------


class Faces:
    """The active detector and embedder, loaded once; faces of a picture cached on disk."""

    def __init__(self) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from worker.ai.face_detector import face_is_clusterable, load_face_detector
        from worker.ai.face_embedder import load_face_embedder

        self.detector = load_face_detector(ROOT / "models", threads=2)
        self.embedder = load_face_embedder(ROOT / "models")
        self.clusterable = face_is_clusterable
        key = f"{self.detector.model_id}|{self.embedder.model_id}"
        self.cache = CACHE / hashlib.sha256(key.encode()).hexdigest()[:16]
        self.cache.mkdir(parents=True, exist_ok=True)

    def of(self, name: str, image: Image.Image) -> list[Face]:
        """The faces found in an upright RGB picture, largest first."""
        digest = hashlib.sha256(image.tobytes() + repr(image.size).encode()).hexdigest()[:24]
        file = self.cache / f"{digest}.npz"
        if file.is_file():
            data = np.load(file)
            boxes, scores, flags, vectors = (
                data[k] for k in ("boxes", "scores", "flags", "vectors")
            )
        else:
            detected = self.detector.detect(image)
            vectors = self.embedder.embed(image, detected)
            boxes = np.array([f.box for f in detected], dtype=np.float64).reshape(-1, 4)
            scores = np.array([f.score for f in detected], dtype=np.float64)
            flags = np.array([self.clusterable(image, f) for f in detected], dtype=bool)
            np.savez(file, boxes=boxes, scores=scores, flags=flags, vectors=vectors)
        faces = [
            Face(name, tuple(map(float, b)), float(s), bool(c), np.asarray(v, np.float32))
            for b, s, c, v in zip(boxes, scores, flags, vectors, strict=True)
        ]
        return sorted(faces, key=lambda f: -f.box[2] * f.box[3])


def load_rgb(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


# --- the deepface set ------------------------------------------------------------------------


def pairs_read(dataset: Path, files: tuple[str, ...] = PAIR_FILES) -> list[tuple[str, str, bool]]:
    """(photo, photo, same person) from the set's pair lists (file names without folders)."""
    pairs = []
    for name in files:
        path = dataset / name
        if not path.is_file():
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                decision = row.get("Decision", row.get("decision", "")).strip()
                pairs.append(
                    (Path(row["file_x"]).name, Path(row["file_y"]).name, decision == "Yes")
                )
    return pairs


def identities(pairs: list[tuple[str, str, bool]]) -> dict[str, str]:
    """photo -> identity: the connected components of the "Yes" pairs, each named after its
    first photo. Raises ValueError when a "No" pair falls inside one component."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for a, b, same in pairs:
        root(a), root(b)
        if same:
            parent[root(a)] = root(b)
    members = defaultdict(list)
    for photo in parent:
        members[root(photo)].append(photo)
    names = {r: min(m, key=_photo_order) for r, m in members.items()}
    labels = {photo: names[root(photo)] for photo in parent}
    for a, b, same in pairs:
        if not same and labels[a] == labels[b]:
            raise ValueError(f"{a} and {b} are marked different but joined by same pairs")
    return labels


def _photo_order(name: str):
    digits = "".join(c for c in name if c.isdigit())
    return (int(digits) if digits else 0, name)


def deepface_faces(faces: Faces, dataset: Path) -> tuple[list[Face], dict[str, int], dict]:
    """(every face of every photo, labelled where known; faces detected per photo; labels)."""
    labels = identities(pairs_read(dataset))
    # img11_reflection.jpg is img11.jpg mirrored (the set's own test of reflections)
    if "img11.jpg" in labels and (dataset / "img11_reflection.jpg").is_file():
        labels["img11_reflection.jpg"] = labels["img11.jpg"]
    out, counts = [], {}
    for path in sorted(dataset.glob("*.jpg"), key=lambda p: _photo_order(p.name)):
        found = faces.of(f"deepface:{path.name}", load_rgb(path))
        counts[path.name] = len(found)
        for number, face in enumerate(found):
            label = labels.get(path.name) if number == 0 else None
            out.append(
                Face(path.name, face.box, face.score, face.clusterable, face.embedding, label)
            )
    return out, counts, labels


# --- augmented copies of the packages' faces -------------------------------------------------


def augment(image: Image.Image, box, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """One copy with a random mix of: crop (the face kept), flip, scale, brightness, small
    rotation, JPEG quality. Returns (picture, what was done)."""
    done = []
    left, top, width, height = box
    if rng.random() < 0.7:
        margin = rng.uniform(0.3, 1.5)
        x0 = max(0, left - margin * width * rng.uniform(0.5, 1.5))
        y0 = max(0, top - margin * height * rng.uniform(0.5, 1.5))
        x1 = min(image.width, left + width + margin * width * rng.uniform(0.5, 1.5))
        y1 = min(image.height, top + height + margin * height * rng.uniform(0.5, 1.5))
        image = image.crop((round(x0), round(y0), round(x1), round(y1)))
        done.append("crop")
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
        done.append("flip")
    if rng.random() < 0.6:
        scale = rng.uniform(0.6, 2.0)
        size = (max(16, round(image.width * scale)), max(16, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BICUBIC)
        done.append(f"scale {scale:.1f}")
    if rng.random() < 0.6:
        factor = rng.uniform(0.6, 1.4)
        image = ImageEnhance.Brightness(image).enhance(factor)
        done.append(f"brightness {factor:.1f}")
    if rng.random() < 0.5:
        angle = rng.uniform(-12, 12)
        image = image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        done.append(f"rotate {angle:.0f}°")
    quality = int(rng.integers(15, 95))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    done.append(f"JPEG q{quality}")
    return load_rgb_bytes(buffer), ", ".join(done)


def load_rgb_bytes(buffer) -> Image.Image:
    with Image.open(buffer) as image:
        return image.convert("RGB")


def augmented_faces(faces: Faces) -> tuple[list[Face], list[Face], dict[str, int]]:
    """(faces of the augmented face photos, labelled by identity; faces found on augmented
    no-face photos; photos per set). The original photo is one of the copies."""
    from training import face_detection_eval as detection

    photos, _missing = detection.photos_load(None)
    rng = np.random.default_rng(11)
    labelled, non_faces, sizes = [], [], Counter()
    for photo in photos:
        if photo.name in AUGMENTED_SOURCES:
            box = max(photo.faces, key=lambda b: b.box[2] * b.box[3]).box
            for copy in range(COPIES + 1):
                image = photo.image if copy == 0 else augment(photo.image, box, rng)[0]
                found = faces.of(f"{photo.name}#{copy}", image)
                sizes["face photos"] += 1
                for number, face in enumerate(found):
                    # the largest detection is the subject; anything else is a bystander
                    label = AUGMENTED_SOURCES[photo.name] if number == 0 else None
                    labelled.append(
                        Face(
                            f"{photo.name}#{copy}",
                            face.box,
                            face.score,
                            face.clusterable,
                            face.embedding,
                            label,
                        )
                    )
        elif photo.group == "no face":
            for copy in range(4):
                image = (
                    photo.image
                    if copy == 0
                    else augment(photo.image, (0, 0, *photo.image.size), rng)[0]
                )
                sizes["no-face photos"] += 1
                for face in faces.of(f"{photo.name}#{copy}", image):
                    non_faces.append(
                        Face(
                            f"{photo.name}#{copy}",
                            face.box,
                            face.score,
                            face.clusterable,
                            face.embedding,
                        )
                    )
    return labelled, non_faces, dict(sizes)


# --- clustering and its scores ---------------------------------------------------------------


def cluster(faces: list[Face], threshold: float, min_size: int) -> list[str | None]:
    """Each face's person when all of them are one user's, uploaded at once (no names yet);
    unclusterable faces stay out, as in the pipeline."""
    items = [
        embeddings.FaceItem(f"f{i:05d}", face.photo, face.embedding, None)
        for i, face in enumerate(faces)
        if face.clusterable
    ]
    result = clustering.cluster_faces(items, [], threshold=threshold, min_size=min_size)
    return [
        result.assignments.get(f"f{i:05d}") if face.clusterable else None
        for i, face in enumerate(faces)
    ]


@dataclass
class Scores:
    faces: int
    identities: int
    assigned: int
    purity: float
    homogeneity: float
    completeness: float
    people: int  # people made (non-empty), labelled faces or not
    split: dict[str, int]  # identity -> people its faces went to
    left_out: dict[str, int]  # identity -> its faces not in any person
    strays: int  # unlabelled faces put into a person
    unclusterable: int  # labelled faces too small or blurred to cluster (left out of scores)


def scores(faces: list[Face], people: list[str | None]) -> Scores:
    from sklearn.metrics import completeness_score, homogeneity_score

    # the scores are the clustering's: faces too small or blurred to cluster are counted apart
    pairs = [
        (f.label, p)
        for f, p in zip(faces, people, strict=True)
        if f.label is not None and f.clusterable
    ]
    truth = [label for label, _ in pairs]
    # an unassigned face is a cluster of its own: leaving faces out costs completeness
    found = [p if p is not None else f"alone:{i}" for i, (_, p) in enumerate(pairs)]
    assigned = [(label, p) for label, p in pairs if p is not None]
    majority = defaultdict(Counter)
    for label, person in assigned:
        majority[person][label] += 1
    purity = sum(c.most_common(1)[0][1] for c in majority.values()) / max(1, len(assigned))
    split = {label: len({p for l2, p in assigned if l2 == label}) for label in sorted(set(truth))}
    left_out = Counter(label for label, p in pairs if p is None)
    return Scores(
        faces=len(pairs),
        identities=len(set(truth)),
        assigned=len(assigned),
        purity=purity,
        homogeneity=homogeneity_score(truth, found) if pairs else 1.0,
        completeness=completeness_score(truth, found) if pairs else 1.0,
        people=len({p for p in people if p is not None}),
        split=split,
        left_out={label: left_out[label] for label in split},
        strays=sum(1 for f, p in zip(faces, people, strict=True) if f.label is None and p),
        unclusterable=sum(1 for f in faces if f.label is not None and not f.clusterable),
    )


def score_row(name: str, s: Scores, threshold: float, min_size: int) -> tuple[str, ...]:
    return (
        name,
        f"{threshold:.2f}",
        str(min_size),
        f"{s.faces} / {s.identities}" + (f" (+{s.unclusterable})" if s.unclusterable else ""),
        f"{s.assigned}",
        f"{s.purity:.3f}",
        f"{s.homogeneity:.3f}",
        f"{s.completeness:.3f}",
        f"{s.people}",
        f"{sum(s.split.values()) / max(1, len(s.split)):.2f}",
        f"{s.strays}",
    )


SCORE_HEADER = (
    "set",
    "threshold",
    "min size",
    "faces / identities (+ not clusterable)",
    "in a person",
    "purity",
    "homogeneity",
    "completeness",
    "people",
    "people per identity",
    "bystanders in a person",
)


# --- verification ----------------------------------------------------------------------------


def verification(distances: np.ndarray, same: np.ndarray, threshold: float) -> dict:
    """TAR and FAR at threshold, and the TAR at the largest threshold with FAR <= TARGET_FAR."""
    different = distances[~same]
    tar = float((distances[same] <= threshold).mean()) if same.any() else float("nan")
    far = float((different <= threshold).mean()) if len(different) else float("nan")
    # largest t with FAR <= target: below the (k+1)-th smallest different-person distance
    allowed = int(np.floor(TARGET_FAR * len(different)))
    cut = np.sort(different)[allowed] if allowed < len(different) else np.inf
    tar_at = float((distances[same] < cut).mean()) if same.any() else float("nan")
    return {"tar": tar, "far": far, "tar_at_far": tar_at, "cut": float(cut), "allowed": allowed}


def pair_distances(pairs, by_photo: dict[str, Face]) -> tuple[np.ndarray, np.ndarray, int]:
    d, same, missing = [], [], 0
    for a, b, is_same in pairs:
        if a not in by_photo or b not in by_photo:
            missing += 1
            continue
        d.append(float(np.linalg.norm(by_photo[a].embedding - by_photo[b].embedding)))
        same.append(is_same)
    return np.array(d), np.array(same, dtype=bool), missing


# --- synthetic sets --------------------------------------------------------------------------


def synthetic_rows(threshold: float, min_size: int) -> list[tuple[str, ...]]:
    from training.synthetic_faces import synthetic_embeddings

    rows = []
    for n, people in SYNTHETIC_SETS:
        x, labels, photos = synthetic_embeddings(n, people, seed=5)
        faces = [
            Face(
                photos[i],
                (0, 0, 0, 0),
                1.0,
                True,
                x[i],
                f"p{labels[i]}" if labels[i] >= 0 else None,
            )
            for i in range(n)
        ]
        started = time.perf_counter()
        people_of = cluster(faces, threshold, min_size)
        elapsed = time.perf_counter() - started
        s = scores(faces, people_of)
        rows.append(
            score_row(
                f"synthetic {n} faces, {people} people ({elapsed:.1f} s)", s, threshold, min_size
            )
        )
    return rows


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = os.environ.get("DEEPFACE_DATASET")
    parser.add_argument("--deepface", type=Path, default=Path(default) if default else None)
    parser.add_argument("--no-detection", action="store_true", help="skip the detection table")
    args = parser.parse_args()
    from vaultdev.report import print_table

    threshold, min_size = embeddings.DISTANCE_THRESHOLD, embeddings.MIN_CLUSTER_SIZE
    faces = Faces()
    print(f"faces — detector {faces.detector.model_id}, embedder {faces.embedder.model_id}")
    print(f"shipped: DISTANCE_THRESHOLD {threshold}, MIN_CLUSTER_SIZE {min_size}")
    print()

    sets: dict[str, list[Face]] = {}
    if args.deepface and args.deepface.is_dir():
        deepface, per_photo, labels = deepface_faces(faces, args.deepface)
        sets["deepface"] = deepface
        by_photo = {f.photo: f for f in deepface if f.label is not None and f.clusterable}
        labelled_photos = sorted(
            {f.photo for f in deepface if f.label is not None}, key=_photo_order
        )
        print(
            f"deepface tests/unit/dataset: {len(per_photo)} photos, {len(labels)} labelled "
            f"with {len(set(labels.values()))} identities (adults; no children), "
            f"{sum(per_photo.values())} faces detected, "
            f"{sum(1 for f in deepface if f.clusterable)} clusterable"
        )
        rows = []
        for name, pairs in (
            ("master.csv", pairs_read(args.deepface, ("master.csv",))),
            ("both pair lists", pairs_read(args.deepface)),
            ("all pairs of labelled photos", _all_pairs(labelled_photos, labels)),
        ):
            d, same, missing = pair_distances(pairs, by_photo)
            v = verification(d, same, threshold)
            rows.append(
                (
                    name,
                    f"{same.sum()} / {(~same).sum()}",
                    str(missing),
                    f"{v['tar']:.3f}",
                    f"{v['far']:.4f}",
                    f"{v['tar_at_far']:.3f}",
                    f"{v['cut']:.3f} ({v['allowed']} false accepts allowed)",
                )
            )
        print_table(
            (
                "pairs",
                "same / different",
                "without a face",
                f"TAR at {threshold}",
                f"FAR at {threshold}",
                "TAR at FAR <= 0.1 %",
                "threshold there",
            ),
            rows,
        )
        print()
        d_same, d_diff = _distance_spread(by_photo)
        print(
            "distances between labelled faces: same person median "
            f"{np.median(d_same):.3f} (5-95 %: {np.percentile(d_same, 5):.3f}-"
            f"{np.percentile(d_same, 95):.3f}), different median {np.median(d_diff):.3f} "
            f"(min {d_diff.min():.3f}, 1 %: {np.percentile(d_diff, 1):.3f})"
        )
        print()
        counts = Counter(per_photo.values())
        print(
            "faces detected per photo: "
            + ", ".join(
                f"{k} face{'s' if k != 1 else ''}: {v} photos" for k, v in sorted(counts.items())
            )
        )
        print(
            "photos not found exactly once: "
            + ", ".join(f"{p} ({n})" for p, n in per_photo.items() if n != 1)
        )
        print()
    else:
        print("deepface set not given (--deepface DIR): no verification or real clustering rows")
        print()

    augmented, non_faces, sizes = augmented_faces(faces)
    sets["augmented"] = augmented + non_faces
    print(
        f"augmented: {sizes.get('face photos', 0)} photos of {len(AUGMENTED_SOURCES)} people "
        f"({COPIES} copies each + the original), {sizes.get('no-face photos', 0)} no-face photos "
        f"(4 copies each) with {len(non_faces)} detections, "
        f"{sum(f.clusterable for f in non_faces)} of them clusterable"
    )
    print()

    rows = []
    for name, members in sets.items():
        people_of = cluster(members, threshold, min_size)
        rows.append(score_row(name, scores(members, people_of), threshold, min_size))
        if name == "augmented":
            in_people = [p for f, p in zip(members, people_of, strict=True) if f in non_faces and p]
            rows[-1] = (*rows[-1][:-1], f"{rows[-1][-1]} (non-faces: {len(in_people)})")
    rows += synthetic_rows(threshold, min_size)
    print_table(SCORE_HEADER, rows)
    print()

    for name, members in sets.items():
        people_of = cluster(members, threshold, min_size)
        s = scores(members, people_of)
        labelled = [f for f in members if f.label]
        print(f"{name}: per identity")
        print_table(
            (
                "identity",
                "photos with its face",
                "clusterable",
                "people it went to",
                "clusterable, left out",
            ),
            [
                (
                    label,
                    str(sum(f.label == label for f in labelled)),
                    str(sum(f.label == label and f.clusterable for f in labelled)),
                    str(s.split.get(label, 0)),
                    str(s.left_out.get(label, 0)),
                )
                for label in sorted({f.label for f in labelled}, key=_photo_order)
            ],
        )
        print()
    if "deepface" in sets:
        members = sets["deepface"]
        sweep = []
        for t in SWEEP_THRESHOLDS:
            for m in SWEEP_SIZES:
                sweep.append(score_row("deepface", scores(members, cluster(members, t, m)), t, m))
                sweep.append(
                    score_row(
                        "augmented",
                        scores(sets["augmented"], cluster(sets["augmented"], t, m)),
                        t,
                        m,
                    )
                )
        print("sweep (the shipped pair is DISTANCE_THRESHOLD, MIN_CLUSTER_SIZE above):")
        print_table(SCORE_HEADER, sweep)
        print()

    if not args.no_detection:
        try:
            from training import face_detection_eval as detection
        except ImportError:
            print("(training/face_detection_eval.py is not there: no detection table)")
            return
        print("detection (training/face_detection_eval.py):")
        print_table(detection.HEADER, detection.detection_table(args.deepface))
        print()
        print_table(detection.PER_PHOTO_HEADER, detection.per_photo_rows(args.deepface))


def _all_pairs(photos: list[str], labels: dict[str, str]) -> list[tuple[str, str, bool]]:
    return [(a, b, labels[a] == labels[b]) for i, a in enumerate(photos) for b in photos[i + 1 :]]


def _distance_spread(by_photo: dict[str, Face]) -> tuple[np.ndarray, np.ndarray]:
    faces = list(by_photo.values())
    x = np.stack([f.embedding for f in faces])
    d = np.linalg.norm(x[:, None] - x[None], axis=2)
    upper = np.triu_indices(len(faces), 1)
    same = np.array([f.label for f in faces])[:, None] == np.array([f.label for f in faces])[None]
    return d[upper][same[upper]], d[upper][~same[upper]]


if __name__ == "__main__":
    main()
