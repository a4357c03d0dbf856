"""The face detector: MediaPipe Tasks `FaceDetector` running the BlazeFace full-range model
(models/face-detector-blazeface-full-range.tflite, DESIGN §8). Pure inference, no Django.

The model sees the whole picture at 192 × 192 px, so a face smaller than about 6 % of the
picture's longer side is missed or badly placed (measured by training/face_detection_eval.py).
A group photo's faces are often that small, so a second pass looks at overlapping tiles of a
large picture and keeps the small faces it finds there (see `Tiling`) when a second look,
framed around each of them, finds them again (`FaceDetector._confirmed`: a 720p portrait of one
person gave a second "face" on her uniform); the table in training/face_detection_eval.py shows
what it adds and costs (with the second look: the same 3/4 faces and no false positive on the
12 MP composite, 101 against 64 ms at 2000 × 1500 on 2 busy cores).

The Tasks API of mediapipe 1.2.3 decodes the full-range model (192 px input, 2304 anchors)
correctly, so there is no anchor decoding of our own: checked by a face moved into the
bottom-right quarter of a padded picture, which is boxed where it is (the public graph source of
2023 hard-coded the short-range model's 896 anchors, which would misplace it), and by the tests
(tests/worker/test_face_models.py) that find faces top left, centre and bottom right of a
12 MP picture where they are.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from vault import modelcards
from worker.ai import loader

log = logging.getLogger(__name__)

TASK = "face_detector"

# Confidence a detection needs (the model's sigmoid score; mediapipe's default too). On
# training/datasets/face_boxes.csv: 0.3 gives false positives on 4 of the 16 photos without a
# face, 0.4 on one (a squirrel), 0.5 on none; 0.4 finds one face more than 0.5 on the 12 MP
# composite (14/16 against 13/16) and the same elsewhere.
SCORE_THRESHOLD = 0.5
# The lowest score mediapipe reports to us (the evaluation's threshold sweep starts here).
CANDIDATE_SCORE = 0.3
# Two detections whose intersection over union exceeds this are one face (mediapipe's default
# for its own weighted non-maximum suppression, and ours across passes).
NMS_IOU = 0.3
# Each pass (the whole picture, or one tile) is first shrunk by PIL (antialiased) so its longer
# side is at most this many px (the model's own input: 384 found at most one face more on the
# evaluation set, at twice the time, and false positives on 3 photos without a face at a 0.4
# threshold); mediapipe letterboxes it to 192 × 192. Handing mediapipe a 12 MP array costs more
# than the model.
PASS_SIDE = 192

# A face shorter than this (px of the original picture, shorter box side) is kept as detected but
# not clustered. Measured on the 10 faces the detector finds in training/face_detection_eval.py's
# photos, each shrunk and embedded again: at 40 px a face's embedding moves 0.15-0.30 from its
# full-size one, at 30 px 0.18-0.39, at 20 px 0.32-0.57 (most of the 0.6 same-person radius).
MIN_FACE_PX = 40
# A face whose sharpness (variance of the Laplacian, Pech-Pacheco et al., "Diatom autofocusing
# in brightfield microscopy: a comparative study", ICPR 2000), measured on the face resized to
# BLUR_SIDE px, is below this is too blurry to cluster. On the same 10 faces: the sharp ones of
# 40 px or more score 48-710; blurred (Gaussian, radius 2 px at 160 px) they score 5-15, and
# 22-84 with a radius of 1 px (mild blur, still clustered).
MIN_SHARPNESS = 20.0
BLUR_SIDE = 160


# A tile's detection is looked at again in a square this many times its side around it
# (`FaceDetector._confirmed`), and kept when that look finds it again (IoU at least CONFIRM_IOU).
CONFIRM_CONTEXT = 3.0
CONFIRM_IOU = 0.3


@dataclass(frozen=True)
class Tiling:
    """The second pass for small faces: pictures whose longer side is at least `min_side` px
    are cut into a grid of overlapping tiles (`columns` × `rows` for a landscape picture,
    swapped for a portrait one), each run through the model; a tile detection is kept only if
    it scores at least `min_score`, is smaller than `max_face_fraction` of the picture's longer
    side (bigger faces are the whole picture's pass's job) and does not touch an inner tile
    edge (a face cut by a tile edge would give half a face)."""

    # Faces found on the 12 MP composite of training/face_detection_eval.py: without tiles 3/16,
    # 3 × 2 tiles 4/16, 4 × 3 10/16, 5 × 4 13/16 (and its one off-centre box placed right), none
    # of them with a false positive on the photos without a face. Each tile costs about what
    # the whole-picture pass does (bench/faces.py).
    columns: int = 5
    rows: int = 4
    overlap: float = 0.25  # fraction of a tile's side shared with its neighbour
    min_side: int = 1200
    # A tile finds what the whole-picture pass is too coarse for: faces shorter than this
    # fraction of the picture's longer side (the whole-picture pass finds bigger ones). Larger
    # "faces" seen in a zoomed tile were collars and badges on the evaluation photos.
    max_face_fraction: float = 0.1
    # Zoomed tiles also see face-like texture: their detections need a higher score.
    min_score: float = 0.6
    edge_margin: float = 0.02  # detections this close to an inner tile edge are cut faces

    def tiles(
        self, width: int, height: int, *, force: bool = False
    ) -> list[tuple[int, int, int, int]]:
        """The tiles of a width × height picture as (left, top, right, bottom), or [] when it
        is too small to need them (`force`: whatever its size)."""
        if (max(width, height) < self.min_side and not force) or self.columns * self.rows <= 1:
            return []
        columns, rows = (self.columns, self.rows) if width >= height else (self.rows, self.columns)
        boxes = []
        for along, count in ((width, columns), (height, rows)):
            # n tiles of side s overlapping by o·s cover: s·(n − (n − 1)·o) = along
            side = along / (count - (count - 1) * self.overlap)
            step = side * (1 - self.overlap)
            boxes.append(
                [(round(i * step), round(min(along, i * step + side))) for i in range(count)]
            )
        return [(x0, y0, x1, y1) for y0, y1 in boxes[1] for x0, x1 in boxes[0]]


@dataclass(frozen=True)
class DetectedFace:
    box: tuple[float, float, float, float]  # left, top, width, height in px of the input image
    score: float  # detector confidence 0..1
    # BlazeFace's 6 keypoints in px of the input image: right eye, left eye, nose tip, mouth
    # centre, right ear tragion, left ear tragion (the subject's right/left); may be empty.
    keypoints: tuple[tuple[float, float], ...] = ()


def iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """Intersection over union of two (left, top, width, height) boxes, 0..1."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, right - left) * max(0.0, bottom - top)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def _covered(
    small: tuple[float, float, float, float], big: tuple[float, float, float, float]
) -> float:
    """The fraction of `small`'s area inside `big`."""
    left, top = max(small[0], big[0]), max(small[1], big[1])
    right = min(small[0] + small[2], big[0] + big[2])
    bottom = min(small[1] + small[3], big[1] + big[3])
    area = small[2] * small[3]
    return max(0.0, right - left) * max(0.0, bottom - top) / area if area > 0 else 0.0


