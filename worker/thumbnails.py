"""Thumbnails: a ~400 px grid image and a ~1600 px preview, each stored as its own blob."""

from __future__ import annotations

import io

from PIL import Image

GRID_SHORT_SIDE = 400  # tiles are square crops: the short side is what must stay sharp
GRID_LONG_SIDE_MAX = 1200  # ...without letting a panorama grow huge
PREVIEW_LONG_SIDE = 1600
JPEG_QUALITY = 82


def _encode(image: Image.Image, icc_profile: bytes | None) -> bytes:
    out = io.BytesIO()
    # The colour profile travels along: wide-gamut (Display P3) phone photos keep their colours.
    # Only an RGB one (ICC header, bytes 16–20): the decode step has already converted grey,
    # CMYK and Lab pictures to sRGB, and a browser misapplies such a profile to RGB pixels.
    if icc_profile and icc_profile[16:20] != b"RGB ":
        icc_profile = None
    image.save(out, "JPEG", quality=JPEG_QUALITY, icc_profile=icc_profile)
    return out.getvalue()


def grid_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, GRID_SHORT_SIDE / min(width, height), GRID_LONG_SIDE_MAX / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def preview_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, PREVIEW_LONG_SIDE / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def make_thumbnails(work) -> None:
    image = work.image  # 8-bit RGB, upright (worker/pictures.py)
    icc_profile = image.info.get("icc_profile")
    # Bicubic: on this class of CPU it is a third faster than Lanczos, and at these reductions
    # (the decoder has already scaled by 1/2 to 1/8) the difference does not show.
    preview = image.resize(preview_size(*image.size), Image.Resampling.BICUBIC, reducing_gap=2.0)
    grid = preview.resize(grid_size(*image.size), Image.Resampling.BICUBIC, reducing_gap=2.0)
    for variant, picture in (("preview", preview), ("thumb", grid)):
        work.store_blob(
            variant,
            _encode(picture, icc_profile),
            media_type="image/jpeg",
            width=picture.width,
            height=picture.height,
        )
