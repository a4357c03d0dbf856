"""Pictures for the photo tests: real photos that scikit-image ships, and made-up ones with
chosen EXIF, sizes and defects."""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import skimage
from PIL import Image, ImageFilter

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"
REAL_PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"]


def real_photo(name: str) -> bytes:
    return (SKIMAGE_DATA / name).read_bytes()


def real_photo_jpeg(name: str, **exif_fields) -> bytes:
    """A real photo re-encoded as JPEG, with EXIF as given (see exif())."""
    with Image.open(SKIMAGE_DATA / name) as image:
        return jpeg(image.convert("RGB"), **exif_fields)


def picture(width: int = 640, height: int = 480, seed: int = 1) -> Image.Image:
    """A smooth gradient with a seeded pattern: compresses like a photo, differs per seed."""
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = random.Random(seed).randbytes(width * height)
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


def png(image: Image.Image | None = None) -> bytes:
    out = io.BytesIO()
    (image or picture()).save(out, "PNG")
    return out.getvalue()


def webp(image: Image.Image | None = None) -> bytes:
    out = io.BytesIO()
    (image or picture()).save(out, "WEBP", quality=80)
    return out.getvalue()


def pixel_bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A real, valid PNG of one colour: a few hundred kilobytes that would decode to
    width × height pixels. Built row by row so the test never holds the pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    compressor = zlib.compressobj(9)
    row = b"\x00" + b"\x00" * width  # filter byte + one grey byte per pixel
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", b"".join(parts))
        + chunk(b"IEND", b"")
    )


def undecodable_jpeg() -> bytes:
    """Looks whole (markers, a scan, the end marker) but its Huffman table is bogus: only
    decoding finds out, so the upload lands and processing fails with a reason."""
    good = jpeg(picture(320, 240))
    table = good.index(b"\xff\xc4")  # DHT: marker, length, class/id, then 16 code counts
    return good[: table + 5] + bytes([255] * 16) + good[table + 5 + 16 :]


def heic(image: Image.Image | None = None, **exif_fields) -> bytes:
    """An HEIC, the iPhone's format (pillow-heif's encoder, registered by the photos app)."""
    out = io.BytesIO()
    (image or picture()).save(out, "HEIF", quality=80, exif=exif(**exif_fields).tobytes())
    return out.getvalue()
