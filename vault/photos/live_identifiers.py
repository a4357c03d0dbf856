"""The content identifier that ties the two halves of an iPhone Live Photo together, read from
each half's plaintext in the upload request's memory (vault/photos/live_photos.py pairs them).

- The still (HEIC or JPEG): Apple's MakerNote inside its EXIF, tag 0x0011 "ContentIdentifier"
  (ExifTool, Image::ExifTool::Apple). The MakerNote starts with "Apple iOS\\0", a version and a
  byte order, then one TIFF IFD whose offsets count from the MakerNote's start, so it is read
  where it is found, whatever the container (EXIF is stored uncompressed in both).
- The MOV: the QuickTime metadata key `com.apple.quicktime.content.identifier` in
  moov/meta (Apple) or moov/udta/meta (FFmpeg): a `keys` box names the keys, an `ilst` box
  holds one box per key index with a `data` box inside (QuickTime File Format, "Metadata").

No Django, no FFmpeg: the web process reads these while it holds the upload's keys.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

MAKERNOTE_SIGNATURE = b"Apple iOS\x00"
CONTENT_IDENTIFIER_TAG = 0x0011
MOV_KEY = b"com.apple.quicktime.content.identifier"
# Far more than an iPhone's MakerNote (about 1-2 KiB) or a Live Photo's moov (tens of KiB).
MAKERNOTE_WINDOW = 64 * 1024
MOOV_LIMIT = 8 * 1024 * 1024
_IDENTIFIER_LIMIT = 200  # a UUID is 36 characters: longer is not an identifier


def _clean(raw: bytes) -> str | None:
    text = raw.split(b"\x00", 1)[0].decode("utf-8", "replace").strip()
    return text if 0 < len(text) <= _IDENTIFIER_LIMIT else None


def still_content_identifier(pieces: Iterable[bytes]) -> str | None:
    """The ContentIdentifier of an Apple MakerNote found in the still's bytes (given as
    successive pieces, read until found); None when there is none or it is malformed."""
    window = b""
    found = -1
    for piece in pieces:
        window += piece
        if found < 0:
            found = window.find(MAKERNOTE_SIGNATURE)
            if found < 0:
                window = window[-len(MAKERNOTE_SIGNATURE) :]
                continue
            window = window[found:]
            found = 0
        if len(window) >= MAKERNOTE_WINDOW:
            break
    return makernote_content_identifier(window) if found == 0 else None


def makernote_content_identifier(note: bytes) -> str | None:
    """Tag 0x0011 of an Apple MakerNote (`note` starts with "Apple iOS\\0")."""
    if not note.startswith(MAKERNOTE_SIGNATURE) or len(note) < 16:
        return None
    order = {b"MM": ">", b"II": "<"}.get(note[12:14])
    if order is None:
        return None
    try:
        (count,) = struct.unpack_from(order + "H", note, 14)
        for entry in range(min(count, 256)):
            tag, kind, length, value = struct.unpack_from(order + "HHI4s", note, 16 + 12 * entry)
            if tag != CONTENT_IDENTIFIER_TAG or kind != 2:  # ASCII
                continue
            if length <= 4:
                return _clean(value[:length])
            (offset,) = struct.unpack(order + "I", value)
            if offset + length > len(note):
                return None
            return _clean(note[offset : offset + length])
    except struct.error:
        return None
    return None


def _boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, payload start, payload end) of the ISO-BMFF boxes in data[start:end]."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _meta_children(data: bytes, start: int, end: int) -> tuple[int, int]:
    """Where a meta box's children begin: ISO's meta is a FullBox (4 bytes of version and flags
    first), QuickTime's is not; the first child is a `hdlr` either way."""
    if data[start + 4 : start + 8] == b"hdlr":
        return start, end
    return start + 4, end


def moov_content_identifier(moov: bytes) -> str | None:
    """The `com.apple.quicktime.content.identifier` value in a moov box's payload."""
    metas = []
    for kind, start, end in _boxes(moov):
        if kind == b"meta":
            metas.append((start, end))
        elif kind == b"udta":
            metas += [(s, e) for k, s, e in _boxes(moov, start, end) if k == b"meta"]
    for start, end in metas:
        start, end = _meta_children(moov, start, end)
        keys, items = [], []
        for kind, child_start, child_end in _boxes(moov, start, end):
            if kind == b"keys" and child_end - child_start >= 8:
                (count,) = struct.unpack_from(">I", moov, child_start + 4)
                pos = child_start + 8
                for _ in range(min(count, 1024)):
                    if pos + 8 > child_end:
                        break
                    (size,) = struct.unpack_from(">I", moov, pos)
                    if size < 8:
                        break
                    keys.append(moov[pos + 8 : pos + size])
                    pos += size
            elif kind == b"ilst":
                items = list(_boxes(moov, child_start, child_end))
        if MOV_KEY not in keys:
            continue
        wanted = keys.index(MOV_KEY) + 1  # ilst items are named by 1-based key index
        for kind, item_start, item_end in items:
            if int.from_bytes(kind, "big") != wanted:
                continue
            for data_kind, data_start, data_end in _boxes(moov, item_start, item_end):
                if data_kind == b"data" and data_end - data_start > 8:
                    return _clean(moov[data_start + 8 : data_end])
    return None


def mov_content_identifier(read: Callable[[int, int], bytes], length: int) -> str | None:
    """The content identifier of a MOV of `length` bytes, reading only its top-level box
    headers and its moov box through `read(start, end)`; None when absent or unreadable."""
    pos = 0
    while pos + 8 <= length:
        head = read(pos, min(length, pos + 16))
        if len(head) < 8:
            return None
        size, kind = struct.unpack_from(">I4s", head)
        header = 8
        if size == 1 and len(head) >= 16:
            (size,) = struct.unpack_from(">Q", head, 8)
            header = 16
        elif size == 0:
            size = length - pos
        if size < header or pos + size > length:
            return None
        if kind == b"moov":
            if size > MOOV_LIMIT:
                return None
            return moov_content_identifier(read(pos + header, pos + size))
        pos += size
    return None
