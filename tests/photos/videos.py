"""Video files for tests, encoded here with PyAV (FFmpeg): a few seconds of real pictures."""

from __future__ import annotations

import io
import tempfile
from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageDraw

from tests.photos import support


def frames_of(picture: Image.Image, count: int) -> list[Image.Image]:
    """`count` frames of `picture` with a moving bar (so that frames differ and seek works)."""
    frames = []
    for i in range(count):
        frame = picture.copy()
        draw = ImageDraw.Draw(frame)
        x = (i * 7) % max(1, frame.width - 10)
        draw.rectangle((x, frame.height - 12, x + 10, frame.height - 2), fill=(255, 0, 0))
        frames.append(frame)
    return frames


def clip(
    *,
    seconds: float = 2.0,
    size: tuple[int, int] = (320, 240),
    rate: int = 15,
    codec: str = "libx264",
    container: str = "mp4",
    picture: Image.Image | None = None,
    opening: Image.Image | None = None,
    rotation: int | None = None,
    metadata: dict[str, str] | None = None,
    faststart: bool = False,
) -> bytes:
    """An encoded video as bytes. `rotation` sets the display matrix (degrees counter-clockwise,
    as a phone held upright writes -90); `metadata` goes into the container (creation_time,
    location...); without `faststart` the moov box is at the end, as cameras write it."""
    if picture is None:
        picture = Image.open(io.BytesIO(support.real_photo("astronaut.png"))).convert("RGB")
    picture = picture.resize(size)
    if opening is not None:  # the first half shows this instead
        picture = (opening.resize(size), picture)
    with tempfile.TemporaryDirectory() as scratch:  # faststart rewrites the file: needs a path
        path = Path(scratch) / f"clip.{container}"
        _encode(
            path,
            container,
            faststart,
            metadata,
            codec,
            rate,
            size,
            rotation,
            picture,
            seconds,
        )
        return path.read_bytes()


def _encode(path, container, faststart, metadata, codec, rate, size, rotation, picture, seconds):
    options = {"movflags": "+faststart"} if faststart and container == "mp4" else {}
    with av.open(str(path), mode="w", format=container, options=options) as box:
        if metadata:
            box.metadata.update(metadata)
        stream = box.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        count = int(seconds * rate)
        if isinstance(picture, tuple):
            images = frames_of(picture[0], count // 2) + frames_of(picture[1], count - count // 2)
        else:
            images = frames_of(picture, count)
        for i, image in enumerate(images):
            frame = av.VideoFrame.from_image(image)
            frame.pts = i
            frame.time_base = Fraction(1, rate)
            box.mux(stream.encode(frame))
        box.mux(stream.encode())


def claim_duration(data: bytes, seconds: int) -> bytes:
    """`data` (an MP4/MOV with 32-bit boxes) rewritten to claim `seconds`: the mvhd, tkhd, mdhd
    and edit-list durations, and the sample-table deltas (stts), which FFmpeg also reads (it
    takes the smaller of mdhd's and the samples' total), spread evenly over the same frames.
    The pictures are unchanged: the clip plays its few frames hours apart."""
    import struct

    out = bytearray(data)
    scales: list[int] = []

    def boxes(start: int, end: int):
        pos = start
        while pos + 8 <= end:
            size, kind = struct.unpack_from(">I4s", out, pos)
            if size < 8 or pos + size > end:
                return
            yield kind, pos, size
            pos += size

    def patch(start: int, end: int) -> None:
        for kind, pos, size in boxes(start, end):
            if kind in (b"moov", b"trak", b"mdia", b"edts", b"minf", b"stbl"):
                patch(pos + 8, pos + size)
            elif kind in (b"mvhd", b"mdhd"):
                assert out[pos + 8] == 0, "version 1 (64-bit) headers are not handled"
                (scale,) = struct.unpack_from(">I", out, pos + 20)
                scales.append(scale)
                struct.pack_into(">I", out, pos + 24, seconds * scale)
            elif kind == b"tkhd":
                struct.pack_into(">I", out, pos + 28, seconds * scales[0])
            elif kind == b"elst":
                struct.pack_into(">I", out, pos + 16, seconds * scales[0])
            elif kind == b"stts":
                (entries,) = struct.unpack_from(">I", out, pos + 12)
                at = pos + 16  # (sample count, sample delta) pairs
                total = sum(struct.unpack_from(">I", out, at + 8 * i)[0] for i in range(entries))
                for i in range(entries):
                    struct.pack_into(">I", out, pos + 20 + 8 * i, seconds * scales[-1] // total)

    patch(0, len(out))
    return bytes(out)