def suppress(faces: list[DetectedFace], *, threshold: float = NMS_IOU) -> list[DetectedFace]:
    """Greedy non-maximum suppression across passes: best score first, a face is dropped when
    it overlaps a kept one by more than `threshold` IoU or lies mostly (> 60 %) inside it."""
    kept: list[DetectedFace] = []
    for face in sorted(faces, key=lambda f: -f.score):
        if all(
            iou(face.box, other.box) <= threshold
            and _covered(face.box, other.box) <= 0.6
            and _covered(other.box, face.box) <= 0.6
            for other in kept
        ):
            kept.append(face)
    return kept


def _shrunk(image: Image.Image, side: int) -> tuple[Image.Image, float]:
    """(image with its longer side at most `side` px, the factor from its px to the input's)."""
    longest = max(image.size)
    if longest <= side:
        return image, 1.0
    scale = side / longest
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # reducing_gap=1: PIL first box-averages by the largest whole factor (Image.reduce), then
    # resamples the rest: on a 12 MP picture 19 ms of CPU against 45 ms with a gap of 2, and
    # the same faces found (training/face_detection_eval.py).
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=1.0), longest / side


@dataclass
class FaceDetector:
    card: modelcards.ModelCard
    task: object = field(repr=False)  # mediapipe.tasks.python.vision.FaceDetector
    tiling: Tiling | None = field(default_factory=Tiling)
    threshold: float = SCORE_THRESHOLD
    pass_side: int = PASS_SIDE
    # mediapipe's detector is one C++ graph; calls into it from several threads are serialised.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def model_id(self) -> str:
        return self.card.model_id

    def _run(self, image: Image.Image) -> list[DetectedFace]:
        """The model on one RGB picture, boxes and keypoints in that picture's px."""
        import mediapipe as mp

        array = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
        with self._lock:
            result = self.task.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=array))
        faces = []
        for detection in result.detections:
            box = detection.bounding_box
            score = max((c.score for c in detection.categories), default=0.0)
            keypoints = tuple(
                (point.x * image.width, point.y * image.height)
                for point in detection.keypoints or ()
            )
            faces.append(
                DetectedFace(
                    box=(
                        float(box.origin_x),
                        float(box.origin_y),
                        float(box.width),
                        float(box.height),
                    ),
                    score=float(score),
                    keypoints=keypoints,
                )
            )
        return faces

    def _pass(
        self, image: Image.Image, region: tuple[int, int, int, int] | None
    ) -> list[DetectedFace]:
        """Detections in `region` of `image` (all of it when None), in px of `image`."""
        left, top = (region[0], region[1]) if region else (0, 0)
        part = image.crop(region) if region else image
        small, scale = _shrunk(part, self.pass_side)
        found = []
        for face in self._run(small):
            if face.score < self.threshold:
                continue
            x, y, w, h = face.box
            found.append(
                DetectedFace(
                    box=(left + x * scale, top + y * scale, w * scale, h * scale),
                    score=face.score,
                    keypoints=tuple(
                        (left + px * scale, top + py * scale) for px, py in face.keypoints
                    ),
                )
            )
        return found

    def _tile_faces(self, image: Image.Image, original_side: int) -> list[DetectedFace]:
        """Small faces found in the tiles of `image` (shrunk from a picture whose longer side
        was `original_side` px), in px of `image`."""
        tiling = self.tiling
        if tiling is None or original_side < tiling.min_side:
            return []
        width, height = image.size
        limit = tiling.max_face_fraction * max(width, height)
        kept = []
        for region in tiling.tiles(width, height, force=True):
            x0, y0, x1, y1 = region
            margin = tiling.edge_margin * max(x1 - x0, y1 - y0)
            for face in self._pass(image, region):
                left, top, w, h = face.box
                if max(w, h) > limit or face.score < tiling.min_score:
                    continue
                # A face touching a tile edge that is not the picture's edge is probably cut.
                cut = (
                    (x0 > 0 and left < x0 + margin)
                    or (y0 > 0 and top < y0 + margin)
                    or (x1 < width and left + w > x1 - margin)
                    or (y1 < height and top + h > y1 - margin)
                )
                if not cut and self._confirmed(image, face):
                    kept.append(face)
        return kept

    def _confirmed(self, image: Image.Image, face: DetectedFace) -> bool:
        """Whether a tile's detection is found again in a second look, framed differently: a
        square CONFIRM_CONTEXT times the detection's side around its centre. A real face is
        found there again; face-like texture seen in one zoomed tile (buttons, insignia, the
        pattern of a sleeve below a portrait's face) mostly is not."""
        left, top, w, h = face.box
        side = CONFIRM_CONTEXT * max(w, h)
        cx, cy = left + w / 2, top + h / 2
        region = (
            max(0, round(cx - side / 2)),
            max(0, round(cy - side / 2)),
            min(image.width, round(cx + side / 2)),
            min(image.height, round(cy + side / 2)),
        )
        return any(
            again.score >= self.tiling.min_score and iou(again.box, face.box) >= CONFIRM_IOU
            for again in self._pass(image, region)
        )

    def detect(self, image: Image.Image) -> list[DetectedFace]:
        """The faces in an upright RGB picture of any size: boxes (left, top, width, height) and
        keypoints in its px, clipped to it, best score first. Tiles are looked at for small
        faces when the picture is large (see Tiling)."""
        if image.mode != "RGB":
            image = image.convert("RGB")
        # Every pass reads from one copy shrunk just enough for the finest pass (a tile at
        # pass_side px): a 12 MP picture is reduced once, not once per tile.
        tiling = self.tiling
        finest = self.pass_side * (tiling.columns if tiling else 1)
        base, factor = _shrunk(image, max(finest, self.pass_side))
        if tiling is not None and max(image.size) < tiling.min_side:
            base, factor = image, 1.0
        found = suppress(self._pass(base, None) + self._tile_faces(base, max(image.size)))
        if factor != 1.0:
            found = [
                DetectedFace(
                    box=tuple(v * factor for v in face.box),
                    score=face.score,
                    keypoints=tuple((x * factor, y * factor) for x, y in face.keypoints),
                )
                for face in found
            ]
        width, height = image.size
        clipped = []
        for face in found:
            left, top, w, h = face.box
            right, bottom = min(width, left + w), min(height, top + h)
            left, top = max(0.0, left), max(0.0, top)
            if right - left < 1 or bottom - top < 1:
                continue
            clipped.append(
                DetectedFace(
                    box=(left, top, right - left, bottom - top),
                    score=round(face.score, 4),
                    keypoints=face.keypoints,
                )
            )
        return clipped


