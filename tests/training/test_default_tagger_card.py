"""The default tagger (EfficientNet-Lite0 ported from PyTorch, DESIGN §7): its reviewed
ImageNet-to-label rules, its committed card, and the committed model itself on real photos."""

import hashlib
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from training import port_efficientnet_lite0 as lite0
from vault import modelcards

MODELS = Path(__file__).resolve().parents[2] / "models"
CARD = MODELS / f"{lite0.STEM}.json"
LABELS = ("human", "landscape", "animal", "vehicle", "fruit")


@pytest.fixture(scope="module")
def card() -> dict:
    return json.loads(CARD.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def index_of(card):
    """ImageNet class name (the first lemma, as in the card's "wnid name") -> output index."""
    names: dict[str, int] = {}
    for index, output in enumerate(card["outputs"]):
        names.setdefault(output.split(" ", 1)[1], index)
    return names


def label_of(index: int) -> str | None:
    found = [label for label, indices in lite0.label_map().items() if index in indices]
    assert len(found) <= 1
    return found[0] if found else None


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("tabby", "animal"),
        ("golden retriever", "animal"),
        ("goldfish", "animal"),
        ("monarch", "animal"),
        ("sports car", "vehicle"),
        ("airliner", "vehicle"),
        ("moped", "vehicle"),
        ("steam locomotive", "vehicle"),
        ("container ship", "vehicle"),
        ("Granny Smith", "fruit"),
        ("banana", "fruit"),
        ("alp", "landscape"),
        ("seashore", "landscape"),
        ("volcano", "landscape"),
        ("scuba diver", "human"),
        ("groom", "human"),
        ("military uniform", "human"),
        ("coffee mug", None),
        ("espresso", None),
        ("broccoli", None),  # a vegetable, not fruit
        ("triceratops", None),  # skeletons and toys
        ("nematode", None),  # what microscopy and the moon look like to the model
    ],
)
def test_label_rules(index_of, name, label):
    assert label_of(index_of[name]) == label


def test_animal_rules_cover_the_animal_block():
    # ImageNet's animals are outputs 0..397 (tench … puffer); the rules leave out only four.
    animal = set(lite0.label_map()["animal"])
    assert animal <= set(range(398))
    assert set(range(398)) - animal == {51, 69, 110, 111}


def test_every_index_in_range_and_no_class_mapped_twice():
    mapping = lite0.label_map()
    assert set(mapping) == set(LABELS)
    seen: set[int] = set()
    for indices in mapping.values():
        assert indices == sorted(set(indices))
        assert all(0 <= index < lite0.NUM_CLASSES for index in indices)
        assert not seen & set(indices)
        seen |= set(indices)


def test_thresholds_for_every_label():
    assert set(lite0.THRESHOLDS) == set(LABELS)
    assert all(0 < value <= 1 for value in lite0.THRESHOLDS.values())


def test_card_carries_the_reviewed_rules(card):
    assert card["label_map"] == lite0.label_map()
    assert card["thresholds"] == lite0.THRESHOLDS
    assert card["task"] == "tagger" and card["active"] is True
    assert card["output_activation"] == "softmax-logits"
    assert card["input"]["size"] == [lite0.IMAGE_SIZE, lite0.IMAGE_SIZE]
    assert len(card["outputs"]) == lite0.NUM_CLASSES
    assert card["outputs"][0] == "n01440764 tench"
    assert card["outputs"][281] == "n02123045 tabby"
    assert card["outputs"][999] == "n15075141 toilet tissue"
    port_check = card["metrics"]["port_check"]
    assert port_check["top1_agreement"] == f"{port_check['photos']}/{port_check['photos']}"


def test_card_is_valid_and_matches_its_file(card):
    path = MODELS / card["file"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == card["sha256"]
    parsed = modelcards.card_read(CARD)
    modelcards.card_verify(parsed, fresh=True)


def test_pth_reader_reads_the_package_weights():
    pytest.importorskip(lite0.WEIGHTS_MODULE)
    state = lite0.read_pth(lite0.weights_path())
    assert len(state) == 296
    assert state["_fc.weight"].shape == (1000, 1280) and state["_fc.weight"].dtype == np.float32
    assert state["_blocks.15._depthwise_conv.weight"].shape == (1152, 1, 3, 3)


def test_pth_reader_refuses_code(tmp_path):
    # A legacy-format header followed by a pickle that names os.system: refused, not run.
    parts = (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True})
    header = b"".join(pickle.dumps(part) for part in parts)
    path = tmp_path / "evil.pth"
    path.write_bytes(header + pickle.dumps(os.system))
    with pytest.raises(pickle.UnpicklingError, match="not allowed"):
        lite0.read_pth(path)


@pytest.fixture(scope="module")
def committed_model():
    keras = pytest.importorskip("keras")
    # Plain Keras, no custom objects: what the worker does.
    return keras.saving.load_model(MODELS / f"{lite0.STEM}.keras")


@pytest.mark.parametrize(
    ("photo", "expected"),
    [
        ("chelsea.png", {"tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"}),
        ("coffee.png", {"espresso", "cup", "coffee mug"}),
    ],
)
def test_committed_model_classifies_real_photos(committed_model, card, photo, expected):
    row = lite0.logits(committed_model, lite0.photo_input(lite0.skimage_photo(photo))[None])[0]
    assert row.shape == (lite0.NUM_CLASSES,)
    assert card["outputs"][int(np.argmax(row))].split(" ", 1)[1] in expected
