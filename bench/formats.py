"""Benchmark of the format checks added for camera files (issue 13, items 5 and 7).

Run: .venv/bin/python bench/formats.py   (about half a minute)

1. The upload check (vault/photos/sniff.py) on 12 MB HEICs, fed in the upload handler's
   256 KiB chunks: the meta box first (iPhone) and last, after the image data (Samsung), against
   the HMAC-SHA-256 that the upload handler computes over the same chunks anyway. Peak memory is
   what tracemalloc sees while the check runs (the chunks themselves exist beforehand).
2. The worker's XMP/IPTC read (worker.metadata.packets: the original opened again, header only)
   on a 12-megapixel JPEG, against decoding that JPEG as the pipeline does (draft + load).

Each figure is the median of several runs. Not a test: the numbers depend on the machine and on
what else runs.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault.settings")
os.environ.setdefault("VAULT_DEV_DEFAULTS", "true")

import django

django.setup()

from PIL import Image  # noqa: E402

from vault.photos.sniff import ImageSniffer  # noqa: E402
from vaultdev.samples import camera_files, pictures  # noqa: E402
from worker import metadata  # noqa: E402

CHUNK = 256 * 1024
RUNS = 7
SIZE = 12 * 1024 * 1024


def chunks(data: bytes) -> list[bytes]:
    return [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]


def timed(function, runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sniff(pieces: list[bytes]) -> None:
    sniffer = ImageSniffer(max_pixels=100_000_000)
    for piece in pieces:
        sniffer.feed(piece)
    sniffer.finish()


def mac(pieces: list[bytes]) -> None:
    digest = hmac.new(bytes(32), digestmod=hashlib.sha256)
    for piece in pieces:
        digest.update(piece)
    digest.digest()


def peak(function) -> int:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def upload_check_table() -> None:
    heic = pictures.heic(pictures.picture(640, 480))
    padding = SIZE - len(heic)
    boxes = dict(camera_files.top_boxes(heic))
    mdat = camera_files.box(b"mdat", boxes[b"mdat"][8:] + bytes(padding))
    layouts = {
        "HEIC, meta first (iPhone)": boxes[b"ftyp"] + boxes[b"meta"] + mdat,
        "HEIC, meta last (Samsung)": camera_files.heic_meta_last(heic, padding=padding),
    }
    print(f"Upload check, {SIZE / 2**20:.0f} MiB files in {CHUNK // 1024} KiB chunks")
    print(f"{'file':<28} {'check MB/s':>10} {'HMAC MB/s':>10} {'check/HMAC':>10} {'peak KiB':>9}")
    for name, data in layouts.items():
        pieces = chunks(data)
        check = timed(lambda pieces=pieces: sniff(pieces))
        baseline = timed(lambda pieces=pieces: mac(pieces))
        memory = peak(lambda pieces=pieces: sniff(pieces))
        megabytes = len(data) / 1e6
        print(
            f"{name:<28} {megabytes / check:>10.0f} {megabytes / baseline:>10.0f} "
            f"{check / baseline:>10.2f} {memory / 1024:>9.0f}"
        )


def packets_table() -> None:
    from vaultdev.samples.camera_files import xmp_packet

    xmp = xmp_packet(attributes={"exif:DateTimeOriginal": "2019-08-03T17:45:10+02:00"})
    data = camera_files.jpeg(
        image=pictures.picture(4000, 3000),
        xmp=xmp,
        iptc={(2, 55): b"20190803", (2, 60): b"174510+0200"},
    )

    def decode() -> None:
        with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
            image.draft("RGB", (1600, 1200))
            image.load()

    read = timed(lambda: metadata.packets(data, "image/jpeg"), runs=RUNS * 3)
    baseline = timed(decode)
    print()
    print("Worker: XMP and IPTC read of a 12-megapixel JPEG")
    print(f"{'step':<34} {'ms':>8} {'ratio':>8}")
    print(f"{'decode (draft 1/2 + load), baseline':<34} {baseline * 1e3:>8.1f} {1:>8.2f}")
    print(f"{'packets() (header only)':<34} {read * 1e3:>8.2f} {read / baseline:>8.3f}")


if __name__ == "__main__":
    upload_check_table()
    packets_table()
