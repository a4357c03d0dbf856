"""Benchmark of video ingest and playback (issue 21) on two clips this script generates (PyAV:
a real photo with a moving bar, padded to a phone's bitrate): 60 s of 1080p H.264 at 16 Mbit/s
and 60 s of 4K HEVC at 45 Mbit/s.

Run: .venv/bin/python bench/video.py --clips /tmp/spv-bench-clips   (about 10 minutes; the
     clips are made once into that directory and reused: the 4K one takes ~5 minutes)
     .venv/bin/python bench/video.py --quick                       (10 s clips, one run)

It starts a throwaway PostgreSQL and Valkey, a gunicorn serving the vault (2 processes × 8
threads, bench/ingest_settings.py, which adds the plain baseline views), and measures, each
figure the median of --runs runs:
- upload, one request: the clip POSTed to the upload page against the same multipart body
  POSTed to a view that streams it to a plain file and fsyncs it (same HTTP stack);
- upload, resumable (tus, what the browser uses from 8 MiB): creation + PATCHes of
  VAULT_RESUMABLE_PIECE_BYTES + assembly, against the same pieces PATCHed to a view that
  appends each to a plain file and fsyncs it. Target: >= 0.8x the plain write;
- worker steps in this process, on the encrypted original read chunk by chunk: poster + 3
  keyframes, tags and faces with the real models (target <= 10 s per clip) and the rendition
  (H.264 <= 1080p; target <= 1x real time for 1080p on 2 cores; it is made only for originals
  a browser cannot play, so for the 4K HEVC clip), with the peak RSS of each step (VmHWM, reset
  before each: tracemalloc does not see FFmpeg's memory), models included (target <= 1.5 GB);
- a real `rqworker` processing the uploaded clips: time to ready and its peak RSS (work
  horses included, sampled every 50 ms); the largest gunicorn process's peak RSS over the
  uploads and the playback;
- Chromium (Playwright, /usr/bin/chromium) on the photo page: from the start of the
  navigation to the first 'playing' event (play() called as soon as the page is parsed), and
  from setting currentTime to the middle to 'seeked', a fresh browser context per run
  (targets <= 1 s each). The 4K HEVC clip plays through its rendition.
Not a test: the numbers depend on the machine and on what else runs.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import skimage  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from bench.ingest import Browser as Connection  # noqa: E402
from bench.ingest import (  # noqa: E402
    PeakRss,
    bench_environment,
    csrf_browser,
    free_port,
    gunicorn_start,
    owner_signed_in,
    process_tree,
    rss_mib,
    stop,
    wait_all_ready,
)
from vaultdev.report import memory_mib, print_table  # noqa: E402

MIB = 1 << 20
CLIPS = (
    ("1080p H.264", (1920, 1080), "libx264"),
    ("4K HEVC", (3840, 2160), "libx265"),
)


# Phone-like bitrates (Mbit/s): an iPhone records 1080p30 H.264 at about 16 and 4K30 HEVC at
# about 45. The picture is simple (cheap to encode on 2 cores), so the bitrate is reached with
# filler NAL units, which decoders skip: the upload moves as many bytes as a real clip's.
BITRATE = {"libx264": 16e6, "libx265": 45e6}


def _filler_nal(codec: str, size: int) -> bytes:
    """One length-prefixed filler-data NAL unit of `size` bytes (H.264 type 12, HEVC type 38)."""
    header = b"\x0c" if codec == "libx264" else b"\x4c\x01"
    body = header + b"\xff" * (size - 4 - len(header) - 1) + b"\x80"
    return len(body).to_bytes(4, "big") + body


def make_clip(path: Path, *, seconds: int, size: tuple[int, int], codec: str) -> None:
    picture = Image.open(Path(skimage.__file__).parent / "data" / "astronaut.png").convert("RGB")
    picture = picture.resize(size)
    rate = 30
    per_frame = int(BITRATE[codec] / 8 / rate)
    with av.open(str(path), mode="w", format="mp4") as box:
        stream = box.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast"}
        if codec == "libx265":
            stream.options["x265-params"] = "log-level=error"

        def mux(packets) -> None:
            for packet in packets:
                if packet.size and packet.size < per_frame - 16:
                    padded = av.Packet(bytes(packet) + _filler_nal(codec, per_frame - packet.size))
                    padded.pts, padded.dts = packet.pts, packet.dts
                    padded.time_base, padded.stream = packet.time_base, packet.stream
                    padded.is_keyframe = packet.is_keyframe
                    packet = padded
                box.mux(packet)

        base = av.VideoFrame.from_image(picture)
        for i in range(seconds * rate):
            if i % 5 == 0:  # a moving bar every few frames: real motion, cheap to make
                frame_image = picture.copy()
                x = (i * 13) % (size[0] - 80)
                ImageDraw.Draw(frame_image).rectangle((x, 40, x + 80, 120), fill=(255, 0, 0))
                base = av.VideoFrame.from_image(frame_image)
            base.pts = i
            base.time_base = Fraction(1, rate)
            mux(stream.encode(base))
        mux(stream.encode())


def clip_path(directory: Path, codec: str, seconds: int) -> Path:
    """The clip, made once (in a child process: the encoder's memory is not ours)."""
    path = directory / f"{codec}-{seconds}s.mp4"
    if not path.exists():
        size = dict((c, s) for _, s, c in CLIPS)[codec]
        started = time.perf_counter()
        child = multiprocessing.get_context("spawn").Process(
            target=_make_into, args=(path, seconds, size, codec)
        )
        child.start()
        child.join()
        if child.exitcode != 0:
            raise RuntimeError(f"making the {codec} clip failed")
        print(f"made {path.name} in {time.perf_counter() - started:.0f} s", flush=True)
    return path


def _make_into(path: Path, seconds: int, size: tuple[int, int], codec: str) -> None:
    av.logging.set_level(av.logging.ERROR)
    partial = path.with_suffix(".partial")
    make_clip(partial, seconds=seconds, size=size, codec=codec)
    partial.rename(path)


# --- worker steps, in this process ----------------------------------------------------------


def reset_peak() -> None:
    """Start VmHWM afresh from the current RSS (Linux: clear_refs 5)."""
    Path("/proc/self/clear_refs").write_text("5")


def median_time(run, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def worker_rows(name: str, path: Path, runs: int, scratch: Path, rows: list) -> None:
    from vault.crypto import container, keys
    from vault.crypto.context import BlobContext
    from worker import video
    from worker.faces import face_models_or_reason
    from worker.tags import tagger_or_reason

    tagger, _ = tagger_or_reason()
    models, _ = face_models_or_reason()
    private_key, public_key = keys.new_keypair()
    blob = scratch / "original.spv"
    context = BlobContext(user_id="1", photo_id="bench", variant="original", index=0)
    with open(path, "rb") as source:
        container.encrypt_file(
            source,
            blob,
            owner_public_key=public_key,
            context=context,
            data_key=container.new_data_key(),
        )
    rss_before = memory_mib()["VmRSS"]
    reset_peak()

    def decode():
        with container.BlobReader(blob, context=context, private_key=private_key) as reader:
            return video.video_decode(video.BlobFile(reader), deadline=time.monotonic() + 600)

    decode_time = median_time(decode, runs)
    facts, frames = decode()
    decode_peak = memory_mib()["VmHWM"]
    tag_time = median_time(lambda: tagger.tag_batch(frames), runs) if tagger else float("nan")
    face_time = (
        median_time(lambda: [models.detector.detect(f) for f in frames], runs)
        if models
        else float("nan")
    )
    ml_peak = memory_mib()["VmHWM"]
    total = decode_time + tag_time + face_time
    rows.append(
        (
            f"{name}: poster+{len(frames) - 1} keyframes, tags, faces",
            f"{total:.1f} s",
            f"decode {decode_time:.1f} s, tags {tag_time:.1f} s, faces {face_time:.1f} s",
            f"{total / 10:.2f}x of 10 s",
        )
    )
    reset_peak()

    def rendition():
        with container.BlobReader(blob, context=context, private_key=private_key) as reader:
            writer = container.BlobWriter(
                scratch / "rendition.spv",
                owner_public_key=public_key,
                context=BlobContext(user_id="1", photo_id="bench", variant="rendition", index=0),
                data_key=container.new_data_key(),
            )
            with writer:
                video.transcode(
                    video.BlobFile(reader), video._WriterFile(writer), time.monotonic() + 3600
                )

    render = median_time(rendition, 1)
    render_peak = memory_mib()["VmHWM"]
    made = "made for this clip" if not facts.playable else "not made for this clip: it plays"
    rows.append(
        (
            f"{name}: rendition ({facts.codec} → h264 ≤1080p)",
            f"{render:.1f} s",
            f"clip {facts.duration:.0f} s, {made}",
            f"{render / facts.duration:.2f}x real time",
        )
    )
    peak = max(decode_peak, ml_peak, render_peak)
    rows.append(
        (
            f"{name}: worker steps' peak RSS",
            f"{peak:.0f} MiB",
            f"models loaded {rss_before:.0f}; decode {decode_peak:.0f}, tags+faces "
            f"{ml_peak:.0f}, rendition {render_peak:.0f}",
            f"{peak * MIB / 1.5e9:.2f}x of 1.5 GB",
        )
    )


# --- the server -----------------------------------------------------------------------------


def multipart(name: str, data: bytes) -> tuple[bytes, str]:
    boundary = secrets.token_hex(16)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="photos"; '
        f'filename="{name}"\r\nContent-Type: video/mp4\r\n\r\n'
    ).encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), boundary


