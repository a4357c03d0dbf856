"""A new household user's first batch (issue 21 review): a video, a Live Photo pair, a lone
MOV and a video whose pictures are damaged, in one upload. Every message the upload page and
the photo pages show is a sentence for a person: no "None", no exception names."""

from __future__ import annotations

import re
import uuid

import pytest
from django.urls import reverse

from tests.photos import videos
from tests.photos.conftest import run_jobs
from tests.photos.test_live_photos import _send
from vault.photos.models import Photo
from vaultdev.samples.live_photos import live_mov, live_still

pytestmark = pytest.mark.django_db

_RAW = re.compile(r"\bNone\b|\w*(Error|Exception)\b|Traceback")


def _text(html: str) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_first_batch_of_videos_and_a_live_photo_reads_clearly(owner_client, worker_key):
    cid = str(uuid.uuid4()).upper()
    damaged = bytearray(videos.clip(seconds=1.0, faststart=True))
    mdat = damaged.find(b"mdat") + 4
    damaged[mdat:] = bytes(len(damaged) - mdat)  # structure intact, pictures wiped
    outcomes = _send(
        owner_client,
        ("walk.mp4", videos.clip(seconds=1.0)),
        ("IMG_0900.HEIC", live_still(cid, heic=True)),
        ("IMG_0900.MOV", live_mov(cid)),
        ("IMG_0901.MOV", live_mov(None, seconds=1.0)),
        ("broken.mp4", bytes(damaged)),
        batch=uuid.uuid4().hex,
    )
    messages = {o["name"]: o["message"] for o in outcomes}
    assert messages["IMG_0900.HEIC"] == "Stored, encrypted: a Live Photo, with its video."
    assert messages["IMG_0900.MOV"].startswith("Stored, encrypted: the video of a Live Photo")
    assert messages["IMG_0901.MOV"] == messages["walk.mp4"] == "Stored, encrypted."
    assert sorted(run_jobs()) == ["failed", "ready", "ready", "ready"]

    ids = [o["photo"] for o in outcomes]
    status = owner_client.get(reverse("photos:status"), {"id": ids}).json()["photos"]
    broken = Photo.objects.get(state="failed")
    reason = status[str(broken.id)]["reason"]
    assert reason == "This video is damaged or truncated: its picture data cannot be decoded."
    for photo in Photo.objects.all():
        page = _text(owner_client.get(reverse("photos:detail", args=[photo.id])).content.decode())
        assert not _RAW.search(page), (photo.kind, _RAW.search(page).group(), page[:400])
    gallery = _text(owner_client.get(reverse("photos:gallery")).content.decode())
    assert reason in gallery and not _RAW.search(gallery)
