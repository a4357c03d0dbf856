"""Made-up pictures: a seeded photo-like image, and JPEG/HEIC files of it with chosen EXIF
(capture date and offset, orientation, GPS, camera, description)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageFilter


def picture(width: int = 640, height: int = 480, seed: int = 1) -> Image.Image:
    """A smooth gradient with a seeded pattern: compresses like a photo, differs per seed."""
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = random.Random(seed).randbytes(width * height)  # noqa: S311 - a pattern, no secret
    pattern = Image.frombytes("L", (width, height), noise).filter(ImageFilter.BoxBlur(2))
    return Image.merge("RGB", (gradient, pattern, gradient.rotate(90 + seed % 180)))


def exif(
    *,
    taken: str | None = None,
    offset: str | None = None,
    orientation: int | None = None,
    gps: tuple[float, float] | None = None,
    camera: tuple[str, str] | None = None,
    description: str | None = None,
) -> Image.Exif:
    data = Image.Exif()
    if camera:
        data[0x010F], data[0x0110] = camera
    if description:
        data[0x010E] = description
    if orientation:
        data[0x0112] = orientation
    sub = data.get_ifd(0x8769)
    if taken:
        sub[0x9003] = taken
    if offset:
        sub[0x9011] = offset
    if gps:
        gps_ifd = data.get_ifd(0x8825)
        lat, lon = gps
        gps_ifd[1], gps_ifd[2] = ("N" if lat >= 0 else "S"), _dms(abs(lat))
        gps_ifd[3], gps_ifd[4] = ("E" if lon >= 0 else "W"), _dms(abs(lon))
    return data


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def jpeg(image: Image.Image | None = None, *, quality: int = 90, **exif_fields) -> bytes:
    image = image or picture()
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif(**exif_fields))
    return out.getvalue()


def heic(image: Image.Image | None = None, **exif_fields) -> bytes:
    """An HEIC, the iPhone's format (pillow-heif's encoder, registered by the photos app)."""
    out = io.BytesIO()
    (image or picture()).save(out, "HEIF", quality=80, exif=exif(**exif_fields).tobytes())
    return out.getvalue()