def upload_one_request(conn: Connection, path: str, data: bytes) -> dict:
    body, boundary = multipart("clip.mp4", data)
    status, reply, _, _ = conn.request(
        "POST",
        path,
        body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}", "Accept": "application/json"},
    )
    assert status == 200 and b'"stored"' in reply, reply[:300]
    return json.loads(reply)["files"][0]


def upload_resumable(conn: Connection, data: bytes, piece: int) -> dict:
    """The browser client's protocol (upload.js): tus creation, PATCHes, the outcome."""
    name = base64.b64encode(b"clip.mp4").decode()
    status, reply, _, response = conn.request(
        "POST",
        "/photos/uploads/",
        b"",
        {
            "Tus-Resumable": "1.0.0",
            "Upload-Length": str(len(data)),
            "Upload-Metadata": f"filename {name}",
        },
    )
    assert status == 201, reply[:300]
    location = "/" + response.getheader("Location").split("/", 3)[3]
    for offset in range(0, len(data), piece):
        status, reply, elapsed, _ = conn.request(
            "PATCH",
            location,
            data[offset : offset + piece],
            {
                "Tus-Resumable": "1.0.0",
                "Upload-Offset": str(offset),
                "Content-Type": "application/offset+octet-stream",
            },
        )
        assert status == 204, reply[:300]
    status, reply, _, _ = conn.request("GET", location, None, {"Accept": "application/json"})
    outcome = json.loads(reply)["outcome"]
    assert outcome and outcome["status"] == "stored", outcome
    outcome["last_patch"] = elapsed  # the last piece's request assembles the upload
    return outcome


