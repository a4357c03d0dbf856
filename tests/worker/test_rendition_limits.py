"""A rendition's wall time is bounded by what it decodes, not by the duration a container
claims (worker/video.py transcode): a clip claiming hours buys no time of its own, and a motion
clip that goes on past its cap stops."""

from __future__ import annotations

import io
import time

import pytest

from tests.photos.videos import claim_duration, clip
from worker import video


def test_a_short_clip_claiming_hours_renders_as_it_always_did():
    claimed = claim_duration(clip(seconds=1.0), 10 * 3600)
    out = io.BytesIO()
    assert video.transcode(io.BytesIO(claimed), out, time.monotonic() + 600) == (320, 240)
    assert out.getvalue()[4:8] == b"ftyp"


def test_a_claimed_duration_alone_buys_no_wall_time(settings):
    """With no time of its own (VAULT_VIDEO_DECODE_SECONDS = 0), a rendition may spend only
    what the video it has decoded earns: the 20 hours the old deadline granted a clip claiming
    10 hours (twice its claim) no longer keep it going."""
    settings.VAULT_VIDEO_DECODE_SECONDS = 0
    claimed = claim_duration(clip(seconds=1.0), 10 * 3600)
    with pytest.raises(video.VideoUnreadable, match="took too long"):
        video.transcode(io.BytesIO(claimed), io.BytesIO(), time.monotonic() + 2 * 10 * 3600)


def test_a_motion_clip_longer_than_its_cap_stops():
    with pytest.raises(video.VideoUnreadable, match="longer than 1 s"):
        video.transcode(
            io.BytesIO(clip(seconds=3.0)), io.BytesIO(), time.monotonic() + 600, max_seconds=1
        )
    assert video.MOTION_MAX_SECONDS <= 60  # a Live Photo is ~3 s
