"""Fine-tuning a tagger head on a class-folder dataset (DESIGN §7): VGG16 from verified base
weights (a file path or the Keras cache; never a download), or a head on the active default
model's pooled features, which works offline. Every model takes float32 RGB 0..255 as the model
card format requires: the normalisation is inside it, in plain serialisable layers."""

from __future__ import annotations

import hashlib
import math
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.dataset import Dataset, arrays_load

# The Keras "no top" VGG16 file, as keras/src/applications/vgg16.py fetches it. Keras checks it
# with this md5 (`file_hash`); no sha256 is published for it, so we check the same digest plus
# the exact size, and record the file's sha256 in the card we write.
VGG16_NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG16_NOTOP_URL = (
    "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + VGG16_NOTOP_FILE
)
VGG16_NOTOP_MD5 = "6d6bbae143d832006294945121d1f1fc"
VGG16_NOTOP_SIZE = 58_889_256
# Ported by Keras from the VGG group's release, which is under CC BY 4.0 (keras-team's
# deep-learning-models README); attribution: Simonyan & Zisserman, arXiv:1409.1556.
VGG16_LICENCE = "CC-BY-4.0"
# keras.applications.vgg16.preprocess_input ("caffe"): BGR order, ImageNet channel means.
CAFFE_MEANS_BGR = (103.939, 116.779, 123.68)

VGG16_SIZE = 224
SMOKE_SIZE = 64  # VGG16 accepts 32 and up; small keeps the CI run to seconds


class WeightsError(Exception):
    """Base weights that are missing or not the published file; str(error) says which."""


@dataclass
class Trained:
    """A fine-tuned model and what its card needs to say about it."""

    model: object = field(repr=False)  # keras.Model: (n, h, w, 3) RGB 0..255 -> (n, k) softmax
    labels: list[str]
    input_spec: dict  # the card's `input` object
    base: str  # what the head sits on
    source: str
    licence: str
    smoke: bool
    name: str  # suggested model name (the notebook adds the date)
    history: dict = field(default_factory=dict, repr=False)  # {"loss": [...], ...} per phase


def vgg16_weights_find(path: Path | str | None = None) -> Path | None:
    """The VGG16 no-top weights file: `path` when given, else the Keras cache
    ($KERAS_HOME or ~/.keras, then models/<file>) when it holds it, else None."""
    if path:
        return Path(path).expanduser()
    keras_home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")).expanduser()
    cached = keras_home / "models" / VGG16_NOTOP_FILE
    return cached if cached.is_file() else None


