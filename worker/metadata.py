"""EXIF, XMP and IPTC: the capture time (plaintext by design, for the gallery's order and date
filter) and the upright dimensions; camera, lens, exposure and GPS are sealed under the
metadata key.

Capture time, first found of (`capture_time`):
  1. EXIF DateTimeOriginal, with SubSecTimeOriginal and OffsetTimeOriginal;
  2. EXIF DateTimeDigitized, with SubSecTimeDigitized and OffsetTimeDigitized;
  3. XMP exif:DateTimeOriginal, xmp:CreateDate, photoshop:DateCreated;
  4. IPTC Date Created (2:55) and Time Created (2:60) (JPEG);
  5. the GPS date and time (UTC);
  6. EXIF DateTime (the file's last change: a camera that writes nothing else);
  then none (the gallery shows the photo at its upload date).
A value that cannot be a capture time counts as missing: unparsable, hour 24, all zeros,
before 1826 or past next year, or the day of a zero timestamp (1899-12-30/31, 1900-01-01,
1904-01-01, 1969-12-31, 1970-01-01: what software writes for "no date"). One exception: a
camera that writes midnight as hour 24 of the day before gets that midnight when its GPS time
confirms it. A date without a time of day (XMP, IPTC) is used only when no source has a time.

Time zones: a value with an offset (EXIF OffsetTime*, XMP, IPTC) or in UTC (GPS) is that
instant. Without one, the camera's wall-clock time is read in the server's TIME_ZONE (settings;
UTC by default), as it always was here. The stored taken_at is an aware datetime (PostgreSQL
keeps the instant, with microseconds): the gallery sorts by it. Beside it the photo keeps the
camera's offset (taken_offset, minutes) when the photo wrote one, and the local wall-clock time
(shown_local) that the gallery shows, groups by month and filters by: 10:09 at +02:00 is shown
as 10:09, not as 08:09 UTC.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import math
import re

from django.utils import timezone
from PIL import ExifTags, Image, IptcImagePlugin

from vault.crypto import seal
from vault.photos.places import place_is_real
from vault.photos.sealing import exif_aad

log = logging.getLogger(__name__)

_IFD = ExifTags.IFD
_T = ExifTags.Base
_GPS = ExifTags.GPS

# "2019:08:03 17:45:10" (EXIF), tolerating "-" in the date, a "T", a fraction and an offset.
_EXIF_MOMENT = re.compile(
    r"\s*(\d{4})[:\-](\d{2})[:\-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})"
    r"(?:[.,](\d+))?\s*(Z|[+-]\d{2}:?\d{2})?"
)
# XMP dates are ISO 8601 ("2019-08-03T17:45:10.123+02:00"); a day alone is allowed.
_XMP_MOMENT = re.compile(
    r"\s*(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)
_IPTC_DATE = re.compile(rb"\s*(\d{4})(\d{2})(\d{2})")
_IPTC_TIME = re.compile(rb"\s*(\d{2})(\d{2})(\d{2})([+-]\d{4})?")
_FIRST_PHOTOGRAPH = 1826
# Days that zero timestamps of common epochs land on, in any time zone: OLE/Excel (1899-12-30,
# 1900-01-01), classic Mac OS (1904-01-01), Unix (1970-01-01, 1969-12-31 west of Greenwich).
_EPOCH_DAYS = {
    dt.date(1899, 12, 30),
    dt.date(1899, 12, 31),
    dt.date(1900, 1, 1),
    dt.date(1904, 1, 1),
    dt.date(1969, 12, 31),
    dt.date(1970, 1, 1),
}
_XMP_LIMIT = 2 * 1024 * 1024  # bytes: a packet is a few kilobytes; never parse megabytes of XML
_XMP_DATES = [
    ("http://ns.adobe.com/exif/1.0/", "DateTimeOriginal"),
    ("http://ns.adobe.com/xap/1.0/", "CreateDate"),
    ("http://ns.adobe.com/photoshop/1.0/", "DateCreated"),
]
# A camera's hour-24 midnight is believed when its GPS time is this close: any time zone is
# within 14 hours of UTC, and a GPS fix may be an hour old.
_GPS_CONFIRMS = dt.timedelta(hours=15)
_ALTITUDE_RANGE = (-12_000.0, 100_000.0)  # metres: below the deepest sea to the edge of space


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip("\x00 ").strip()
    return value[:120] or None


def _number(value) -> float | None:
    """A finite number from an EXIF value (integer, float, rational); None for anything else,
    a rational with a zero denominator (Pillow reads 0/0 and 1/0 as NaN) included."""
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _positive(value) -> float | None:
    if isinstance(value, tuple):  # ISO is sometimes a list of values: the first is the one
        value = value[0] if value else None
    number = _number(value)
    return number if number is not None and number > 0 else None


def _offset(text: str | None) -> dt.timezone | None:
    """ "+02:00" (EXIF, XMP), "+0200" (IPTC) or "Z"; None when absent or impossible."""
    if text == "Z":
        return dt.UTC
    if not text or len(text) not in (5, 6) or text[0] not in "+-":
        return None
    digits = text[1:].replace(":", "", 1)
    if len(digits) != 4 or not digits.isdigit():
        return None
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 14 or minutes > 59:  # no place on Earth is further from UTC
        return None
    sign = 1 if text[0] == "+" else -1
    # Named, so that a written "+00:00" is not Python's UTC singleton, which stands for a time
    # in UTC whose local offset is unknown ("Z", GPS): see `local_offset_minutes`.
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes), f"UTC{text}")


def _microseconds(digits: str | None) -> int:
    """Sub-second digits as written ("5" is half a second, "050" a twentieth) → microseconds."""
    digits = re.match(r"\d*", (digits or "").strip()).group()
    return int(digits[:6].ljust(6, "0")) if digits else 0


def _plausible(moment: dt.datetime) -> bool:
    """Whether a written date can be a capture date (see the module docstring)."""
    if not _FIRST_PHOTOGRAPH <= moment.year <= timezone.now().year + 1:
        return False
    return moment.date() not in _EPOCH_DAYS


def _moment(
    fields: tuple, offset: dt.timezone | None, *, rollover: bool = False
) -> dt.datetime | None:
    """A datetime from (year, month, day, hour, minute, second, microsecond) as written; None
    when impossible. With rollover, hour 24 of a day is midnight of the next one."""
    year, month, day, hour, minute, second, micro = fields
    next_day = rollover and hour == 24
    try:
        moment = dt.datetime(year, month, day, 0 if next_day else hour, minute, second, micro)
    except ValueError:  # month 13, hour 24, second 60, all zeros, ...
        return None
    if next_day:
        moment += dt.timedelta(days=1)
    if not _plausible(moment):
        return None
    if offset is not None:
        return moment.replace(tzinfo=offset)
    return timezone.make_aware(moment, timezone.get_default_timezone())


def _exif_moment(text, sub_seconds, offset_text, *, gps: dt.datetime | None) -> dt.datetime | None:
    text = _text(text)
    match = _EXIF_MOMENT.match(text) if text else None
    if not match:
        return None
    written_offset = match.group(8)
    offset = _offset(_text(offset_text)) or _offset(written_offset)
    fraction = match.group(7) or _text(sub_seconds)
    fields = (*(int(part) for part in match.groups()[:6]), _microseconds(fraction))
    found = _moment(fields, offset)
    if found is None and gps is not None:
        midnight = _moment(fields, offset, rollover=True)
        if midnight is not None and abs(midnight.replace(tzinfo=None) - _naive(gps, offset)) <= (
            dt.timedelta(hours=1) if offset else _GPS_CONFIRMS
        ):
            found = midnight
    return found


def _naive(moment: dt.datetime, offset: dt.timezone | None) -> dt.datetime:
    """The wall-clock time of an instant at the given offset (UTC when unknown)."""
    return moment.astimezone(offset or dt.UTC).replace(tzinfo=None)


def gps_time(gps) -> dt.datetime | None:
    """GPSDateStamp + GPSTimeStamp (UTC), when both are whole and possible."""
    date = _text(gps.get(_GPS.GPSDateStamp))
    stamp = gps.get(_GPS.GPSTimeStamp)
    match = re.fullmatch(r"(\d{4})[:\-](\d{2})[:\-](\d{2})", date or "")
    if not match or not isinstance(stamp, tuple) or len(stamp) != 3:
        return None
    hours, minutes, seconds = (_number(part) for part in stamp)
    if None in (hours, minutes, seconds) or not (hours.is_integer() and minutes.is_integer()):
        return None
    if not (0 <= hours < 24 and 0 <= minutes < 60 and 0 <= seconds < 60):
        return None
    whole = int(seconds)
    fields = (*(int(part) for part in match.groups()), int(hours), int(minutes), whole)
    return _moment((*fields, round((seconds - whole) * 1e6) % 1_000_000), dt.UTC)


def _xmp_moments(packet) -> list[tuple[dt.datetime, bool]]:
    """(moment, has a time of day) for each XMP date property present, in priority order."""
    if isinstance(packet, str):
        packet = packet.encode("utf-8", "replace")
    if not isinstance(packet, bytes) or not packet or len(packet) > _XMP_LIMIT:
        return []
    from defusedxml import ElementTree

    try:
        # The packet is the uploader's text: no DTD (XMP never has one), so no entity bomb and
        # no external entity can reach the parser.
        root = ElementTree.fromstring(packet.strip(b"\x00 \t\r\n"), forbid_dtd=True)
    except (ValueError, SyntaxError):  # defusedxml's refusals, and ParseError
        return []
    found = []
    for namespace, name in _XMP_DATES:
        key = f"{{{namespace}}}{name}"
        for element in root.iter():
            value = element.get(key)
            if value is None and element.tag == key:
                value = element.text
            moment = _xmp_moment(value)
            if moment:
                found.append(moment)
                break
    return found


def _xmp_moment(value) -> tuple[dt.datetime, bool] | None:
    match = _XMP_MOMENT.match(value) if isinstance(value, str) else None
    if not match:  # some writers copy the EXIF form ("2019:08:03 17:45:10") into XMP
        moment = _exif_moment(value, None, None, gps=None)
        return (moment, True) if moment else None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    timed = hour is not None
    fields = (
        *(int(part) for part in (year, month, day)),
        *(int(part or 0) for part in (hour, minute, second)),
        _microseconds(fraction),
    )
    moment = _moment(fields, _offset(offset) if timed else None)
    return (moment, timed) if moment else None


def local_offset_minutes(moment: dt.datetime | None) -> int | None:
    """Minutes east of UTC of the clock that wrote `moment` (from `capture_time`), or None when
    the photo does not say: a bare wall-clock time (read in TIME_ZONE), a GPS time or a "Z"
    (instants in UTC, taken wherever)."""
    if moment is None or moment.tzinfo is dt.UTC or not isinstance(moment.tzinfo, dt.timezone):
        return None
    return round(moment.utcoffset().total_seconds() / 60)


def local_wall_clock(moment: dt.datetime, offset_minutes: int | None) -> dt.datetime:
    """The naive wall-clock time of an instant: at the camera's offset when known, else in the
    server's TIME_ZONE (as photos without an offset have always been shown)."""
    if offset_minutes is None:
        return timezone.localtime(moment, timezone.get_default_timezone()).replace(tzinfo=None)
    return moment.astimezone(dt.timezone(dt.timedelta(minutes=offset_minutes))).replace(tzinfo=None)


