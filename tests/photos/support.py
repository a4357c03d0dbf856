"""Pictures for the photo tests: real photos that scikit-image ships, and made-up ones with
chosen EXIF, sizes and defects."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import skimage
from PIL import Image

from vaultdev.samples.pictures import exif, heic, jpeg, picture  # noqa: F401 - tests use them here

SKIMAGE_DATA = Path(skimage.__file__).parent / "data"
REAL_PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"]


def real_photo(name: str) -> bytes:
    return (SKIMAGE_DATA / name).read_bytes()


def real_photo_jpeg(name: str, **exif_fields) -> bytes:
    """A real photo re-encoded as JPEG, with EXIF as given (see exif())."""
    with Image.open(SKIMAGE_DATA / name) as image:
        return jpeg(image.convert("RGB"), **exif_fields)


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
