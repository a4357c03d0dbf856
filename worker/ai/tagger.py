"""The tagger: an image classifier whose outputs are mapped to the vault's labels by the data in
its model card (label_map, thresholds; DESIGN §7). Pure inference, no Django."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from vault import modelcards
from worker.ai import loader

OTHER = "other"


@dataclass(frozen=True)
class LabelScore:
    label: str
    score: float  # 0..1


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (n, k) logits, stable for large values."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def label_scores(probabilities: np.ndarray, card: modelcards.ModelCard) -> dict[str, float]:
    """{label: score} for one image: a label's score is the sum of the probabilities of the
    outputs the card maps to it. `probabilities` has shape (k,), k = len(card outputs)."""
    return {
        label: float(np.clip(probabilities[indices].sum(), 0.0, 1.0))
        for label, indices in card.get("label_map").items()
    }


def labels_given(scores: dict[str, float], card: modelcards.ModelCard) -> list[LabelScore]:
    """The labels whose score reaches the card's threshold, best first; `other` alone (scored
    1 − the best label's score) when none does."""
    thresholds = card.get("thresholds")
    given = [
        LabelScore(label, round(score, 4))
        for label, score in scores.items()
        if score >= thresholds[label]
    ]
    if not given:
        best = max(scores.values(), default=0.0)
        return [LabelScore(OTHER, round(1.0 - best, 4))]
    return sorted(given, key=lambda item: -item.score)


def model_input(image: Image.Image, card: modelcards.ModelCard) -> np.ndarray:
    """(h, w, 3) float32 RGB in 0..255, as the card's `input` says: "center-crop" scales the
    short side to size / crop_fraction and takes the centre (the usual ImageNet evaluation,
    crop fraction 0.875), "squash" resizes the whole picture. `image` is upright RGB."""
    spec = card.get("input")
    height, width = spec["size"]
    if image.mode != "RGB":
        image = image.convert("RGB")
    if spec.get("resize", "center-crop") == "squash":
        picture = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=3.0)
    else:
        fraction = float(spec.get("crop_fraction", 0.875))
        scale = max(height, width) / fraction / min(image.size)
        # Only the centre region is resampled (a box in source pixels): scaling the whole
        # picture first would blow a 20000 × 1 panorama up to millions of pixels wide.
        box_width, box_height = min(image.width, width / scale), min(image.height, height / scale)
        left, top = (image.width - box_width) / 2, (image.height - box_height) / 2
        picture = image.resize(
            (width, height),
            Image.Resampling.BILINEAR,
            box=(left, top, left + box_width, top + box_height),
            reducing_gap=3.0,
        )
    return np.asarray(picture, dtype=np.float32)


@dataclass
class Tagger:
    card: modelcards.ModelCard
    model: object = field(repr=False)

    @property
    def model_id(self) -> str:
        return self.card.model_id

    def probabilities(self, images: list[Image.Image]) -> np.ndarray:
        """(n, k) output probabilities for n images."""
        batch = np.stack([model_input(image, self.card) for image in images])
        outputs = np.asarray(self.model.predict_on_batch(batch), dtype=np.float64)
        activation = self.card.get("output_activation")
        if activation == "softmax-logits":
            return softmax(outputs)
        if activation == "sigmoid" and outputs.min() < 0:  # logits of a sigmoid head
            return 1.0 / (1.0 + np.exp(-outputs))
        return outputs

    def tag_batch(self, images: list[Image.Image]) -> list[list[LabelScore]]:
        """The labels of each image, best first (several may pass; `other` when none)."""
        return [
            labels_given(label_scores(row, self.card), self.card)
            for row in self.probabilities(images)
        ]

    def tag(self, image: Image.Image) -> list[LabelScore]:
        return self.tag_batch([image])[0]


def _build(card: modelcards.ModelCard, threads: int) -> Tagger:
    loader.configure_threads(threads)  # before TensorFlow runs its first op
    import keras

    if card.data["format"] != "keras":
        raise ValueError(f"a tagger must be a Keras model, not {card.data['format']}")
    model = keras.saving.load_model(card.file, compile=False)
    outputs = model.output_shape[-1]
    if outputs != len(card.get("outputs")):
        raise ValueError(f"the model has {outputs} outputs, its card lists a different number")
    # The first call traces and compiles the model (most of a second): pay it while loading,
    # not on the first user's photo.
    height, width = card.get("input")["size"]
    model.predict_on_batch(np.zeros((1, height, width, 3), dtype=np.float32))
    return Tagger(card=card, model=model)


def load_tagger(models_dir: Path, *, threads: int = 1) -> Tagger:
    """The active tagger of models_dir, loaded once per process. Raises
    loader.ModelUnavailable with the reason when there is no usable one."""
    return loader.load_active("tagger", Path(models_dir), lambda card: _build(card, threads))


def load_tagger_card(card: modelcards.ModelCard, *, threads: int = 1) -> Tagger:
    """A given (verified) tagger card, e.g. a candidate the notebooks evaluate."""
    return loader.load_card(card, lambda card: _build(card, threads))