def _iptc_moment(iptc: dict | None) -> tuple[dt.datetime, bool] | None:
    """IPTC-IIM Date Created (2:55, CCYYMMDD) and Time Created (2:60, HHMMSS±HHMM)."""

    def first(value):
        return value[0] if isinstance(value, list) and value else value

    date, time = first((iptc or {}).get((2, 55))), first((iptc or {}).get((2, 60)))
    date_match = _IPTC_DATE.match(date) if isinstance(date, bytes) else None
    if not date_match:
        return None
    time_match = _IPTC_TIME.match(time) if isinstance(time, bytes) else None
    clock = [int(part) for part in time_match.groups()[:3]] if time_match else [0, 0, 0]
    offset = _offset(time_match.group(4).decode()) if time_match and time_match.group(4) else None
    fields = (*(int(part) for part in date_match.groups()), *clock, 0)
    moment = _moment(fields, offset)
    return (moment, time_match is not None) if moment else None


def capture_time(exif, *, xmp=None, iptc: dict | None = None) -> dt.datetime | None:
    """When the photo was taken, from the sources in the module docstring's order."""
    sub = exif.get_ifd(_IFD.Exif)
    gps = gps_time(exif.get_ifd(_IFD.GPSInfo))

    def sub_seconds(tag, paired_text):
        # Some cameras write only SubSecTime: it belongs to DateTime, and so to an original
        # written in the same second.
        found = sub.get(tag)
        if found is None and _text(paired_text) == _text(exif.get(_T.DateTime)):
            found = sub.get(_T.SubsecTime)
        return found

    candidates: list[tuple[dt.datetime | None, bool]] = []
    for tag, sub_tag, offset_tag in (
        (_T.DateTimeOriginal, _T.SubsecTimeOriginal, _T.OffsetTimeOriginal),
        (_T.DateTimeDigitized, _T.SubsecTimeDigitized, _T.OffsetTimeDigitized),
    ):
        text = sub.get(tag)
        moment = _exif_moment(text, sub_seconds(sub_tag, text), sub.get(offset_tag), gps=gps)
        candidates.append((moment, True))
    candidates += _xmp_moments(xmp)
    candidates.append(_iptc_moment(iptc) or (None, True))
    candidates.append((gps, True))
    changed = _exif_moment(
        exif.get(_T.DateTime), sub.get(_T.SubsecTime), sub.get(_T.OffsetTime), gps=gps
    )
    candidates.append((changed, True))
    timed = [moment for moment, has_time in candidates if moment and has_time]
    days = [moment for moment, has_time in candidates if moment and not has_time]
    return (timed or days or [None])[0]


