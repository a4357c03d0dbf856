"""EXIF: the capture date (plaintext by design, for the gallery's order and date filter) and
the upright dimensions; camera, lens, exposure and GPS are sealed under the metadata key."""

from __future__ import annotations

import datetime as dt
import json
import logging

from django.utils import timezone
from PIL import ExifTags

from vault.crypto import seal
from vault.photos.sealing import exif_aad

log = logging.getLogger(__name__)

_IFD = ExifTags.IFD
_T = ExifTags.Base
_GPS = ExifTags.GPS


def _text(value) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.strip("\x00 ").strip()
    return value[:120] or None


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return number if number == number else None  # NaN from a 0/0 rational


def _offset(text: str | None) -> dt.timezone | None:
    if not text or len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return None
    try:
        hours, minutes = int(text[1:3]), int(text[4:6])
    except ValueError:
        return None
    if hours > 14 or minutes > 59:  # no place on Earth is further from UTC
        return None
    sign = 1 if text[0] == "+" else -1
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))


def capture_time(exif) -> dt.datetime | None:
    """DateTimeOriginal (else DateTimeDigitized, else DateTime), with its offset when given;
    without one, the camera's local time is read in the server's time zone."""
    sub = exif.get_ifd(_IFD.Exif)
    for tag, offset_tag in (
        (_T.DateTimeOriginal, _T.OffsetTimeOriginal),
        (_T.DateTimeDigitized, _T.OffsetTimeDigitized),
    ):
        found = _parse(_text(sub.get(tag)), _offset(_text(sub.get(offset_tag))))
        if found:
            return found
    return _parse(_text(exif.get(_T.DateTime)), _offset(_text(sub.get(_T.OffsetTime))))


def _parse(text: str | None, offset: dt.timezone | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    if not 1826 <= moment.year <= timezone.now().year + 1:  # cameras with unset clocks
        return None
    if offset is not None:
        return moment.replace(tzinfo=offset)
    return timezone.make_aware(moment, timezone.get_default_timezone())


def _degrees(value, ref) -> float | None:
    try:
        d, m, s = (float(part) for part in value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    degrees = d + m / 60 + s / 3600
    if _text(ref) in ("S", "W"):
        degrees = -degrees
    return round(degrees, 6)


def private_fields(exif) -> dict:
    """What the photo says about where and with what it was taken: sealed, never plaintext."""
    sub = exif.get_ifd(_IFD.Exif)
    fields = {
        "camera_make": _text(exif.get(_T.Make)),
        "camera_model": _text(exif.get(_T.Model)),
        "lens": _text(sub.get(_T.LensModel)),
        "exposure_time": _number(sub.get(_T.ExposureTime)),
        "f_number": _number(sub.get(_T.FNumber)),
        "iso": _number(sub.get(_T.ISOSpeedRatings)),
        "focal_length": _number(sub.get(_T.FocalLength)),
    }
    gps = exif.get_ifd(_IFD.GPSInfo)
    if gps:
        latitude = _degrees(gps.get(_GPS.GPSLatitude), gps.get(_GPS.GPSLatitudeRef))
        longitude = _degrees(gps.get(_GPS.GPSLongitude), gps.get(_GPS.GPSLongitudeRef))
        if latitude is not None and longitude is not None:
            fields["latitude"], fields["longitude"] = latitude, longitude
            altitude = _number(gps.get(_GPS.GPSAltitude))
            if altitude is not None:
                fields["altitude"] = round(altitude, 1)
    return {key: value for key, value in fields.items() if value is not None}


def read_metadata(work) -> None:
    photo = work.photo
    exif = work.exif
    taken_at = private = None
    if exif:
        try:
            taken_at = capture_time(exif)
            private = private_fields(exif)
        except Exception:  # a malformed EXIF block must not cost the photo
            log.info("photo %s: unreadable EXIF ignored", photo.id)
    photo.taken_at = taken_at
    photo.shown_at = taken_at or photo.uploaded_at
    photo.width, photo.height = _upright(work)
    photo.exif_sealed = (
        seal.seal(work.keys.metadata_key, json.dumps(private).encode(), exif_aad(photo.id))
        if private
        else None
    )
    photo.save(update_fields=["taken_at", "shown_at", "width", "height", "exif_sealed"])


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