def plain_pieces(conn: Connection, data: bytes, piece: int) -> None:
    name = secrets.token_hex(8)
    for offset in range(0, len(data), piece):
        status, reply, _, _ = conn.request(
            "PATCH", f"/bench/plain-piece/{name}", data[offset : offset + piece]
        )
        assert status == 204, reply[:300]


def timed(run) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def upload_times(conn, data: bytes, runs: int, piece: int, name: str, kept: dict) -> dict:
    """Seconds per upload of `data` by each way, `runs` times, the order rotated. The last
    stored copy is kept in `kept[name]` for the worker and the browser; the earlier ones' rows
    go (the same bytes again would be a duplicate)."""
    from django.conf import settings

    from vault.photos.models import Photo

    last_patches: list[float] = []

    def vault(kind: str) -> None:
        if kind == "vault":
            outcome = upload_one_request(conn, "/photos/upload", data)
        else:
            outcome = upload_resumable(conn, data, piece)
            last_patches.append(outcome["last_patch"])
        kept[name] = outcome["photo"]

    def timed_vault(kind: str) -> float:
        if name in kept:
            Photo.objects.filter(pk=kept.pop(name)).delete()
        return timed(lambda: vault(kind))

    ways = {
        "bare": lambda: upload_one_request(conn, "/bench/plain-upload", data),
        "vault": None,
        "pieces": lambda: plain_pieces(conn, data, piece),
        "tus": None,
    }
    times = {kind: [] for kind in ways}
    for number in range(runs):
        order = list(ways)
        for kind in order[number % 4 :] + order[: number % 4]:
            times[kind].append(timed(ways[kind]) if ways[kind] else timed_vault(kind))
        shutil.rmtree(Path(settings.VAULT_DATA_DIR) / "plain", ignore_errors=True)
    times["last patch"] = last_patches
    return times