def face_sharpness(image: Image.Image, face: DetectedFace) -> float:
    """Variance of the Laplacian of the face's grey crop resized to BLUR_SIDE px (higher is
    sharper; Pech-Pacheco et al. 2000). Resizing first makes the measure independent of the
    face's size in px."""
    left, top, width, height = face.box
    crop = image.crop((round(left), round(top), round(left + width), round(top + height)))
    grey = crop.convert("L").resize((BLUR_SIDE, BLUR_SIDE), Image.Resampling.BILINEAR)
    # 3 × 3 Laplacian kernel (0 1 0 / 1 −4 1 / 0 1 0); PIL adds `offset` to keep it unsigned.
    kernel = ImageFilter.Kernel((3, 3), (0, 1, 0, 1, -4, 1, 0, 1, 0), scale=1, offset=128)
    laplacian = np.asarray(grey.filter(kernel), dtype=np.float64)[1:-1, 1:-1] - 128.0
    return float(laplacian.var())


def face_is_clusterable(image: Image.Image, face: DetectedFace) -> bool:
    """False for a face too small (shorter box side < MIN_FACE_PX) or too blurry (sharpness <
    MIN_SHARPNESS) to embed reliably: it is kept as detected, but not put into a person."""
    if min(face.box[2], face.box[3]) < MIN_FACE_PX:
        return False
    return face_sharpness(image, face) >= MIN_SHARPNESS


