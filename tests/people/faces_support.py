"""Faces for the people tests: real portraits that installed packages carry (DESIGN §10), and
copies of them that differ as two photos of one person do (flipped, scaled, recompressed)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.cbook
from PIL import Image, ImageEnhance, ImageOps

from tests.photos import support
from vault.accounts.keyring import Keyring
from vault.accounts.services import keys_unlock_with_password


def astronaut() -> Image.Image:
    with Image.open(support.SKIMAGE_DATA / "astronaut.png") as image:
        return image.convert("RGB")


def grace_hopper() -> Image.Image:
    path = Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    with Image.open(path) as image:
        return image.convert("RGB")


def cat() -> Image.Image:
    with Image.open(support.SKIMAGE_DATA / "chelsea.png") as image:
        return image.convert("RGB")


def variant(image: Image.Image, number: int) -> Image.Image:
    """Another photo of the same face: mirrored, rescaled, brightened, recompressed, by number."""
    if number % 2:
        image = ImageOps.mirror(image)
    scale = 1.0 + 0.15 * (number % 3)
    image = image.resize((int(image.width * scale), int(image.height * scale)))
    image = ImageEnhance.Brightness(image).enhance(1.0 + 0.05 * (number % 4))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92 - 4 * (number % 5))
    out.seek(0)
    return Image.open(out).convert("RGB")


def jpeg_bytes(image: Image.Image) -> bytes:
    return support.jpeg(image)


def keyring_of(user, password: str) -> Keyring:
    unlocked = keys_unlock_with_password(user, password)
    return Keyring(user_id=user.pk, umk=unlocked.umk, private_key=unlocked.private_key)