def vgg16_weights_check(path: Path) -> str:
    """Raise WeightsError unless `path` is the published Keras VGG16 no-top file (exact size and
    the md5 Keras itself checks). Returns the file's sha256 (hex) for the model card."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: no such file")
    if path.stat().st_size != VGG16_NOTOP_SIZE:
        raise WeightsError(f"{path}: {path.stat().st_size} bytes, not the published file")
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            md5.update(block)
            sha256.update(block)
    if md5.hexdigest() != VGG16_NOTOP_MD5:
        raise WeightsError(f"{path}: digest does not match the published VGG16 no-top file")
    return sha256.hexdigest()


def caffe_preprocessing(name: str = "vgg16_caffe_preprocess"):
    """A frozen 1×1 Conv2D doing VGG16's own preprocessing on RGB 0..255: channels swapped to
    BGR by the kernel, ImageNet means subtracted by the bias. A plain layer, unlike a Lambda,
    so the saved model loads anywhere without our code."""
    import keras

    layer = keras.layers.Conv2D(3, 1, use_bias=True, trainable=False, name=name)
    layer.build((None, None, None, 3))
    kernel = np.zeros((1, 1, 3, 3), dtype=np.float32)
    for out_channel, in_channel in enumerate((2, 1, 0)):  # B <- R's slot 2, G, R <- slot 0
        kernel[0, 0, in_channel, out_channel] = 1.0
    layer.set_weights([kernel, -np.array(CAFFE_MEANS_BGR, dtype=np.float32)])
    return layer


def augmentation(seed: int = 0):
    """Flip, small rotation and zoom; Keras applies these layers only in training."""
    import keras

    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomRotation(0.05, seed=seed),
            keras.layers.RandomZoom(0.1, seed=seed),
        ],
        name="augmentation",
    )


def class_weights(y: np.ndarray, classes: int) -> dict[int, float]:
    """sklearn's "balanced" weights for the classes present in y; 1.0 for absent ones (Keras
    wants every output index)."""
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(y)
    weights = compute_class_weight("balanced", classes=present, y=y)
    found = dict(zip(present.tolist(), weights.tolist(), strict=True))
    return {index: float(found.get(index, 1.0)) for index in range(classes)}


def picture_batches(examples, labels, input_spec, *, batch_size, weights_by_class, seed=0):
    """A keras.utils.PyDataset of (x, y, sample weight) batches, decoded as they are needed, so
    a large dataset never sits in memory at once (3,000 pictures at 224 px would be 1.8 GB).
    Shuffled again after every epoch; class weights arrive as per-sample weights."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.rng = random.Random(seed)  # noqa: S311 - an order, not a secret
            self.order = list(range(len(examples)))
            self.rng.shuffle(self.order)

        def __len__(self):
            return math.ceil(len(examples) / batch_size)

        def __getitem__(self, index):
            chosen = self.order[index * batch_size : (index + 1) * batch_size]
            x, y = arrays_load([examples[i] for i in chosen], labels, input_spec)
            weight = np.array([weights_by_class[int(v)] for v in y], dtype=np.float32)
            return x, y, weight

        def on_epoch_end(self):
            self.rng.shuffle(self.order)

    return Batches()


