"""Benchmark of the decode step (worker/pictures.py) against the decode it replaced, measured
in the same run: what faithful pictures (bit depth, transparency, profiles, animation) cost.

Run: .venv/bin/python bench/decode.py   (about a minute; `--quick` fewer runs)

Rows, each the median of several runs, in ms of CPU time per photo (one thread), the two
decodes taking turns:
- 12-megapixel 8-bit JPEGs as cameras write them: plain, turned (EXIF orientation 6), and with
  a Display P3 profile (which is now read by LittleCMS to check that it is RGB);
- what ordinary cameras never write, for scale: a 12-megapixel 16-bit grey PNG, a CMYK JPEG
  with its profile, and an animated WebP whose first frame is black.
"baseline" is the previous decode (Pillow open, JPEG draft, load, EXIF turn, convert("RGB"),
composite RGBA/LA/P-with-transparency on white), which gave wrong pictures for the last three
rows; "ratio" is new / baseline. Not a test: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pillow_heif  # noqa: E402
from PIL import ExifTags, Image, ImageOps  # noqa: E402

from vaultdev.report import print_table  # noqa: E402
from vaultdev.samples import icc  # noqa: E402
from worker import pictures, thumbnails  # noqa: E402

MAX_PIXELS = 100_000_000
FORMAT_OF = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


def previous_decode(data: bytes, media_type: str) -> Image.Image:
    """worker/pipeline.py decode() and _to_rgb() as they were before issue 13."""
    image = Image.open(io.BytesIO(data), formats=[FORMAT_OF[media_type]])
    image.draft("RGB", thumbnails.preview_size(*image.size))
    image.load()
    exif = image.getexif()
    if exif.get(ExifTags.Base.Orientation, 1) != 1:
        ImageOps.exif_transpose(image, in_place=True)
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB") if image.mode != "RGB" else image


def photo(width: int = 4000, height: int = 3000) -> Image.Image:
    rng = random.Random(7)
    texture = Image.frombytes("RGB", (500, 375), rng.randbytes(500 * 375 * 3))
    return texture.resize((width, height), Image.Resampling.BICUBIC)


def saved(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def inputs() -> list[tuple[str, str, bytes]]:
    camera = photo()
    turned = Image.Exif()
    turned[ExifTags.Base.Orientation] = 6
    ramp = np.tile(np.linspace(0, 65535, 4000).astype(np.uint16), (3000, 1))
    black = Image.new("RGB", (1000, 750))
    small = camera.resize((1000, 750))
    return [
        ("JPEG 12 MP", "image/jpeg", saved(camera, "JPEG", quality=90)),
        ("JPEG 12 MP, orientation 6", "image/jpeg", saved(camera, "JPEG", quality=90, exif=turned)),
        (
            "JPEG 12 MP, Display P3 profile",
            "image/jpeg",
            saved(camera, "JPEG", quality=90, icc_profile=icc.display_p3()),
        ),
        ("PNG 12 MP, 16-bit grey", "image/png", saved(Image.fromarray(ramp), "PNG")),
        (
            "JPEG 12 MP, CMYK with profile",
            "image/jpeg",
            saved(camera.convert("CMYK"), "JPEG", quality=90, icc_profile=icc.swapped_cmyk()),
        ),
        (
            "WebP 0.75 MP, 3 frames, first black",
            "image/webp",
            saved(black, "WEBP", save_all=True, append_images=[small, black], quality=80),
        ),
    ]


def medians_ms(functions, runs: int) -> list[float]:
    """Median CPU time of each function, in ms. The functions take turns, run after run, and
    CPU time (not wall time) is measured, so that a machine busy with other work slows neither
    side more than the other."""
    for function in functions:
        function()  # warm caches
    times = [[] for _ in functions]
    for _ in range(runs):
        for function, spent in zip(functions, times, strict=True):
            start = time.process_time()
            function()
            spent.append(time.process_time() - start)
    return [1000 * statistics.median(spent) for spent in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs per row")
    runs = 5 if parser.parse_args().quick else 15
    pillow_heif.register_heif_opener()
    rows = []
    for name, media_type, data in inputs():
        before, after = medians_ms(
            [
                lambda d=data, m=media_type: previous_decode(d, m),
                lambda d=data, m=media_type: pictures.picture_decode(d, m, max_pixels=MAX_PIXELS),
            ],
            runs,
        )
        rows.append((name, f"{before:.1f}", f"{after:.1f}", f"{after / before:.2f}"))
    print(f"decode, ms of CPU per photo (median of {runs}, taking turns)")
    print_table(("input", "baseline", "now", "ratio"), rows)


if __name__ == "__main__":
    main()