def _coordinate(value, ref, limit: float) -> float | None:
    """Signed degrees from EXIF (degrees, minutes, seconds) rationals; None when missing or
    impossible. Minutes or seconds written as 0/0 count as zero (receivers that give decimal
    minutes leave the seconds "undefined"); degrees must be a number."""
    parts = value if isinstance(value, tuple) else (value,)
    if not 1 <= len(parts) <= 3:
        return None
    degrees = _number(parts[0])
    rest = [
        0.0 if getattr(part, "denominator", 1) == 0 and part.numerator == 0 else _number(part)
        for part in parts[1:]
    ]
    if degrees is None or any(part is None or not 0 <= part < 60 for part in rest):
        return None
    minutes, seconds = [*rest, 0.0, 0.0][:2]
    magnitude = abs(degrees) + minutes / 60 + seconds / 3600
    if magnitude > limit:
        return None
    negative = _text(ref) in ("S", "W") or degrees < 0
    return round(-magnitude if negative else magnitude, 6)


def _place(gps) -> dict:
    """latitude, longitude (and altitude) of a GPS block that holds a real fix; else {}."""
    if _text(gps.get(_GPS.GPSStatus)) == "V":  # void: the receiver had no fix
        return {}
    latitude = _coordinate(gps.get(_GPS.GPSLatitude), gps.get(_GPS.GPSLatitudeRef), 90)
    longitude = _coordinate(gps.get(_GPS.GPSLongitude), gps.get(_GPS.GPSLongitudeRef), 180)
    if not place_is_real(latitude, longitude):
        return {}
    place = {"latitude": latitude, "longitude": longitude}
    altitude = _number(gps.get(_GPS.GPSAltitude))
    below_sea = gps.get(_GPS.GPSAltitudeRef) in (1, b"\x01")
    if altitude is not None:
        altitude = -altitude if below_sea else altitude
        if _ALTITUDE_RANGE[0] <= altitude <= _ALTITUDE_RANGE[1]:
            place["altitude"] = round(altitude, 1)
    return place


