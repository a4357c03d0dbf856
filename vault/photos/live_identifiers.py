"""The content identifier that ties the two halves of an iPhone Live Photo together, read from
each half's plaintext in the upload request's memory (vault/photos/live_photos.py pairs them).

- The still (HEIC or JPEG): Apple's MakerNote inside its EXIF, tag 0x0011 "ContentIdentifier"
  (ExifTool, Image::ExifTool::Apple). The MakerNote starts with "Apple iOS\\0", a version and a
  byte order, then one TIFF IFD whose offsets count from the MakerNote's start, so it is read
  where it is found, whatever the container (EXIF is stored uncompressed in both).
- The MOV: the QuickTime metadata key `com.apple.quicktime.content.identifier` in
  moov/meta (Apple) or moov/udta/meta (FFmpeg): a `keys` box names the keys, an `ilst` box
  holds one box per key index with a `data` box inside (QuickTime File Format, "Metadata").

Only what is needed is read (each read decrypts SPV1 chunks in the upload request): a JPEG's
marker segments up to its APP1 Exif segment (at the start), a HEIC's top-level box headers,
its meta box and the Exif item's extents (meta/iinf names it, meta/iloc says where it is);
a MOV's top-level box headers and its moov.

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
# Top-level boxes walked to find the moov: an iPhone's MOV has four or five (ftyp, wide, mdat,
# moov). Each step is a ranged read that decrypts a chunk: without a bound, a 64 MiB file of
# 8-byte boxes holds the upload request for minutes.
MOV_TOP_BOXES = 64
# A still's reads are capped too: a JPEG segment is at most 64 KiB and Exif must come first
# (after an optional JFIF APP0); an iPhone HEIC's meta box (its grid of tiles' item locations)
# is some KiB and its Exif item a few KiB.
STILL_SEGMENTS = 16
HEIC_META_LIMIT = 1024 * 1024
HEIC_EXIF_LIMIT = 256 * 1024
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
    headers and its moov box through `read(start, end)`; None when absent or unreadable (or
    not among the first MOV_TOP_BOXES boxes)."""
    pos = 0
    for _box in range(MOV_TOP_BOXES):
        if pos + 8 > length:
            return None
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


Read = Callable[[int, int], bytes]


def still_content_identifier_at(read: Read, length: int) -> str | None:
    """The ContentIdentifier of a JPEG or HEIC still of `length` bytes, reading through
    `read(start, end)` only its Exif (JPEG: the marker segments before the APP1 "Exif" one,
    at most STILL_SEGMENTS; HEIC: up to MOV_TOP_BOXES top-level box headers, the meta box up
    to HEIC_META_LIMIT bytes and the Exif item up to HEIC_EXIF_LIMIT). None when absent,
    malformed or past those bounds; never reads the whole picture."""
    head = read(0, min(length, 12))
    if head[:2] == b"\xff\xd8":
        exif = _jpeg_exif(read, length)
    elif head[4:8] == b"ftyp":
        exif = _heic_exif(read, length)
    else:
        return None
    if exif is None:
        return None
    found = exif.find(MAKERNOTE_SIGNATURE)
    return makernote_content_identifier(exif[found:]) if found >= 0 else None


def _jpeg_exif(read: Read, length: int) -> bytes | None:
    """The payload of a JPEG's APP1 Exif segment (ITU T.81 markers; Exif 2.3 §4.5.4)."""
    pos = 2
    for _segment in range(STILL_SEGMENTS):
        marker = read(pos, min(length, pos + 4))
        if len(marker) < 4 or marker[0] != 0xFF:
            return None
        kind = marker[1]
        if kind == 0xDA or 0xD0 <= kind <= 0xD9:  # start of scan or a marker without length
            return None
        (size,) = struct.unpack_from(">H", marker, 2)
        if size < 2:
            return None
        if kind == 0xE1:
            payload = read(pos + 4, min(length, pos + 2 + size))
            if payload.startswith(b"Exif\x00\x00"):
                return payload
        pos += 2 + size
    return None


def _top_box(read: Read, length: int, wanted: bytes, limit: int) -> bytes | None:
    """The payload of the first top-level box of type `wanted` (at most `limit` bytes),
    among the first MOV_TOP_BOXES."""
    pos = 0
    for _box in range(MOV_TOP_BOXES):
        if pos + 8 > length:
            return None
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
        if kind == wanted:
            return read(pos + header, pos + size) if size - header <= limit else None
        pos += size
    return None


def _heic_exif(read: Read, length: int) -> bytes | None:
    """The Exif item of a HEIC (ISO/IEC 23008-12: meta/iinf names the item type, meta/iloc
    gives its extents, in the file or in meta/idat)."""
    meta = _top_box(read, length, b"meta", HEIC_META_LIMIT)
    if meta is None or len(meta) < 4:
        return None
    children = {kind: (start, end) for kind, start, end in _boxes(meta, 4)}  # a FullBox
    if b"iinf" not in children or b"iloc" not in children:
        return None
    try:
        item = _exif_item_id(meta, *children[b"iinf"])
        if item is None:
            return None
        located = _item_extents(meta, *children[b"iloc"], item)
    except struct.error:
        return None
    if located is None:
        return None
    method, extents = located
    if sum(size for _offset, size in extents) > HEIC_EXIF_LIMIT:
        return None
    if method == 1:  # in the meta box's idat
        if b"idat" not in children:
            return None
        start, end = children[b"idat"]
        data = b"".join(meta[start + o : start + o + n] for o, n in extents)
        return data if all(start + o + n <= end for o, n in extents) else None
    if method != 0 or any(o + n > length for o, n in extents):
        return None
    return b"".join(read(o, o + n) for o, n in extents)


def _exif_item_id(meta: bytes, start: int, end: int) -> int | None:
    version = meta[start]
    count_size = 2 if version == 0 else 4
    pos = start + 4 + count_size
    for _kind, info_start, _info_end in _boxes(meta, pos, end):
        info_version = meta[info_start]
        if info_version < 2:
            continue
        id_size = 2 if info_version == 2 else 4
        item = int.from_bytes(meta[info_start + 4 : info_start + 4 + id_size], "big")
        kind = meta[info_start + 4 + id_size + 2 : info_start + 4 + id_size + 6]
        if kind == b"Exif":
            return item
    return None


def _item_extents(
    meta: bytes, start: int, end: int, wanted: int
) -> tuple[int, list[tuple[int, int]]] | None:
    """(construction method, [(offset, length)]) of item `wanted` in an iloc box."""
    version = meta[start]
    sizes = meta[start + 4] << 8 | meta[start + 5]
    offset_size, length_size = sizes >> 12, (sizes >> 8) & 0xF
    base_size, index_size = (sizes >> 4) & 0xF, (sizes & 0xF) if version in (1, 2) else 0
    pos = start + 6

    def number(size: int) -> int:
        nonlocal pos
        if pos + size > end:
            raise struct.error("iloc ends early")
        value = int.from_bytes(meta[pos : pos + size], "big")
        pos += size
        return value

    count = number(2 if version < 2 else 4)
    for _item in range(min(count, 65536)):
        item = number(2 if version < 2 else 4)
        method = number(2) & 0xF if version in (1, 2) else 0
        number(2)  # data_reference_index
        base = number(base_size)
        extents = []
        for _extent in range(number(2)):
            number(index_size)
            offset = number(offset_size)
            extents.append((base + offset, number(length_size)))
        if item == wanted:
            return method, extents
    return None
