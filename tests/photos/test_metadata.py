"""What the worker reads from a photo's EXIF, XMP and IPTC: the capture time (sub-seconds,
offsets, fallbacks, impossible values) and the sealed place and camera numbers (no NaN, no
impossible place). Inputs are JPEGs written by Pillow and read back, as the worker reads them."""

import datetime as dt
import io
import json
import math

import pytest
from PIL import Image

from tests.photos import support
from vaultdev.samples import camera_files as cf
from worker import metadata

R = cf.rational
PARIS = "Europe/Paris"


def tz(hours: float) -> dt.timezone:
    return dt.timezone(dt.timedelta(hours=hours))


def read(*, sub=None, gps=None, ifd0=None, xmp=None, iptc=None, image_format="JPEG"):
    """(capture time, private fields) of a photo written with these tags and read back."""
    exif_data = cf.exif(ifd0=ifd0, sub=sub, gps=gps)
    if image_format == "JPEG":
        data = cf.jpeg(exif_data=exif_data, xmp=xmp, iptc=iptc)
        media_type = "image/jpeg"
    else:
        out = io.BytesIO()
        extra = {"xmp": xmp} if xmp else {}
        support.picture(64, 48).save(out, image_format, exif=exif_data, **extra)
        data, media_type = out.getvalue(), f"image/{image_format.lower()}"
    with Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
    found_xmp, found_iptc = metadata.packets(data, media_type)
    return metadata.capture_time(exif, xmp=found_xmp, iptc=found_iptc), metadata.private_fields(
        exif
    )


def taken(**tags) -> dt.datetime | None:
    return read(**tags)[0]


def original(text, *, subsec=None, offset=None) -> dict:
    tags = {cf.DATE_TIME_ORIGINAL: text}
    if subsec is not None:
        tags[cf.SUB_SEC_TIME_ORIGINAL] = subsec
    if offset is not None:
        tags[cf.OFFSET_TIME_ORIGINAL] = offset
    return tags


def gps_stamp(date: str, hours, minutes, seconds) -> dict:
    return {cf.GPS_DATE_STAMP: date, cf.GPS_TIME_STAMP: (hours, minutes, seconds)}


# ---- sub-seconds and offsets ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("subsec", "microseconds"),
    [
        ("123", 123_000),
        ("5", 500_000),  # "5" is half a second...
        ("050", 50_000),  # ...and "050" a twentieth
        ("1234567", 123_456),  # finer than a microsecond: cut
        ("  7", 700_000),  # padded with spaces, as some cameras do
        ("", 0),
        ("ab", 0),
    ],
)
def test_sub_seconds_of_the_original_are_kept(subsec, microseconds):
    found = taken(sub=original("2019:08:03 17:45:10", subsec=subsec, offset="+02:00"))
    assert found == dt.datetime(2019, 8, 3, 17, 45, 10, microseconds, tzinfo=tz(2))


def test_each_time_takes_its_own_sub_seconds_and_offset():
    found = taken(
        sub={
            cf.DATE_TIME_ORIGINAL: "0000:00:00 00:00:00",  # missing: the digitized one counts
            cf.SUB_SEC_TIME_ORIGINAL: "999",
            cf.OFFSET_TIME_ORIGINAL: "+09:00",
            cf.DATE_TIME_DIGITIZED: "2020:02:29 23:59:58",
            cf.SUB_SEC_TIME_DIGITIZED: "25",
            cf.OFFSET_TIME_DIGITIZED: "-05:30",
        }
    )
    assert found == dt.datetime(2020, 2, 29, 23, 59, 58, 250_000, tzinfo=tz(-5.5))
    assert found.astimezone(dt.UTC) == dt.datetime(2020, 3, 1, 5, 29, 58, 250_000, tzinfo=dt.UTC)


