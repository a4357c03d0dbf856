"""Benchmark of video ingest (issue 21): the upload path's encryption, the worker's steps and
the rendition, on clips this script generates (PyAV: a real photo with a moving bar).

Run: .venv/bin/python bench/video.py            (two 60 s clips: 1080p H.264, 4K HEVC; slow)
     .venv/bin/python bench/video.py --quick    (10 s clips, one run each)

Rows, each the median of --runs runs:
- upload: the bytes streamed through what the upload handler does per chunk (content sniffing,
  HMAC, SPV1 encryption, fsync) against a plain streamed write of the same bytes (fsync): the
  ratio is throughput encrypted / plain (target >= 0.8);
- poster + frames: the worker's decode step (poster and keyframes at 25/50/75 %) reading the
  encrypted original chunk by chunk; tags and faces on those frames with the real models
  (target: poster, tags and faces <= 10 s per clip);
- rendition: H.264 <= 1080p re-encode from the encrypted original into an SPV1 blob, as a
  multiple of the clip's duration (target <= 1x real time for 1080p on 2 cores; it is made only
  for originals a browser cannot play, so the 4K HEVC row is the one that matters);
- peak RSS of this process (the worker's steps run in it) against its RSS before the clip.

Not measured here (say so rather than guess): the web process's RSS under a real gunicorn and
Chromium's time to first frame and to a seek (tests/photos/test_browser_video.py plays and
seeks; a timing row would need the gunicorn harness of bench/ingest.py).
Not a test: the numbers depend on the machine and on what else runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vault.settings")
os.environ.setdefault("VAULT_DEV_DEFAULTS", "true")

import django  # noqa: E402

django.setup()

import av  # noqa: E402
import skimage  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from vault.crypto import container, keys  # noqa: E402
from vault.crypto.context import BlobContext  # noqa: E402
from vault.photos.sniff import ImageSniffer  # noqa: E402
from vaultdev.report import memory_mib, print_table  # noqa: E402
from worker import video  # noqa: E402

PIECE = 256 * 1024  # the upload handler's chunk size


def make_clip(path: Path, *, seconds: int, size: tuple[int, int], codec: str) -> None:
    picture = Image.open(Path(skimage.__file__).parent / "data" / "astronaut.png").convert("RGB")
    picture = picture.resize(size)
    rate = 30
    with av.open(str(path), mode="w", format="mp4") as box:
        stream = box.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        base = av.VideoFrame.from_image(picture)
        for i in range(seconds * rate):
            if i % 5 == 0:  # a moving bar every few frames: real motion, cheap to make
                frame_image = picture.copy()
                x = (i * 13) % (size[0] - 80)
                ImageDraw.Draw(frame_image).rectangle((x, 40, x + 80, 120), fill=(255, 0, 0))
                base = av.VideoFrame.from_image(frame_image)
            base.pts = i
            base.time_base = Fraction(1, rate)
            box.mux(stream.encode(base))
        box.mux(stream.encode())


def upload_encrypted(source: Path, target_dir: Path, public_key: bytes, mac_key: bytes) -> None:
    import hashlib
    import hmac

    sniffer = ImageSniffer(max_pixels=100_000_000)
    mac = hmac.new(mac_key, digestmod=hashlib.sha256)
    context = BlobContext(user_id="1", photo_id="bench", variant="original", index=0)
    with (
        open(source, "rb") as src,
        container.BlobWriter(
            target_dir / "original-0.spv",
            owner_public_key=public_key,
            context=context,
            data_key=container.new_data_key(),
        ) as writer,
    ):
        while piece := src.read(PIECE):
            sniffer.feed(piece)
            mac.update(piece)
            writer.write(piece)
    sniffer.finish()


def upload_plain(source: Path, target_dir: Path) -> None:
    with open(source, "rb") as src, open(target_dir / "plain", "wb") as out:
        while piece := src.read(PIECE):
            out.write(piece)
        out.flush()
        os.fsync(out.fileno())


def median_time(run, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def bench_clip(name: str, path: Path, runs: int, scratch: Path, rows: list) -> None:
    from worker.faces import face_models_or_reason
    from worker.tags import tagger_or_reason

    size = path.stat().st_size
    private_key, public_key = keys.new_keypair()
    mac_key = os.urandom(32)
    rss_before = memory_mib()["VmRSS"]
    plain = median_time(lambda: upload_plain(path, scratch), runs)
    encrypted = median_time(lambda: upload_encrypted(path, scratch, public_key, mac_key), runs)
    mib = size / (1 << 20)
    rows.append(
        (
            f"{name}: upload",
            f"{mib / encrypted:.0f} MiB/s",
            f"plain {mib / plain:.0f} MiB/s",
            f"{plain / encrypted:.2f}x",
        )
    )
    blob = scratch / "original-0.spv"
    context = BlobContext(user_id="1", photo_id="bench", variant="original", index=0)

    def decode():
        with container.BlobReader(blob, context=context, private_key=private_key) as reader:
            return video.video_decode(video.BlobFile(reader), deadline=time.monotonic() + 600)

    decode_time = median_time(decode, runs)
    facts, frames = decode()
    tagger, _ = tagger_or_reason()
    models, _ = face_models_or_reason()
    tag_time = median_time(lambda: tagger.tag_batch(frames), runs) if tagger else float("nan")
    face_time = (
        median_time(lambda: [models.detector.detect(f) for f in frames], runs)
        if models
        else float("nan")
    )
    total = decode_time + tag_time + face_time
    rows.append(
        (
            f"{name}: poster+{len(frames) - 1} frames, tags, faces",
            f"{total:.1f} s",
            f"decode {decode_time:.1f} s, tags {tag_time:.1f} s, faces {face_time:.1f} s",
            f"{total / 10:.2f}x of 10 s",
        )
    )

    def rendition():
        with container.BlobReader(blob, context=context, private_key=private_key) as reader:
            writer = container.BlobWriter(
                scratch / "rendition-0.spv",
                owner_public_key=public_key,
                context=BlobContext(user_id="1", photo_id="bench", variant="rendition", index=0),
                data_key=container.new_data_key(),
            )
            with writer:
                video.transcode(
                    video.BlobFile(reader), video._WriterFile(writer), time.monotonic() + 3600
                )

    render = median_time(rendition, 1)
    rows.append(
        (
            f"{name}: rendition ({facts.codec} → h264 ≤1080p)",
            f"{render:.1f} s",
            f"clip {facts.duration:.0f} s",
            f"{render / facts.duration:.2f}x real time",
        )
    )
    rows.append(
        (
            f"{name}: RSS",
            f"peak {memory_mib()['VmHWM']:.0f} MiB",
            f"before the clip {rss_before:.0f} MiB",
            "",
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s clips, one run each")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    seconds, runs = (10, 1) if args.quick else (60, args.runs)
    av.logging.set_level(av.logging.ERROR)
    rows: list = []
    with tempfile.TemporaryDirectory(prefix="spv-bench-video-") as scratch_name:
        scratch = Path(scratch_name)
        for name, size, codec in (
            ("1080p H.264", (1920, 1080), "libx264"),
            ("4K HEVC", (3840, 2160), "libx265"),
        ):
            clip = scratch / f"{codec}.mp4"
            started = time.perf_counter()
            make_clip(clip, seconds=seconds, size=size, codec=codec)
            print(
                f"made {name} {seconds} s clip in {time.perf_counter() - started:.0f} s", flush=True
            )
            bench_clip(f"{name} {seconds} s", clip, runs, scratch, rows)
            clip.unlink()
    print_table(("row", "measured", "baseline / parts", "ratio"), rows)


if __name__ == "__main__":
    main()
