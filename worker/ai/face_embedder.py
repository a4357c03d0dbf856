"""The face embedder: dlib's ResNet face descriptor (128-D) after dlib's 5-point alignment
(DESIGN §8). Both model files are in models/ (copied unchanged from the PyPI package
face-recognition-models 0.3.0; CC0-1.0, see models/face-embedder-dlib-resnet-v1.json) and
verified against the card before loading. Pure inference, no Django.

The Euclidean distance between two rows is the face distance: dlib trained the network so that
one person's faces fall within 0.6 of each other (dlib-models README; LFW accuracy 99.38 %).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from vault import modelcards
from worker.ai import loader
from worker.ai.face_detector import DetectedFace

TASK = "face_embedder"
EMBEDDING_DIM = 128
# dlib's usual same-person threshold on the distance between descriptors (dlib-models README).
SAME_PERSON_DISTANCE = 0.6
# A face is aligned and embedded from a region around its box at most this many px on its
# longer side: dlib's chips are 150 px, so a bigger region only costs time (the shape predictor
# and the chip extraction scale with the pixels they read).
ALIGN_SIDE = 400
# The face thumbnail: the box grown by this fraction of its side on every side, made square.
CROP_MARGIN = 0.25


def _region(image: Image.Image, box: tuple[float, float, float, float], grow: float) -> tuple:
    """The square (left, top, right, bottom) around `box` grown by `grow` × its longer side on
    every side, in px of `image` (it may reach outside the picture)."""
    left, top, width, height = box
    side = max(width, height) * (1 + 2 * grow)
    cx, cy = left + width / 2, top + height / 2
    return (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2)


def face_crop(image: Image.Image, face: DetectedFace, size: int = 160) -> Image.Image:
    """The face thumbnail: a square RGB crop around the box with a CROP_MARGIN margin (black
    where it reaches past the picture's edge), resized to size × size px."""
    region = tuple(round(v) for v in _region(image, face.box, CROP_MARGIN))
    crop = image.crop(region)  # PIL fills outside the picture with black
    if crop.mode != "RGB":
        crop = crop.convert("RGB")  # after cropping: never a copy of a 12 MP picture
    return crop.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=2.0)


@dataclass
class FaceEmbedder:
    card: modelcards.ModelCard
    shape_predictor: object = field(repr=False)  # dlib.shape_predictor (5 points)
    network: object = field(repr=False)  # dlib.face_recognition_model_v1
    # dlib's objects are not documented as safe to share between threads.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def model_id(self) -> str:
        return self.card.model_id

    def embed(self, image: Image.Image, faces: Sequence[DetectedFace]) -> np.ndarray:
        """(len(faces), 128) float32 descriptors of the faces of an upright RGB picture: each
        face's region is cut out (at most ALIGN_SIDE px), aligned on dlib's 5 landmarks found in
        its box, and run through the ResNet."""
        import dlib

        out = np.zeros((len(faces), EMBEDDING_DIM), dtype=np.float32)
        if image.mode != "RGB":
            image = image.convert("RGB")
        for row, face in enumerate(faces):
            # Work on a region twice the face's size around it, shrunk to ALIGN_SIDE px: enough
            # context for the alignment's 25 % padding, and a 12 MP picture is never copied.
            x0, y0, x1, y1 = (round(v) for v in _region(image, face.box, 0.5))
            region = image.crop((x0, y0, x1, y1))
            scale = min(1.0, ALIGN_SIDE / max(region.size))
            if scale < 1.0:
                size = (max(1, round(region.width * scale)), max(1, round(region.height * scale)))
                region = region.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
            pixels = np.ascontiguousarray(np.asarray(region, dtype=np.uint8))
            left, top, width, height = face.box
            rect = dlib.rectangle(
                round((left - x0) * scale),
                round((top - y0) * scale),
                round((left - x0 + width) * scale),
                round((top - y0 + height) * scale),
            )
            with self._lock:
                shape = self.shape_predictor(pixels, rect)
                vector = self.network.compute_face_descriptor(pixels, shape)
            out[row] = np.asarray(vector, dtype=np.float32)
        return out


def face_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Euclidean distance between descriptors (rows); < SAME_PERSON_DISTANCE is one person."""
    return np.linalg.norm(
        np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64), axis=-1
    )


def _build(card: modelcards.ModelCard) -> FaceEmbedder:
    import dlib

    if card.data["format"] != "dlib":
        raise ValueError(f"a face embedder must be a dlib model, not {card.data['format']}")
    # The loader has just re-hashed both files (card_verify(fresh=True) covers companions).
    predictor = dlib.shape_predictor(str(card.companion("landmarks")))
    network = dlib.face_recognition_model_v1(str(card.file))
    embedder = FaceEmbedder(card=card, shape_predictor=predictor, network=network)
    # dlib allocates its network's buffers on the first call: pay it while loading.
    blank = DetectedFace(box=(40.0, 40.0, 80.0, 80.0), score=1.0)
    embedder.embed(Image.new("RGB", (160, 160), (128, 128, 128)), [blank])
    return embedder


def load_face_embedder(models_dir: Path) -> FaceEmbedder:
    """The active face embedder of models_dir, loaded once per process (later calls return the
    same object). Raises loader.ModelUnavailable with a readable reason (missing file, sha256
    mismatch of either file, not loadable)."""
    return loader.load_active(TASK, Path(models_dir), _build)