def private_fields(exif) -> dict:
    """What the photo says about where and with what it was taken: sealed, never plaintext.
    Every number is finite and possible (no NaN from a 0/0 rational reaches the page)."""
    sub = exif.get_ifd(_IFD.Exif)
    fields = {
        "camera_make": _text(exif.get(_T.Make)),
        "camera_model": _text(exif.get(_T.Model)),
        "lens": _text(sub.get(_T.LensModel)),
        "exposure_time": _positive(sub.get(_T.ExposureTime)),
        "f_number": _positive(sub.get(_T.FNumber)),
        "iso": _positive(sub.get(_T.ISOSpeedRatings)),
        "focal_length": _positive(sub.get(_T.FocalLength)),
    }
    fields |= _place(exif.get_ifd(_IFD.GPSInfo))
    return {key: value for key, value in fields.items() if value is not None}


def packets(original: bytes, media_type: str) -> tuple[bytes | str | None, dict | None]:
    """The XMP packet and the IPTC records (JPEG) of an original. It is opened again, not
    decoded: only its header is parsed, and the decoded image may have shed its info."""
    from worker.pictures import PILLOW_FORMATS

    pillow_format = PILLOW_FORMATS.get(media_type)
    if pillow_format is None:
        return None, None
    with Image.open(io.BytesIO(original), formats=[pillow_format]) as image:
        xmp = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp")
        iptc = IptcImagePlugin.getiptcinfo(image) if pillow_format == "JPEG" else None
    return xmp, iptc