def finetune_vgg16(
    dataset: Dataset,
    *,
    weights: Path | str | None,
    smoke: bool = False,
    epochs: int = 5,
    fine_tune_epochs: int = 3,
    batch_size: int = 16,
    seed: int = 0,
) -> Trained:
    """VGG16 (no top) with a new softmax head over dataset.labels: the base frozen for `epochs`,
    then block5 unfrozen for `fine_tune_epochs` at a low learning rate; augmentation and
    balanced class weights throughout. `weights` is the no-top file (checked, WeightsError when
    it is not the published one); None only with smoke=True (random base, SMOKE_SIZE input,
    for CI: the result is marked smoke and is never promoted). Trains on the train split only."""
    import keras

    if weights is None and not smoke:
        raise WeightsError(
            "VGG16 needs its base weights: give the path of "
            f"{VGG16_NOTOP_FILE} (from {VGG16_NOTOP_URL}) or put it in ~/.keras/models/"
        )
    weights_sha256 = vgg16_weights_check(Path(weights)) if weights is not None else None
    keras.utils.set_random_seed(seed)
    size = SMOKE_SIZE if smoke else VGG16_SIZE
    input_spec = {
        "size": [size, size],
        "resize": "center-crop",
        "crop_fraction": 0.875,
        "range": "0-255",
        "preprocessing": "RGB to BGR and ImageNet mean subtraction (caffe style) by a frozen 1x1 "
        "convolution; augmentation layers are inactive at inference",
    }
    base = keras.applications.VGG16(
        include_top=False, weights=None, input_shape=(size, size, 3), name="vgg16"
    )
    if weights is not None:
        base.load_weights(str(weights))
    inputs = keras.Input((size, size, 3), name="image")
    x = augmentation(seed)(inputs)
    x = caffe_preprocessing()(x)
    x = base(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(0.3, name="head_dropout")(x)
    outputs = keras.layers.Dense(len(dataset.labels), activation="softmax", name="head")(x)
    model = keras.Model(inputs, outputs, name="vgg16_tagger")

    y_train = np.array([dataset.labels.index(e.label) for e in dataset.train], dtype=np.int32)
    batches = picture_batches(
        dataset.train, dataset.labels, input_spec, batch_size=batch_size, seed=seed,
        weights_by_class=class_weights(y_train, len(dataset.labels)),
    )  # fmt: skip
    history: dict = {}

    base.trainable = False
    model.compile(
        keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    history["head"] = model.fit(batches, epochs=epochs, verbose=2).history

    if fine_tune_epochs:
        # Only the last block adapts: the early filters are generic, and a small set would
        # overwrite them. Low rate so the pretrained block moves a little, not starts over.
        base.trainable = True
        for layer in base.layers:
            layer.trainable = layer.name.startswith("block5")
        model.compile(
            keras.optimizers.Adam(1e-5),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        history["block5"] = model.fit(batches, epochs=fine_tune_epochs, verbose=2).history

    if smoke:
        source = "keras.applications.VGG16 with random weights (smoke run, not for use)"
    else:
        source = f"{VGG16_NOTOP_URL} (sha256 {weights_sha256}), fine-tuned on {dataset.root.name}"
    return Trained(
        model=model,
        labels=list(dataset.labels),
        input_spec=input_spec,
        base="vgg16-random" if smoke else "vgg16-imagenet",
        source=source,
        licence=VGG16_LICENCE,
        smoke=smoke,
        name="vgg16-smoke" if smoke else "vgg16",
        history=history,
    )


def feature_extractor(model):
    """(frozen model up to its pooled features, that Dense layer): the input of the model's last
    Dense layer, i.e. what its 1000-way classifier sees. ValueError when it has no Dense layer at
    the top level."""
    import keras

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if not dense:
        raise ValueError("the model has no top-level Dense layer to cut below")
    features = keras.Model(model.inputs, dense[-1].input, name="default_features")
    features.trainable = False
    return features


def finetune_default_head(
    dataset: Dataset,
    card,
    *,
    epochs: int = 30,
    batch_size: int = 32,
    seed: int = 0,
    smoke: bool = False,
) -> Trained:
    """A new softmax head over dataset.labels on the frozen pooled features of the model `card`
    describes (a vault.modelcards.ModelCard, e.g. the active default tagger; its file is checked
    against its sha256 first, modelcards.CardError otherwise). The features of the train split
    are computed once, plus those of each picture mirrored (cheap augmentation), so this runs
    in minutes on two CPU cores. The exported model is features → dropout → head, input as the
    card's."""
    import keras

    from vault import modelcards

    modelcards.card_verify(card, fresh=True)
    keras.utils.set_random_seed(seed)
    original = keras.saving.load_model(card.file, compile=False)
    features = feature_extractor(original)
    input_spec = dict(card.get("input"))

    pooled_parts, y_parts = [], []
    for start in range(0, len(dataset.train), batch_size):  # pictures in batches: bounded memory
        x, y = arrays_load(dataset.train[start : start + batch_size], dataset.labels, input_spec)
        pooled_parts += [
            features.predict_on_batch(x),
            features.predict_on_batch(np.ascontiguousarray(x[:, :, ::-1])),
        ]
        y_parts += [y, y]
    pooled, y_pooled = np.concatenate(pooled_parts), np.concatenate(y_parts)

    head_input = keras.Input(pooled.shape[1:], name="features")
    x = keras.layers.Dropout(0.2, name="head_dropout")(head_input)
    head_output = keras.layers.Dense(len(dataset.labels), activation="softmax", name="head")(x)
    head = keras.Model(head_input, head_output, name="head")
    head.compile(
        keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"]
    )
    fitted = head.fit(
        pooled, y_pooled, epochs=epochs, batch_size=batch_size,
        class_weight=class_weights(y_pooled, len(dataset.labels)), verbose=0,
    )  # fmt: skip

    inputs = keras.Input((*input_spec["size"], 3), name="image")
    model = keras.Model(inputs, head(features(inputs)), name=f"{card.name}-head")
    return Trained(
        model=model,
        labels=list(dataset.labels),
        input_spec=input_spec,
        base=card.model_id,
        source=f"head on the pooled features of {card.model_id} ({card.get('source')}), "
        f"trained on {dataset.root.name}",
        licence=card.get("licence"),
        smoke=smoke,
        name=f"{card.name}-head",
        history={"head": fitted.history},
    )