def chromium_rows(port: int, cookies: dict, videos: dict[str, str], runs: int, rows: list) -> None:
    from playwright.sync_api import sync_playwright

    first_frame = {name: [] for name in videos}
    seek = {name: [] for name in videos}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            for _ in range(runs):
                for name, photo_id in videos.items():
                    context = browser.new_context()  # cold: no media cache from the last run
                    context.add_cookies(
                        [
                            {"name": key, "value": value, "url": f"http://127.0.0.1:{port}"}
                            for key, value in cookies.items()
                        ]
                    )
                    page = context.new_page()
                    # As soon as the page is parsed, play (muted, so autoplay is allowed) and
                    # note when the first frame plays: ms since the navigation started.
                    page.add_init_script(
                        """document.addEventListener('DOMContentLoaded', () => {
                            const v = document.querySelector('video.video-player');
                            v.muted = true;
                            v.addEventListener('playing',
                                () => { window.benchPlaying = performance.now(); },
                                {once: true});
                            v.play();
                        });"""
                    )
                    page.goto(f"http://127.0.0.1:{port}/photos/{photo_id}/")
                    page.wait_for_function("() => window.benchPlaying !== undefined")
                    first_frame[name].append(page.evaluate("() => window.benchPlaying") / 1000)
                    player = page.locator("video.video-player")
                    seek[name].append(
                        player.evaluate(
                            """v => new Promise(done => {
                                const started = performance.now();
                                v.addEventListener('seeked',
                                    () => done((performance.now() - started) / 1000),
                                    {once: true});
                                v.currentTime = v.duration / 2;
                            })"""
                        )
                    )
                    context.close()
        finally:
            browser.close()
    for name in videos:
        first, sought = statistics.median(first_frame[name]), statistics.median(seek[name])
        rows.append(
            (
                f"{name}: Chromium navigation → playing",
                f"{first:.2f} s",
                "target 1 s",
                f"{first:.2f}x",
            )
        )
        rows.append(
            (
                f"{name}: Chromium seek to the middle → seeked",
                f"{sought:.2f} s",
                "target 1 s",
                f"{sought:.2f}x",
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 s clips, one run each")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clips", type=Path, help="directory to keep the generated clips in")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium rows")
    parser.add_argument(
        "--uploads-only", action="store_true", help="only the upload rows (no worker, browser)"
    )
    parser.add_argument(
        "--piece", type=int, help="the tus client's piece in MiB (default: the page's setting)"
    )
    args = parser.parse_args()
    seconds, runs = (10, 1) if args.quick else (60, args.runs)
    av.logging.set_level(av.logging.ERROR)
    root = Path(tempfile.mkdtemp(prefix="spvbv-", dir="/tmp"))
    clips_dir = args.clips or root / "clips"
    clips_dir.mkdir(parents=True, exist_ok=True)
    clips = {name: clip_path(clips_dir, codec, seconds) for name, _, codec in CLIPS}
    rows: list = []
    pg = valkey = server = worker = None
    try:
        from vaultdev.services import start_postgres, start_valkey

        pg = start_postgres(root / "pg", database="vault")
        valkey = start_valkey(root / "valkey", root / "v.sock", persist=False)
        os.environ.update(bench_environment(root, pg, valkey))
        import django

        django.setup()
        from django.conf import settings

        from vault.photos.models import Photo
        from vault.processing.queue import QUEUE
        from vault.processing.worker_keys import live_worker_keys

        # 1. The worker's steps in this process (nothing else runs: the servers are idle).
        for name, path in clips.items():
            if not args.uploads_only:
                print(f"worker steps: {name}…", flush=True)
                worker_rows(f"{name} {seconds} s", path, runs, root, rows)

        # 2. Uploads through gunicorn.
        _, cookies = owner_signed_in()
        port = free_port()
        server = gunicorn_start(port, cookies, timeout_s=600)
        conn = csrf_browser(port, cookies)
        web_idle = max(rss_mib(pid) for pid in process_tree(server.pid))
        web_peak = PeakRss([server.pid])  # the largest gunicorn process, uploads and playback
        web_peak.start()
        piece = args.piece * MIB if args.piece else settings.VAULT_RESUMABLE_PIECE_BYTES
        kept: dict[str, str] = {}
        for name, path in clips.items():
            print(f"uploads: {name}…", flush=True)
            data = path.read_bytes()
            times = upload_times(conn, data, runs, piece, name, kept)
            mib = len(data) / MIB
            med = {kind: statistics.median(values) for kind, values in times.items()}
            rows.append(
                (
                    f"{name} {seconds} s ({mib:.0f} MiB): upload, one request",
                    f"{mib / med['vault']:.0f} MiB/s",
                    f"plain multipart write {mib / med['bare']:.0f} MiB/s",
                    f"{med['bare'] / med['vault']:.2f}x",
                )
            )
            rows.append(
                (
                    f"{name} {seconds} s ({mib:.0f} MiB): upload, resumable "
                    f"({piece // MIB} MiB pieces)",
                    f"{mib / med['tus']:.0f} MiB/s",
                    f"plain PATCH writes {mib / med['pieces']:.0f} MiB/s; vault's last PATCH "
                    f"(assembly) {med['last patch']:.1f} of {med['tus']:.1f} s",
                    f"{med['pieces'] / med['tus']:.2f}x",
                )
            )

        if args.uploads_only:
            web_peak.running = False
            print_table(("row", "measured", "baseline / parts", "ratio"), rows)
            return
        # 3. A real worker processes the kept uploads (one of each clip).
        print("processing…", flush=True)
        worker = subprocess.Popen(
            [sys.executable, "manage.py", "rqworker", QUEUE,
             "--worker-class", "worker.vault_worker.VaultWorker", "--worker-ttl", "20"],
            cwd=ROOT, env=dict(os.environ), start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while not live_worker_keys() and time.monotonic() < deadline:
            time.sleep(0.1)
        idle = rss_mib(worker.pid)
        sampler = PeakRss([worker.pid])
        sampler.start()
        for name, photo_id in kept.items():
            started = time.perf_counter()
            conn.request("GET", f"/photos/status?id={photo_id}")  # the owner's poll grants it
            wait_all_ready([photo_id], timeout=900)
            photo = Photo.objects.get(pk=photo_id)
            rendition = photo.blobs.filter(variant="rendition").exists()
            rows.append(
                (
                    f"{name} {seconds} s: rqworker, upload → ready",
                    f"{time.perf_counter() - started:.1f} s",
                    "with a rendition" if rendition else "no rendition needed",
                    "",
                )
            )
        sampler.running = False
        rows.append(
            (
                "rqworker peak RSS (work horses included)",
                f"{sampler.peak:.0f} MiB",
                f"idle {idle:.0f} MiB",
                f"{sampler.peak * MIB / 1.5e9:.2f}x of 1.5 GB",
            )
        )
        stop(worker)
        worker = None

        # 4. Chromium plays and seeks.
        if not args.no_browser:
            print("Chromium…", flush=True)
            chromium_rows(
                port, cookies, {f"{n} {seconds} s": i for n, i in kept.items()}, runs, rows
            )
        web_peak.running = False
        rows.append(
            (
                "gunicorn peak RSS (largest process)",
                f"{web_peak.peak:.0f} MiB",
                f"idle {web_idle:.0f} MiB",
                "",
            )
        )
    finally:
        for process in (worker, server):
            if process is not None:
                stop(process)
        if valkey is not None:
            valkey.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    print_table(("row", "measured", "baseline / parts", "ratio"), rows)


if __name__ == "__main__":
    main()
