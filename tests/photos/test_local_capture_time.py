"""Capture times are shown, grouped by month and filtered by the time the camera's clock showed
(its offset from EXIF/XMP/IPTC), while the gallery keeps sorting by the instant."""

import datetime as dt
import importlib
import re

import pytest
from django.db import connection
from django.urls import reverse

from tests.photos import support
from tests.photos.conftest import run_jobs
from tests.photos.uploads import upload
from vault.photos.models import Photo
from vaultdev.samples import camera_files

pytestmark = pytest.mark.django_db


def processed(client, name: str, data: bytes) -> Photo:
    [outcome] = upload(client, (name, data))
    assert outcome["status"] == "stored", outcome
    assert run_jobs() == ["ready"]
    return Photo.objects.get(pk=outcome["photo"])


def taken_text(client, photo: Photo) -> str:
    html = client.get(reverse("photos:detail", args=[photo.id])).content.decode()
    found = re.search(r"<dt>Taken</dt><dd>(.*?)</dd>", html, re.S)
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def gallery_ids(client, **query) -> list[str]:
    html = client.get(reverse("photos:gallery"), query).content.decode()
    return re.findall(r"/photos/([0-9a-f-]{36})/thumb", html)


def test_an_xmp_create_date_with_an_offset_is_shown_at_the_cameras_time(owner_client, worker_key):
    xmp = camera_files.xmp_packet(attributes={"xmp:CreateDate": "2013-09-23T10:09:46+02:00"})
    photo = processed(owner_client, "a.jpg", camera_files.jpeg(xmp=xmp))
    assert photo.taken_at == dt.datetime(2013, 9, 23, 8, 9, 46, tzinfo=dt.UTC)  # the instant
    assert taken_text(owner_client, photo) == "23 September 2013, 10:09 UTC+02:00"


def test_an_exif_offset_across_midnight_gives_the_local_day_and_month(owner_client, worker_key):
    # New Year's Eve party at +02:00: 00:30 local on 1 January is 22:30 UTC on 31 December.
    party = processed(
        owner_client,
        "party.jpg",
        support.jpeg(taken="2022:01:01 00:30:00", offset="+02:00"),
    )
    # Taken later as an instant (23:00 UTC) but earlier on its own clock (no offset: UTC here).
    later = processed(
        owner_client,
        "later.jpg",
        support.jpeg(support.picture(seed=2), taken="2021:12:31 23:00:00"),
    )
    assert party.taken_at < later.taken_at
    assert taken_text(owner_client, party) == "1 January 2022, 00:30 UTC+02:00"
    assert taken_text(owner_client, later) == "31 December 2021, 23:00"  # no offset, none shown

    html = owner_client.get(reverse("photos:gallery")).content.decode()
    assert html.index("December 2021") < html.index("January 2022")  # sorted by the instant
    assert gallery_ids(owner_client) == [str(later.id), str(party.id)]
    assert gallery_ids(owner_client, date_from="2022-01-01") == [str(party.id)]
    assert gallery_ids(owner_client, date_to="2021-12-31") == [str(later.id)]


def test_a_photo_without_an_offset_keeps_its_wall_clock_time(owner_client, worker_key, settings):
    settings.TIME_ZONE = "America/New_York"
    photo = processed(owner_client, "a.jpg", support.jpeg(taken="2021:03:04 05:06:07"))
    assert photo.taken_offset is None
    assert taken_text(owner_client, photo) == "4 March 2021, 05:06"
    assert gallery_ids(owner_client, date_from="2021-03-04", date_to="2021-03-04") == [
        str(photo.id)
    ]


def test_a_gps_only_time_is_an_instant_shown_in_the_servers_time_zone(owner_client, worker_key):
    exif = camera_files.exif(gps={29: "2020:06:01", 7: (9.0, 15.0, 0.0)})
    photo = processed(owner_client, "a.jpg", camera_files.jpeg(exif_data=exif))
    assert photo.taken_at == dt.datetime(2020, 6, 1, 9, 15, tzinfo=dt.UTC)
    assert photo.taken_offset is None  # GPS says when, not which clock the owner lived by


def test_the_migration_gives_existing_photos_the_time_they_were_shown_at(owner, settings):
    settings.TIME_ZONE = "Europe/Berlin"
    photo = Photo.objects.create(
        owner=owner,
        media_type="image/jpeg",
        size=1,
        content_mac=b"x" * 32,
        name_sealed=b"",
        shown_at=dt.datetime(2024, 7, 1, 22, 30, tzinfo=dt.UTC),
        shown_local=dt.datetime(2000, 1, 1),
    )
    migration = importlib.import_module("vault.photos.migrations.0007_photo_local_capture_time")
    with connection.schema_editor() as editor:
        migration.backfill_wall_clock(None, editor)
    photo.refresh_from_db()
    assert photo.shown_local == dt.datetime(2024, 7, 2, 0, 30)  # Berlin's summer clock
    assert photo.taken_offset is None