def _build(card: modelcards.ModelCard, threads: int | None) -> FaceDetector:
    # TensorFlow is imported by mediapipe (its optional dependencies); cap its pools first, as
    # the tagger does, so its start-up does not claim every core.
    if threads:
        loader.configure_threads(threads)
    os.environ.setdefault("GLOG_minloglevel", "2")  # mediapipe's C++ start-up chatter
    from mediapipe.tasks.python import vision
    from mediapipe.tasks.python.core.base_options import BaseOptions

    if card.data["format"] != "tflite":
        raise ValueError(f"a face detector must be a tflite model, not {card.data['format']}")
    # The bytes handed to mediapipe are the bytes hashed here: a file swapped after the
    # loader's check cannot slip in between.
    data = card.file.read_bytes()
    if hashlib.sha256(data).hexdigest() != card.sha256:
        raise modelcards.CardError(
            f"{card.path.name}: sha256 of {card.data['file']} does not match"
        )
    options = vision.FaceDetectorOptions(
        base_options=BaseOptions(model_asset_buffer=data),
        # mediapipe returns candidates down to CANDIDATE_SCORE; FaceDetector.threshold decides
        # (the evaluation varies it without reloading the model).
        min_detection_confidence=CANDIDATE_SCORE,
        min_suppression_threshold=NMS_IOU,
    )
    task = vision.FaceDetector.create_from_options(options)
    # mediapipe's own __del__ runs during interpreter teardown, after its executor and module
    # globals are gone, and prints a TypeError into the worker's log. Closing it from a
    # threading exit hook runs before concurrent.futures shuts its executors down (hooks run
    # last-registered first), so the exit stays quiet. A private hook: without it, only the
    # noise comes back.
    register = getattr(threading, "_register_atexit", None)
    if register is not None:
        register(task.close)
    detector = FaceDetector(card=card, task=task)
    detector._run(Image.new("RGB", (192, 192)))  # the first call sets up the graph: pay it now
    return detector


def load_face_detector(models_dir: Path, *, threads: int | None = None) -> FaceDetector:
    """The active face detector of models_dir, loaded once per process. Raises
    loader.ModelUnavailable with a readable reason (missing, sha256 mismatch, not loadable)."""
    return loader.load_active(TASK, Path(models_dir), lambda card: _build(card, threads))