def test_sub_sec_time_alone_belongs_to_an_original_of_the_same_second():
    same = taken(
        ifd0={cf.DATE_TIME: "2019:08:03 17:45:10"},
        sub={**original("2019:08:03 17:45:10", offset="+02:00"), cf.SUB_SEC_TIME: "42"},
    )
    assert same == dt.datetime(2019, 8, 3, 17, 45, 10, 420_000, tzinfo=tz(2))
    edited_later = taken(
        ifd0={cf.DATE_TIME: "2020:01:01 10:00:00"},
        sub={**original("2019:08:03 17:45:10", offset="+02:00"), cf.SUB_SEC_TIME: "42"},
    )
    assert edited_later == dt.datetime(2019, 8, 3, 17, 45, 10, tzinfo=tz(2))


def test_without_an_offset_the_camera_clock_is_read_in_the_server_time_zone(settings):
    settings.TIME_ZONE = PARIS
    found = taken(sub=original("2019:08:03 17:45:10", subsec="5"))
    assert found.utcoffset() == dt.timedelta(hours=2)  # Paris in August
    assert found.astimezone(dt.UTC) == dt.datetime(2019, 8, 3, 15, 45, 10, 500_000, tzinfo=dt.UTC)


@pytest.mark.parametrize("offset", ["+99:00", "+02:75", "2:00", "   :  ", "+0200x"])
def test_an_impossible_offset_is_no_offset(settings, offset):
    settings.TIME_ZONE = PARIS
    found = taken(sub=original("2019:08:03 17:45:10", offset=offset))
    assert found.utcoffset() == dt.timedelta(hours=2)  # read like a photo without one


# ---- impossible values count as missing -----------------------------------------------------

IMPOSSIBLE = [
    "0000:00:00 00:00:00",
    "    :  :     :  :  ",
    "0000:08:03 10:00:00",  # year 0
    "2019:13:03 10:00:00",  # month 13
    "2019:02:30 10:00:00",  # 30 February
    "2019:08:03 24:00:00",  # hour 24 (no GPS time to confirm it)
    "2019:08:03 10:60:00",
    "1970:01:01 00:00:00",  # Unix time 0...
    "1969:12:31 19:00:00",  # ...seen from New York
    "1899:12:30 00:00:00",  # OLE/Excel day 0
    "1899:12:31 00:00:00",
    "1900:01:01 00:00:00",
    "1904:01:01 00:00:00",  # classic Mac OS
    "1800:01:01 12:00:00",  # before the first photograph
    "2999:01:01 12:00:00",  # the future
    "unknown",
    "",
]


@pytest.mark.parametrize("text", IMPOSSIBLE)
def test_an_impossible_original_falls_back_to_the_digitized_time(text):
    found = taken(
        sub={
            **original(text, subsec="1", offset="+01:00"),
            cf.DATE_TIME_DIGITIZED: "2018:05:06 07:08:09",
            cf.OFFSET_TIME_DIGITIZED: "+03:00",
        }
    )
    assert found == dt.datetime(2018, 5, 6, 7, 8, 9, tzinfo=tz(3))


@pytest.mark.parametrize("text", IMPOSSIBLE)
def test_an_impossible_value_never_becomes_a_date(text):
    assert taken(sub=original(text), ifd0={cf.DATE_TIME: text}) is None


def test_a_real_photo_of_1970_keeps_its_date():
    found = taken(sub=original("1970:06:15 14:30:00", offset="+00:00"))
    assert found == dt.datetime(1970, 6, 15, 14, 30, tzinfo=dt.UTC)


def test_hour_24_is_next_midnight_when_the_gps_time_confirms_it():
    gps = gps_stamp("2019:08:03", R(22, 1), R(10, 1), R(0, 1))  # 00:10 at +02:00
    found = taken(sub=original("2019:08:03 24:05:31", offset="+02:00"), gps=gps)
    assert found == dt.datetime(2019, 8, 4, 0, 5, 31, tzinfo=tz(2))


