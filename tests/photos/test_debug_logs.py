"""LOG_LEVEL=DEBUG (README) is for finding a fault, not for reading the owners' metadata: the
libraries that parse EXIF must not write tag values (camera, place, time) into the log, which
holds nothing sealed in the database in clear (issue 21 review)."""

from __future__ import annotations

import uuid

import pytest

from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload

pytestmark = pytest.mark.django_db


def test_a_debug_log_holds_no_exif_value_of_a_processed_photo(owner_client, worker_key, caplog):
    marker = f"Cam{uuid.uuid4().hex[:10]}"
    data = support.jpeg(
        support.picture(640, 480),
        taken="2019:08:03 17:45:10",
        gps=(-33.8568, 151.2153),
        camera=("Fujifilm", marker),
    )
    caplog.set_level("DEBUG")  # the photo is made above: Pillow logs the EXIF it writes too
    upload(owner_client, ("IMG_0001.JPG", data))
    assert run_jobs() == ["ready"]
    assert caplog.records  # the log was on
    leaked = [r.getMessage() for r in caplog.records if marker in r.getMessage()]
    assert not leaked, leaked[:2]
    assert "2019:08:03" not in caplog.text
