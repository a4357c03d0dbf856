"""Files as real cameras and phones write them, made up for the tests and benchmarks: HEIF
boxes in the order Samsung phones use, HEIF brands and codecs the server cannot decode, EXIF
with sub-seconds, offsets, impossible values and void GPS blocks, XMP packets and IPTC records."""

from __future__ import annotations

import io
import struct

from PIL import Image, TiffImagePlugin

from vaultdev.samples.pictures import picture

# EXIF tags (Pillow's ExifTags names) the builders below write.
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
DATE_TIME, DATE_TIME_ORIGINAL, DATE_TIME_DIGITIZED = 0x0132, 0x9003, 0x9004
OFFSET_TIME, OFFSET_TIME_ORIGINAL, OFFSET_TIME_DIGITIZED = 0x9010, 0x9011, 0x9012
SUB_SEC_TIME, SUB_SEC_TIME_ORIGINAL, SUB_SEC_TIME_DIGITIZED = 0x9290, 0x9291, 0x9292
EXPOSURE_TIME, F_NUMBER, ISO, FOCAL_LENGTH = 0x829A, 0x829D, 0x8827, 0x920A
GPS_LATITUDE_REF, GPS_LATITUDE, GPS_LONGITUDE_REF, GPS_LONGITUDE = 1, 2, 3, 4
GPS_ALTITUDE_REF, GPS_ALTITUDE, GPS_TIME_STAMP, GPS_STATUS, GPS_DATE_STAMP = 5, 6, 7, 9, 29


def rational(numerator: int, denominator: int) -> TiffImagePlugin.IFDRational:
    """A TIFF rational written as given, 0/0 included (Pillow keeps both numbers)."""
    return TiffImagePlugin.IFDRational(numerator, denominator)


def exif(*, ifd0: dict | None = None, sub: dict | None = None, gps: dict | None = None):
    """An Image.Exif with the given tags in IFD0, the Exif sub-IFD and the GPS IFD."""
    data = Image.Exif()
    for tag, value in (ifd0 or {}).items():
        data[tag] = value
    if sub:
        data.get_ifd(EXIF_IFD).update(sub)
    if gps:
        data.get_ifd(GPS_IFD).update(gps)
    return data


def xmp_packet(*, attributes: dict | None = None, elements: dict | None = None) -> bytes:
    """An XMP packet as cameras and Lightroom write it: properties as attributes of
    rdf:Description or as child elements (keys like "exif:DateTimeOriginal")."""
    attrs = "".join(f' {key}="{value}"' for key, value in (attributes or {}).items())
    children = "".join(f"<{key}>{value}</{key}>" for key, value in (elements or {}).items())
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:exif="http://ns.adobe.com/exif/1.0/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        ' xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"'
        f"{attrs}>{children}</rdf:Description>"
        "</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    ).encode()


def iptc_app13(records: dict[tuple[int, int], bytes]) -> bytes:
    """A JPEG APP13 segment (Photoshop image resource 0x0404) carrying IPTC-IIM records, e.g.
    {(2, 55): b"20190803", (2, 60): b"174510+0200"}."""
    iim = b"".join(
        b"\x1c" + bytes([record, dataset]) + struct.pack(">H", len(value)) + value
        for (record, dataset), value in records.items()
    )
    if len(iim) % 2:
        iim += b"\0"  # resources are padded to an even length
    resource = b"8BIM" + struct.pack(">H", 0x0404) + b"\0\0" + struct.pack(">I", len(iim)) + iim
    payload = b"Photoshop 3.0\0" + resource
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def jpeg(
    *,
    image: Image.Image | None = None,
    exif_data: Image.Exif | None = None,
    xmp: bytes | None = None,
    iptc: dict | None = None,
) -> bytes:
    """A JPEG with the given EXIF, XMP packet and IPTC records."""
    out = io.BytesIO()
    extra = {"xmp": xmp} if xmp else {}
    (image or picture(320, 240)).save(
        out, "JPEG", quality=85, exif=exif_data if exif_data is not None else Image.Exif(), **extra
    )
    data = out.getvalue()
    if iptc:
        data = data[:2] + iptc_app13(iptc) + data[2:]  # right after SOI, like Photoshop
    return data


