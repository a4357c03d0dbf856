"""Made-up files of every picture kind the worker must handle: PNGs written chunk by chunk (any
bit depth, colour type and tRNS, which Pillow's encoder cannot all write), ramps, transparency
layouts, animations, and files in each format with a given colour profile."""

from __future__ import annotations

import io
import itertools
import struct
import zlib

import numpy as np
from PIL import Image

# PNG colour types (PNG 1.2, IHDR)
GREY, RGB, PALETTE, GREY_ALPHA, RGB_ALPHA = 0, 2, 3, 4, 6

WIDTH, HEIGHT = 1800, 300  # big enough that both the preview and the grid thumbnail are scaled


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def png_raw(
    samples: np.ndarray,
    bit_depth: int,
    colour_type: int,
    *,
    palette: bytes | None = None,
    trns: bytes | None = None,
    icc: bytes | None = None,
) -> bytes:
    """A PNG holding `samples` exactly: (height, width, channels) integers in the bit depth."""
    height, width = samples.shape[:2]
    rows = samples.reshape(height, -1)
    if bit_depth == 16:
        raw = [row.astype(">u2").tobytes() for row in rows]
    elif bit_depth == 8:
        raw = [row.astype(np.uint8).tobytes() for row in rows]
    else:  # 1, 2 or 4 bits: samples packed big-end first, each row padded to a byte
        raw = []
        for row in rows:
            bits = np.unpackbits(row.astype(np.uint8)[:, None], axis=1)[:, 8 - bit_depth :]
            raw.append(np.packbits(bits.reshape(-1)).tobytes())
    data = zlib.compress(b"".join(b"\0" + row for row in raw))
    chunks = [
        _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0))
    ]
    if icc is not None:
        chunks.append(_chunk(b"iCCP", b"test\0\0" + zlib.compress(icc)))
    if palette is not None:
        chunks.append(_chunk(b"PLTE", palette))
    if trns is not None:
        chunks.append(_chunk(b"tRNS", trns))
    chunks += [_chunk(b"IDAT", data), _chunk(b"IEND", b"")]
    return b"\x89PNG\r\n\x1a\n" + b"".join(chunks)


def ramp(levels: int, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """Black to white, left to right, in `levels` steps (65536: a smooth 16-bit ramp): (h, w)."""
    columns = np.floor(np.linspace(0, levels, width, endpoint=False)).astype(np.int64)
    return np.tile(np.minimum(columns, levels - 1), (height, 1))


def thirds(left, middle, right, width: int = WIDTH, height: int = HEIGHT) -> np.ndarray:
    """Three vertical bands of given sample tuples: (h, w, channels)."""
    out = np.empty((height, width, len(left)), dtype=np.int64)
    bounds = [0, width // 3, 2 * width // 3, width]
    for (start, end), value in zip(itertools.pairwise(bounds), (left, middle, right), strict=True):
        out[:, start:end] = value
    return out


def saved(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def animation(fmt: str, frames: list[Image.Image], **options) -> bytes:
    """An animated WebP (lossless unless told) or APNG of these frames."""
    if fmt == "WEBP":
        options.setdefault("lossless", True)
    return saved(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **options)
