"""A 720p portrait of one person gives one face: the tile pass (for the small faces of large
pictures) no longer adds a second "face" found on the person's clothes, and the face it finds
is the one the whole-picture pass finds. On a real photo that matplotlib carries."""

import dataclasses
from pathlib import Path

import pytest
from matplotlib import cbook
from PIL import Image

from worker.ai.face_detector import iou, load_face_detector

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="module")
def detector():
    return load_face_detector(MODELS)


def portrait(scale: float, where: tuple[float, float]) -> Image.Image:
    """Grace Hopper (512 × 600) at `scale` of a 720 × 1280 frame's width, placed at `where`
    (fractions of the free room), on plain grey."""
    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as photo:
        person = photo.convert("RGB")
    width = round(720 * scale)
    person = person.resize((width, round(width * person.height / person.width)))
    frame = Image.new("RGB", (720, 1280), (120, 120, 120))
    frame.paste(person, (round((720 - width) * where[0]), round((1280 - person.height) * where[1])))
    return frame


# Each of these gave two faces before: her face and a 17-33 px "face" on her uniform.
@pytest.mark.parametrize(
    ("scale", "where"),
    [(1.0, (0.8, 0.7)), (0.6, (0.5, 0.5)), (1.4, (0.2, 0.3)), (0.8, (0.2, 0.3))],
)
def test_a_720p_portrait_of_one_person_gives_one_face(detector, scale, where):
    picture = portrait(scale, where)
    faces = detector.detect(picture)
    assert len(faces) == 1, [face.box for face in faces]
    # ... the one the whole-picture pass finds (the tiles add nothing here).
    [whole] = dataclasses.replace(detector, tiling=None).detect(picture)
    assert iou(faces[0].box, whole.box) > 0.9