# ---- ISO-BMFF (HEIF) boxes ------------------------------------------------------------------


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def full_box(kind: bytes, payload: bytes, version: int = 0) -> bytes:
    return box(kind, bytes([version, 0, 0, 0]) + payload)


def top_boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, whole box) of each top-level box (32-bit sizes: what pillow-heif writes)."""
    boxes, pos = [], 0
    while pos < len(data):
        size, kind = struct.unpack_from(">I4s", data, pos)
        boxes.append((kind, data[pos : pos + size]))
        pos += size
    return boxes


def _shift_item_locations(meta: bytes, delta: int) -> bytes:
    """The 'meta' box with every file offset in its 'iloc' box moved by delta bytes."""
    out = bytearray(meta)
    pos = 12  # past meta's header, version and flags
    while pos < len(meta):
        size, kind = struct.unpack_from(">I4s", meta, pos)
        if kind == b"iloc":
            _shift_iloc(out, pos + 8, delta)
        pos += size
    return bytes(out)


def _shift_iloc(out: bytearray, at: int, delta: int) -> None:
    version = out[at]
    offset_size, length_size = out[at + 4] >> 4, out[at + 4] & 15
    base_size, index_size = out[at + 5] >> 4, (out[at + 5] & 15) if version in (1, 2) else 0
    at += 6
    count_format = ">H" if version < 2 else ">I"
    (count,) = struct.unpack_from(count_format, out, at)
    at += struct.calcsize(count_format)

    def patch(position: int, width: int) -> None:
        if width:
            value = int.from_bytes(out[position : position + width], "big") + delta
            out[position : position + width] = value.to_bytes(width, "big")

    for _ in range(count):
        at += 2 if version < 2 else 4  # item id
        construction = 0
        if version in (1, 2):
            construction = struct.unpack_from(">H", out, at)[0] & 15
            at += 2
        at += 2  # data reference index
        base_at = at
        at += base_size
        (extents,) = struct.unpack_from(">H", out, at)
        at += 2
        if construction == 0 and base_size:
            patch(base_at, base_size)
        for _ in range(extents):
            at += index_size
            if construction == 0 and not base_size:
                patch(at, offset_size)
            at += offset_size + length_size


def heic_meta_last(data: bytes, *, padding: int = 0) -> bytes:
    """The HEIC laid out as Samsung phones write it: ftyp, a (large) mdat, then meta. The
    items' file offsets are moved with the mdat, so a decoder still finds the pictures; the
    mdat grows by `padding` bytes nobody points at."""
    boxes = dict(top_boxes(data))
    assert list(boxes) == [b"ftyp", b"meta", b"mdat"], list(boxes)
    ftyp, meta, mdat = boxes[b"ftyp"], boxes[b"meta"], boxes[b"mdat"]
    mdat = box(b"mdat", mdat[8:] + bytes(padding))
    return ftyp + mdat + _shift_item_locations(meta, -len(meta))


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    return box(b"ftyp", major + bytes(4) + b"".join(compatible))


def heif_meta(
    items: dict[int, bytes], *, primary: int = 1, tiles: dict[int, list[int]] | None = None
) -> bytes:
    """A 'meta' box declaring the items (id → item type), the primary item, which items a
    derived one (grid) is made of, and a 64 × 48 image extent."""
    hdlr = full_box(b"hdlr", bytes(4) + b"pict" + bytes(12) + b"\0")
    pitm = full_box(b"pitm", struct.pack(">H", primary))
    entries = b"".join(
        full_box(b"infe", struct.pack(">HH4s", item, 0, kind) + b"\0", version=2)
        for item, kind in items.items()
    )
    iinf = full_box(b"iinf", struct.pack(">H", len(items)) + entries)
    references = b"".join(
        box(b"dimg", struct.pack(">HH", source, len(ids)) + struct.pack(f">{len(ids)}H", *ids))
        for source, ids in (tiles or {}).items()
    )
    iref = full_box(b"iref", references)
    ispe = full_box(b"ispe", struct.pack(">II", 64, 48))
    iprp = box(b"iprp", box(b"ipco", ispe))
    return full_box(b"meta", hdlr + pitm + iinf + iref + iprp)