def test_hour_24_the_gps_time_contradicts_is_replaced_by_the_gps_time():
    gps = gps_stamp("2019:08:10", R(9, 1), R(0, 1), R(0, 1))  # a week later
    found = taken(sub=original("2019:08:03 24:05:31", offset="+02:00"), gps=gps)
    assert found == dt.datetime(2019, 8, 10, 9, tzinfo=dt.UTC)


# ---- the fallbacks, in order ----------------------------------------------------------------


def test_xmp_date_time_original_with_its_fraction_and_offset():
    xmp = cf.xmp_packet(
        attributes={
            "xmp:CreateDate": "2001-01-01T00:00:00Z",  # lower priority, though written first
            "exif:DateTimeOriginal": "2019-08-03T17:45:10.25-03:00",
        }
    )
    found = taken(xmp=xmp)
    assert found == dt.datetime(2019, 8, 3, 17, 45, 10, 250_000, tzinfo=tz(-3))


def test_xmp_create_date_as_an_element():
    xmp = cf.xmp_packet(elements={"xmp:CreateDate": "2017-04-09T06:07Z"})
    assert taken(xmp=xmp) == dt.datetime(2017, 4, 9, 6, 7, tzinfo=dt.UTC)


def test_xmp_photoshop_date_created_in_the_exif_form():
    xmp = cf.xmp_packet(attributes={"photoshop:DateCreated": "2016:03:02 01:02:03+05:00"})
    assert taken(xmp=xmp) == dt.datetime(2016, 3, 2, 1, 2, 3, tzinfo=tz(5))


def test_xmp_comes_after_exif_and_before_iptc_and_gps():
    xmp = cf.xmp_packet(attributes={"exif:DateTimeOriginal": "2015-05-05T05:05:05+01:00"})
    iptc = {(2, 55): b"20140404", (2, 60): b"040404+0000"}
    gps = gps_stamp("2013:03:03", R(3, 1), R(3, 1), R(3, 1))
    exif_time = original("2012:02:02 02:02:02", offset="+00:00")
    assert taken(sub=exif_time, xmp=xmp, iptc=iptc, gps=gps) == dt.datetime(
        2012, 2, 2, 2, 2, 2, tzinfo=dt.UTC
    )
    assert taken(xmp=xmp, iptc=iptc, gps=gps) == dt.datetime(2015, 5, 5, 5, 5, 5, tzinfo=tz(1))
    assert taken(iptc=iptc, gps=gps) == dt.datetime(2014, 4, 4, 4, 4, 4, tzinfo=dt.UTC)
    assert taken(gps=gps) == dt.datetime(2013, 3, 3, 3, 3, 3, tzinfo=dt.UTC)


def test_iptc_date_and_time_created_with_offset():
    found = taken(iptc={(2, 55): b"20190803", (2, 60): b"174510-0700"})
    assert found == dt.datetime(2019, 8, 3, 17, 45, 10, tzinfo=tz(-7))


def test_a_date_without_a_time_is_used_only_when_nothing_has_a_time(settings):
    settings.TIME_ZONE = PARIS
    xmp = cf.xmp_packet(attributes={"photoshop:DateCreated": "2019-08-03"})
    gps = gps_stamp("2019:08:03", R(15, 1), R(45, 1), R(1012, 100))
    assert taken(xmp=xmp, gps=gps) == dt.datetime(2019, 8, 3, 15, 45, 10, 120_000, tzinfo=dt.UTC)
    day = taken(xmp=xmp)
    assert (day.date(), day.time(), day.utcoffset()) == (
        dt.date(2019, 8, 3),
        dt.time(0, 0),
        dt.timedelta(hours=2),
    )
    assert taken(iptc={(2, 55): b"20190803"}).date() == dt.date(2019, 8, 3)