def private_sealed(metadata_key: bytes, photo_id, private: dict) -> bytes | None:
    """The private fields (camera, place...) as sealed JSON for Photo.exif_sealed; None when
    there are none. Photos and videos both store them this way."""
    if not private:
        return None
    return seal.seal(
        metadata_key, json.dumps(private, allow_nan=False).encode(), exif_aad(photo_id)
    )


def read_metadata(work) -> None:
    photo = work.photo
    exif = work.exif if work.exif is not None else Image.Exif()
    xmp = iptc = taken_at = private = None
    try:
        xmp, iptc = packets(work.original, photo.media_type)
    except Exception:  # malformed metadata must not cost the photo
        log.info("photo %s: unreadable XMP or IPTC ignored", photo.id)
    try:
        taken_at = capture_time(exif, xmp=xmp, iptc=iptc)
    except Exception:
        log.info("photo %s: unreadable capture date ignored", photo.id)
    try:
        private = private_fields(exif)
    except Exception:
        log.info("photo %s: unreadable EXIF ignored", photo.id)
    photo.taken_at = taken_at
    photo.taken_offset = local_offset_minutes(taken_at)
    photo.shown_at = taken_at or photo.uploaded_at
    photo.shown_local = local_wall_clock(photo.shown_at, photo.taken_offset)
    photo.width, photo.height = _upright(work)
    photo.exif_sealed = private_sealed(work.keys.metadata_key, photo.id, private)
    photo.save(
        update_fields=[
            "taken_at",
            "taken_offset",
            "shown_at",
            "shown_local",
            "width",
            "height",
            "exif_sealed",
        ]
    )


def _upright(work) -> tuple[int, int]:
    """Full-resolution dimensions, turned as the EXIF orientation says (the decoded image may
    be a reduced-scale draft)."""
    width, height = work.original_size
    if not (width and height) or work.photo.media_type != "image/jpeg":
        # Only JPEG decodes at a reduced scale; the others decode whole and upright (HEIC
        # applies its own rotation), so the decoded size is the answer.
        return work.image.size
    if work.orientation in (5, 6, 7, 8):
        width, height = height, width
    return width, height
