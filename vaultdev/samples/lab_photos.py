"""Small, distinct photos with faces and taggable content, for tests and benchmarks that push
many photos through the whole pipeline (the multi-host test uploads 200): scikit-image's
sample photographs (astronaut: a face; coffee, chelsea the cat, rocket: things to tag), each
copy made distinct by a seeded patch in one corner and its own capture date."""

from __future__ import annotations

import io
import random

from PIL import Image

from vaultdev.samples.pictures import exif

SUBJECTS = ("astronaut", "coffee", "chelsea", "rocket")
WITH_FACE = {"astronaut"}
SIDE = 448  # pixels on the longer side: a face stays ~80 px, a file ~40 KB


def _subject(name: str, side: int) -> Image.Image:
    import skimage.data

    image = Image.fromarray(getattr(skimage.data, name)()).convert("RGB")
    scale = side / max(image.size)
    size = (round(image.width * scale), round(image.height * scale))
    return image.resize(size, Image.Resampling.LANCZOS)


def lab_photos(count: int, *, seed: int = 23, side: int = SIDE) -> list[tuple[str, bytes, str]]:
    """`count` JPEGs as (file name, bytes, subject), the subjects in turn, `side` pixels on
    the longer side (the samples are 512 px or less: larger ones are scaled up)."""
    rng = random.Random(seed)  # noqa: S311 - a pattern, no secret
    bases = {name: _subject(name, side) for name in SUBJECTS}
    photos = []
    for number in range(count):
        subject = SUBJECTS[number % len(SUBJECTS)]
        image = bases[subject].copy()
        patch = Image.frombytes("RGB", (16, 16), rng.randbytes(16 * 16 * 3))
        image.paste(patch, (image.width - 16, image.height - 16))
        out = io.BytesIO()
        taken = f"2024:{1 + number % 12:02d}:{1 + number % 28:02d} 12:{number % 60:02d}:00"
        image.save(out, "JPEG", quality=85, exif=exif(taken=taken))
        photos.append((f"{subject}-{number:03d}.jpg", out.getvalue(), subject))
    return photos