def test_gps_date_and_time_are_utc():
    gps = gps_stamp("2019:08:03", R(15, 1), R(45, 1), R(1012, 100))
    assert taken(gps=gps) == dt.datetime(2019, 8, 3, 15, 45, 10, 120_000, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "gps",
    [
        gps_stamp("2019:08:03", R(15, 1), R(45, 1), R(0, 0)),  # 0/0 seconds
        gps_stamp("2019:08:03", R(24, 1), R(0, 1), R(0, 1)),
        gps_stamp("0000:00:00", R(15, 1), R(45, 1), R(0, 1)),
        gps_stamp("1970:01:01", R(0, 1), R(0, 1), R(0, 1)),
        {cf.GPS_DATE_STAMP: "2019:08:03"},  # no time
    ],
)
def test_an_impossible_gps_time_is_no_date(gps):
    assert taken(gps=gps) is None


def test_date_time_of_the_file_is_the_last_resort():
    found = taken(
        ifd0={cf.DATE_TIME: "2011:11:11 11:11:11"},
        sub={cf.SUB_SEC_TIME: "11", cf.OFFSET_TIME: "+11:00"},
    )
    assert found == dt.datetime(2011, 11, 11, 11, 11, 11, 110_000, tzinfo=tz(11))


def test_xmp_in_a_png_a_webp_and_a_heic_is_read():
    xmp = cf.xmp_packet(attributes={"xmp:CreateDate": "2019-08-03T17:45:10+02:00"})
    expected = dt.datetime(2019, 8, 3, 17, 45, 10, tzinfo=tz(2))
    assert taken(xmp=xmp, image_format="WEBP") == expected
    heic = io.BytesIO()
    support.picture(64, 48).save(heic, "HEIF", xmp=xmp)
    found_xmp, _iptc = metadata.packets(heic.getvalue(), "image/heic")
    assert metadata.capture_time(Image.Exif(), xmp=found_xmp) == expected
    out = io.BytesIO()
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp.decode())
    support.picture(64, 48).save(out, "PNG", pnginfo=info)
    found_xmp, _iptc = metadata.packets(out.getvalue(), "image/png")
    assert metadata.capture_time(Image.Exif(), xmp=found_xmp) == expected


@pytest.mark.parametrize(
    "packet",
    [
        # An entity bomb: a billion "lol"s if expanded.
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + b"".join(
            f'<!ENTITY lol{i} "{("&lol%s;" % ("" if i == 1 else i - 1)) * 10}">'.encode()
            for i in range(1, 10)
        )
        + b']><x:xmpmeta xmlns:x="adobe:ns:meta/">&lol9;</x:xmpmeta>',
        # An external entity: the worker's files must not come back as a date.
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/hostname">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/">&e;</x:xmpmeta>',
        b"<x:xmpmeta><unclosed>",
        b"\xff\xfe not xml at all",
    ],
)
def test_a_hostile_or_broken_xmp_packet_is_ignored(packet):
    exif_time = original("2012:02:02 02:02:02", offset="+00:00")
    assert taken(sub=exif_time, xmp=packet) == dt.datetime(2012, 2, 2, 2, 2, 2, tzinfo=dt.UTC)
    assert taken(xmp=packet) is None


# ---- places and numbers ---------------------------------------------------------------------


def dms(degrees, minutes, seconds):
    return (R(degrees, 1), R(minutes, 1), R(seconds, 100))


NO_PLACE = {}


