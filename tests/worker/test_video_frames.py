"""The frames the worker samples from a video (worker/video.py video_decode): scaled by the
decoder to at most FRAME_LONG_SIDE px while the facts keep the container's size, and taken at
the sampled moments whether the clip has a keyframe every second or one for the whole clip."""

from __future__ import annotations

import io
import time
from fractions import Fraction

import av
import pytest
from PIL import Image

from worker import video

COLOURS = [(220, 30, 30), (30, 200, 30), (30, 30, 220), (240, 240, 240)]  # one per second


def _clip(*, size, keyint: int, rotation: int | None = None) -> bytes:
    """4 s at 15 fps, one colour per second; a keyframe every `keyint` frames."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as box:
        stream = box.add_stream("libx264", rate=15)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "x264-params": f"keyint={keyint}:scenecut=0"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for second, colour in enumerate(COLOURS):
            frame = av.VideoFrame.from_image(Image.new("RGB", size, colour))
            for i in range(15):
                frame.pts, frame.time_base = second * 15 + i, Fraction(1, 15)
                box.mux(stream.encode(frame))
        box.mux(stream.encode())
    return out.getvalue()


def _decode(data: bytes):
    return video.video_decode(io.BytesIO(data), deadline=time.monotonic() + 60)


def _colour_index(image: Image.Image) -> int:
    pixel = image.getpixel((image.width // 2, image.height // 2))
    return min(
        range(4), key=lambda i: sum(abs(a - b) for a, b in zip(pixel, COLOURS[i], strict=True))
    )


@pytest.mark.parametrize("keyint", [15, 250], ids=["keyframe each second", "one keyframe"])
def test_the_frames_are_the_poster_and_a_quarter_half_and_three_quarters_in(keyint):
    facts, frames = _decode(_clip(size=(320, 240), keyint=keyint))
    assert [_colour_index(frame) for frame in frames] == [0, 1, 2, 3]
    assert facts.duration == pytest.approx(4, abs=0.1)


def test_frames_larger_than_1080p_are_scaled_and_the_facts_keep_the_full_size():
    facts, frames = _decode(_clip(size=(2560, 1440), keyint=15, rotation=-90))
    assert (facts.width, facts.height) == (1440, 2560)  # upright, full size
    assert {frame.size for frame in frames} == {(1080, 1920)}  # upright, long side 1920
    assert [_colour_index(frame) for frame in frames] == [0, 1, 2, 3]
