"""What the tagger feeds its model (worker/ai/tagger.py model_input): the card's size, the
centre of the picture, and bounded work whatever the picture's shape."""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vault import modelcards
from worker.ai.tagger import labels_given, model_input

MODELS = Path(__file__).resolve().parent.parent.parent / "models"


@pytest.fixture
def card():
    return modelcards.active_card(MODELS, "tagger")


@pytest.mark.parametrize("size", [(20000, 1), (1, 20000), (1, 1), (4000, 3000), (224, 224)])
def test_any_shape_becomes_the_cards_input_size(card, size):
    picture = model_input(Image.new("RGB", size, (200, 30, 30)), card)
    assert picture.shape == (*card.get("input")["size"], 3)
    assert picture.dtype == np.float32
    assert np.allclose(picture, [200, 30, 30], atol=1)  # the colour survives, 0..255


def test_the_centre_is_what_the_model_sees(card):
    # A wide picture: red band in the middle, blue at the far ends (cropped away).
    image = Image.new("RGB", (1000, 250), (0, 0, 255))
    image.paste((255, 0, 0), (300, 0, 700, 250))
    picture = model_input(image, card)
    assert np.allclose(picture[112, 112], [255, 0, 0], atol=1)
    assert picture[:, :, 2].max() < 10  # nothing of the blue ends


def test_other_only_when_nothing_passes(card):
    thresholds = card.get("thresholds")
    scores = {label: 0.0 for label in thresholds}
    [only] = labels_given(scores, card)
    assert only.label == "other" and only.score == 1.0
    scores["fruit"] = thresholds["fruit"]
    assert [item.label for item in labels_given(scores, card)] == ["fruit"]
    assert json.dumps([item.label for item in labels_given(scores, card)])  # plain strings