@pytest.mark.parametrize(
    ("gps", "expected"),
    [
        ({1: "N", 2: dms(48, 51, 2400), 3: "E", 4: dms(2, 21, 300)}, (48.856667, 2.350833)),
        ({1: "S", 2: dms(33, 51, 2448), 3: "W", 4: dms(70, 0, 0)}, (-33.856800, -70.0)),
        # Decimal minutes with 0/0 seconds: the seconds count as zero.
        (
            {
                1: "N",
                2: (R(51, 1), R(3045, 100), R(0, 0)),
                3: "W",
                4: (R(0, 1), R(75, 100), R(0, 0)),
            },
            (51.5075, -0.0125),
        ),
        ({1: "N", 2: dms(0, 0, 0), 3: "E", 4: dms(32, 35, 0)}, (0.0, 32.583333)),  # the equator
        ({1: "N", 2: (R(0, 0),) * 3, 3: "E", 4: (R(0, 0),) * 3}, NO_PLACE),  # all 0/0
        ({1: "N", 2: (R(0, 0), R(30, 1), R(0, 1)), 3: "E", 4: dms(2, 0, 0)}, NO_PLACE),
        ({1: "N", 2: (R(48, 1), R(1, 0), R(0, 1)), 3: "E", 4: dms(2, 0, 0)}, NO_PLACE),  # x/0
        ({1: "N", 2: dms(48, 75, 0), 3: "E", 4: dms(2, 0, 0)}, NO_PLACE),  # 75 minutes
        ({1: "N", 2: dms(91, 0, 0), 3: "E", 4: dms(2, 0, 0)}, NO_PLACE),
        ({1: "N", 2: dms(48, 0, 0), 3: "E", 4: dms(180, 0, 1)}, NO_PLACE),
        ({1: "N", 2: dms(0, 0, 0), 3: "E", 4: dms(0, 0, 0)}, NO_PLACE),  # "Null Island"
        ({1: "N", 2: dms(48, 51, 0), 9: "V", 3: "E", 4: dms(2, 21, 0)}, NO_PLACE),  # void
        ({1: "N", 2: dms(48, 51, 0)}, NO_PLACE),  # latitude alone
    ],
)
def test_places(gps, expected):
    found = read(gps=gps)[1]
    coordinates = {k: found[k] for k in ("latitude", "longitude") if k in found}
    if expected is NO_PLACE:
        assert coordinates == {} and "altitude" not in found
    else:
        assert (coordinates["latitude"], coordinates["longitude"]) == pytest.approx(
            expected, abs=1e-6
        )


def test_an_active_gps_status_keeps_the_place():
    gps = {1: "N", 2: dms(48, 51, 0), 3: "E", 4: dms(2, 21, 0), cf.GPS_STATUS: "A"}
    assert read(gps=gps)[1]["latitude"] == 48.85


@pytest.mark.parametrize(
    ("altitude", "ref", "expected"),
    [
        (R(355, 10), b"\x00", 35.5),
        (R(4285, 10), b"\x01", -428.5),  # the Dead Sea shore: below sea level
        (R(0, 0), b"\x00", None),
        (R(1, 0), b"\x00", None),
        (R(250_000, 1), b"\x00", None),  # higher than anything that carries a camera and GPS
    ],
)
def test_altitude(altitude, ref, expected):
    gps = {
        1: "N",
        2: dms(31, 30, 0),
        3: "E",
        4: dms(35, 30, 0),
        cf.GPS_ALTITUDE: altitude,
        cf.GPS_ALTITUDE_REF: ref,
    }
    assert read(gps=gps)[1].get("altitude") == expected


def test_camera_numbers_that_are_not_numbers_are_left_out():
    _taken, fields = read(
        ifd0={0x010F: "Canon", 0x0110: "EOS R5"},
        sub={
            cf.EXPOSURE_TIME: R(0, 0),
            cf.F_NUMBER: R(0, 1),
            cf.FOCAL_LENGTH: R(1, 0),
            cf.ISO: (400, 800),
        },
    )
    assert fields == {"camera_make": "Canon", "camera_model": "EOS R5", "iso": 400.0}
    json.dumps(fields, allow_nan=False)  # what is sealed is strict JSON


def test_good_camera_numbers_are_kept():
    _taken, fields = read(
        sub={cf.EXPOSURE_TIME: R(1, 250), cf.F_NUMBER: R(28, 10), cf.FOCAL_LENGTH: R(50, 1)}
    )
    assert fields == {"exposure_time": 0.004, "f_number": 2.8, "focal_length": 50.0}
    assert all(math.isfinite(v) for v in fields.values())
