"""Class-folder datasets for the tagger (`<root>/<label>/*.jpg|png|webp`, DESIGN §7): a fixed
held-out split, a tiny synthetic set for smoke runs, and loading at a model's input size through
the worker's own preprocessing (worker.ai.tagger.model_input), so training sees what inference
sees."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from vault import modelcards

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
HELD_OUT = 0.2  # share of images in the held-out split
TRAIN, TEST = "train", "test"


@dataclass(frozen=True)
class Example:
    path: Path
    label: str
    split: str  # TRAIN or TEST

    @property
    def key(self) -> str:
        """What identifies the picture across label folders: its file stem (a photo id in
        sets written by `manage.py export_training_set`)."""
        return self.path.stem


@dataclass
class Dataset:
    root: Path
    labels: list[str]  # the model's outputs, in order
    examples: list[Example] = field(repr=False)
    held_out: float = HELD_OUT

    def split(self, name: str) -> list[Example]:
        return [example for example in self.examples if example.split == name]

    @property
    def train(self) -> list[Example]:
        return self.split(TRAIN)

    @property
    def test(self) -> list[Example]:
        return self.split(TEST)

    def counts(self) -> dict[str, dict[str, int]]:
        """{split: {label: images}}, every label present (0 when none)."""
        counted = Counter((example.split, example.label) for example in self.examples)
        return {split: {lb: counted[split, lb] for lb in self.labels} for split in (TRAIN, TEST)}

    def fingerprint(self, split: str = TEST) -> str:
        """sha256 of a split's sorted `<label>/<file>` names: two evaluations compare models on
        the same images only when their fingerprints match."""
        names = sorted(f"{e.label}/{e.path.name}" for e in self.split(split))
        return hashlib.sha256("\n".join(names).encode()).hexdigest()

    def manifest(self) -> dict:
        """What the notebooks hand on to each other (JSON-ready)."""
        return {
            "root": str(self.root),
            "labels": self.labels,
            "held_out": self.held_out,
            "counts": self.counts(),
            "test_fingerprint": self.fingerprint(TEST),
        }


def split_of(key: str, held_out: float = HELD_OUT) -> str:
    """TEST or TRAIN for a picture, from a hash of its key alone: adding or removing other
    pictures never moves this one, and a photo filed under two labels (same stem) lands in the
    same split twice, so it cannot leak from training into the held-out set."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return TEST if int.from_bytes(digest[:8], "big") / 2**64 < held_out else TRAIN


def dataset_scan(
    root: Path, *, labels: list[str] | None = None, held_out: float = HELD_OUT
) -> Dataset:
    """Every image under `root/<label>/` (not recursive), each with its split. `labels` fixes the
    output order; by default the label folders in the order of vault.modelcards.LABELS. Raises
    ValueError for a folder that is not a vault label (a typo would silently drop data) or a
    dataset with no images."""
    root = Path(root)
    folders = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [name for name in folders if name not in modelcards.LABELS]
    if unknown:
        raise ValueError(f"not vault labels: {', '.join(unknown)} (labels: {modelcards.LABELS})")
    if labels is None:
        labels = [label for label in modelcards.LABELS if label in folders]
    examples = [
        Example(path, label, split_of(path.stem, held_out))
        for label in labels
        if (root / label).is_dir()
        for path in sorted((root / label).iterdir())
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
    ]
    if not examples:
        raise ValueError(f"no images under {root}/<label>/")
    return Dataset(root=root, labels=list(labels), examples=examples, held_out=held_out)


def manifest_write(dataset: Dataset, path: Path) -> None:
    Path(path).write_text(json.dumps(dataset.manifest(), indent=1) + "\n", encoding="utf-8")


def manifest_read(path: Path) -> Dataset:
    """The dataset a manifest describes, scanned again (same root, labels and split rule).
    Raises ValueError when the held-out images changed since the manifest was written."""
    manifest = json.loads(Path(path).read_text(encoding="utf-8"))
    dataset = dataset_scan(
        Path(manifest["root"]), labels=manifest["labels"], held_out=manifest["held_out"]
    )
    if dataset.fingerprint(TEST) != manifest["test_fingerprint"]:
        raise ValueError("the held-out images changed since the manifest was written")
    return dataset


def image_open(path: Path) -> Image.Image:
    """An upright RGB picture, as the worker hands pictures to the tagger."""
    with Image.open(path) as image:
        return ImageOps.exif_transpose(image).convert("RGB")


def arrays_load(examples: list[Example], labels: list[str], input_spec: dict):
    """(x, y): x float32 (n, h, w, 3) RGB 0..255 resized as `input_spec` says (the card's
    `input` object), through the worker's own preprocessing; y int32 (n,) indices into
    `labels`."""
    from worker.ai.tagger import model_input

    spec_card = modelcards.ModelCard(path=Path("-"), data={"input": input_spec})
    height, width = input_spec["size"]
    x = np.zeros((len(examples), height, width, 3), dtype=np.float32)
    for row, example in enumerate(examples):
        x[row] = model_input(image_open(example.path), spec_card)
    y = np.array([labels.index(example.label) for example in examples], dtype=np.int32)
    return x, y


# Smoke data: one shape and colour family per label, so a model can learn something in one epoch.
_SMOKE_LOOKS = {
    "human": ("ellipse", (230, 180, 150)),
    "landscape": ("band", (60, 150, 60)),
    "animal": ("triangle", (150, 90, 40)),
    "vehicle": ("rectangle", (40, 60, 200)),
    "fruit": ("circle", (230, 40, 40)),
    "other": ("cross", (128, 128, 128)),
}


def make_smoke_dataset(
    directory: Path, per_class: int = 6, size: int = 64, labels=modelcards.LABELS, seed: int = 0
) -> Path:
    """Write a tiny synthetic class-folder dataset (per_class PNGs of size × size pixels per
    label, a distinct coloured shape per label with jitter) for CI smoke runs; returns the
    directory. Not photographs: a model trained on it is marked smoke and never promoted."""
    directory = Path(directory)
    rng = random.Random(seed)  # noqa: S311 - pictures, not secrets
    for label in labels:
        shape, colour = _SMOKE_LOOKS[label]
        (directory / label).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            tint = tuple(max(0, min(255, c + rng.randint(-25, 25))) for c in colour)
            background = tuple(rng.randint(200, 255) for _ in range(3))
            image = Image.new("RGB", (size, size), background)
            draw = ImageDraw.Draw(image)
            lo, hi = rng.randint(2, size // 5), rng.randint(size * 4 // 5, size - 2)
            if shape in ("ellipse", "circle"):
                draw.ellipse((lo, lo if shape == "circle" else lo // 2, hi, hi), fill=tint)
            elif shape == "band":
                draw.rectangle((0, size // 2, size, size), fill=tint)
                draw.rectangle((0, 0, size, size // 3), fill=(120, 170, 230))
            elif shape == "triangle":
                draw.polygon([(lo, hi), (hi, hi), ((lo + hi) // 2, lo)], fill=tint)
            elif shape == "rectangle":
                draw.rectangle((lo, size // 3, hi, hi), fill=tint)
            else:
                draw.line((lo, lo, hi, hi), fill=tint, width=size // 8)
                draw.line((lo, hi, hi, lo), fill=tint, width=size // 8)
            image.save(directory / label / f"{label}-{index:03d}.png")
    return directory
