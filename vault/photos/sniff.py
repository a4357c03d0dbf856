"""Checks an upload by its bytes, as they stream past: which image format it is, how many
pixels it claims, and whether the file is complete. Nothing is decoded here (the worker does
that); the point is to turn away what is clearly not a whole photo before it is stored.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

# HEIC: the most bytes of its 'meta' box (where the image size and codec are declared) kept in
# memory, never on disk, wherever in the file the box comes. Real ones are a few kilobytes.
HEAD_LIMIT = 1024 * 1024
_HEAD = 4096  # the first bytes of every upload, kept to tell its format and read PNG/WebP sizes
_TAIL = 4096

# (media type, what to call it in a message)
JPEG, PNG, WEBP, HEIC = "image/jpeg", "image/png", "image/webp", "image/heic"
# Videos (DESIGN §12): the container is told here, the codecs by the worker's decoder.
MP4, QUICKTIME, VIDEO_3GP, WEBM = "video/mp4", "video/quicktime", "video/3gpp", "video/webm"
VIDEO_TYPES = {MP4, QUICKTIME, VIDEO_3GP, WEBM}
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # Matroska and WebM (RFC 8794)
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"
# ISO-BMFF files (HEIF, AVIF, MP4, QuickTime, CR3) say what they are in the brands of their
# 'ftyp' box. Pillow's HEIF plugin (pillow-heif 1.8.1) opens a file only by its major brand, and
# only these; its libheif decodes HEVC and nothing else (no AV1, JPEG, VVC, H.264 or JPEG 2000
# decoder in the wheel), so the codec itself is checked in the 'meta' box too.
_HEIF_MAJOR_BRANDS = {
    *(b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"),
    *(b"mif1", b"msf1"),  # structural brands: the codec is learnt from the 'meta' box
}
_HEVC_BRANDS = _HEIF_MAJOR_BRANDS - {b"mif1", b"msf1"}
_FTYP_LIMIT = 1024  # brands read from the 'ftyp' box; real ones list fewer than ten
# Brands we recognise but cannot decode, by the name a message gives them. 'mif3' is the
# compact HEIF layout (a 'mini' box instead of 'meta'): Pillow's plugin refuses it.
_UNSUPPORTED_BRANDS = {
    **dict.fromkeys((b"avif", b"avis", b"avio"), "AVIF"),
    b"mif3": "Compact HEIF (mif3)",
    **dict.fromkeys((b"jpeg", b"jpgs"), "JPEG-compressed HEIF"),
    **dict.fromkeys((b"vvic", b"vvis"), "VVC (H.266) HEIF"),
    **dict.fromkeys((b"avci", b"avcs"), "H.264 (AVC) HEIF"),
    **dict.fromkeys((b"j2ki", b"j2is"), "JPEG 2000 HEIF"),
    b"crx ": "Canon CR3 raw",
}
_VIDEO_BRANDS = {
    *(b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"qt  "),
    *(b"M4V ", b"M4VH", b"M4VP", b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"dash", b"MSNV", b"XAVC"),
}
# Major brand → the media type the original is served with (what a <video> element expects).
_VIDEO_TYPE_OF_BRAND = {
    b"qt  ": QUICKTIME,
    **dict.fromkeys((b"3gp4", b"3gp5", b"3gp6", b"3g2a"), VIDEO_3GP),
}
_VIDEO_BROKEN = (
    "This video is incomplete or damaged: its file ends before its last part does "
    "(was the copy or download cut short?)."
)
# Item types of HEIF images: coded ones (by what a message calls them) and derived ones, whose
# pixels come from the coded items they reference ('dimg').
_HEVC_ITEM = b"hvc1"
_CODED_ITEMS = {
    b"av01": "AVIF",
    b"jpeg": "JPEG-compressed HEIF",
    b"vvc1": "VVC (H.266) HEIF",
    b"avc1": "H.264 (AVC) HEIF",
    b"j2k1": "JPEG 2000 HEIF",
    b"unci": "Uncompressed HEIF",
}
_DERIVED_ITEMS = {b"grid", b"iovl", b"iden"}
_HEIC_BROKEN = "This HEIC image is damaged (its structure is broken)."
_HEADER_UNREADABLE = "This image is damaged: its header cannot be read."
_NOT_A_PHOTO = (
    "Not a photo or video the vault can store: the file's content is not JPEG, HEIC, PNG or "
    "WebP, nor MP4, MOV, M4V, 3GP or WebM (the vault checks what is inside a file, not its name)."
)
_STANDALONE_MARKERS = {0x01, *range(0xD0, 0xD8)}
_SOF_MARKERS = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # not DHT, JPG, DAC
_FILL = re.compile(rb"\xff+")
# Real JPEGs have a few dozen segments before the image data; a stream of tiny ones is an
# attempt to make the server walk it.
_MAX_SEGMENTS = 4096
_MAX_TOP_BOXES = 1024  # HEIC: a photo has a handful (ftyp, meta, mdat, perhaps free, idat)
_JPEG_BROKEN = "This JPEG file is damaged (its structure is broken)."


class Rejected(Exception):
    """The upload is not a photo the vault takes; str(error) is shown to the user."""


@dataclass
class Identified:
    media_type: str
    width: int | None  # None for a video: its decoder reads the size
    height: int | None

    @property
    def is_video(self) -> bool:
        return self.media_type in VIDEO_TYPES


def _sniff_type(head: bytes) -> str | None:
    """The media type by magic bytes, None if more bytes are needed; Rejected if unknown."""
    if len(head) < 12:
        return None
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(_PNG_MAGIC):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp":
        return _bmff_type(head)
    if head.startswith(_EBML_MAGIC):
        return WEBM if b"webm" in head[:64] else _unsupported_matroska()
    raise Rejected(_NOT_A_PHOTO)


def _unsupported_matroska():
    raise Rejected("Matroska (.mkv) videos are not supported: upload MP4, MOV, M4V, 3GP or WebM.")


def _not_supported(what: str) -> Rejected:
    return Rejected(
        f"{what} are not supported yet. Save the photo as JPEG, HEIC, PNG or WebP and upload that."
    )


def _bmff_type(head: bytes) -> str | None:
    """HEIC, or Rejected naming what the 'ftyp' box says the file is; None while the box has
    not fully arrived."""
    (box_size,) = struct.unpack_from(">I", head, 0)
    end = min(box_size, _FTYP_LIMIT)
    if len(head) < end:
        return None
    major = head[8:12]
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    other_codecs = [_UNSUPPORTED_BRANDS[b] for b in sorted(compatible & _UNSUPPORTED_BRANDS.keys())]
    if major in _UNSUPPORTED_BRANDS:
        raise _not_supported(f"{_UNSUPPORTED_BRANDS[major]} images")
    if major in _HEIF_MAJOR_BRANDS:
        if other_codecs and major not in _HEVC_BRANDS and not compatible & _HEVC_BRANDS:
            # 'mif1' says only "HEIF"; an 'avif' beside it and no HEVC brand says the codec.
            raise _not_supported(f"{other_codecs[0]} images")
        return HEIC
    if major in _VIDEO_BRANDS:
        return _VIDEO_TYPE_OF_BRAND.get(major, MP4)
    if other_codecs:
        raise _not_supported(f"{other_codecs[0]} images")
    if compatible & (_HEIF_MAJOR_BRANDS | {b"mif2", b"miaf"}):
        # A HEIF under a major brand the decoder does not open ('miaf', 'mif2', ...).
        name = major.decode("ascii", "replace")
        raise _not_supported(
            f'HEIF images of type "{name}"' if name.isalnum() else "These HEIF images"
        )
    raise Rejected(_NOT_A_PHOTO)


def _webp_size(head: bytes) -> tuple[int, int] | None:
    """Canvas size from the first chunk of a WebP file (Pillow would need the whole file)."""
    if len(head) < 30:
        return None
    kind = head[12:16]
    if kind == b"VP8X":
        width = int.from_bytes(head[24:27], "little") + 1
        height = int.from_bytes(head[27:30], "little") + 1
    elif kind == b"VP8 ":
        if head[23:26] != b"\x9d\x01\x2a":
            raise Rejected("This WebP image is damaged (its header is broken).")
        width = int.from_bytes(head[26:28], "little") & 0x3FFF
        height = int.from_bytes(head[28:30], "little") & 0x3FFF
    elif kind == b"VP8L":
        if head[20] != 0x2F:
            raise Rejected("This WebP image is damaged (its header is broken).")
        bits = int.from_bytes(head[21:25], "little")
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    else:
        raise Rejected("This WebP image is damaged (its header is broken).")
    return width, height


def bmff_boxes(data: bytes, start: int = 0, end: int | None = None):
    """(type, payload start, payload end) of the ISO-BMFF boxes in data[start:end] (ISO/IEC
    14496-12 §4.2: 32-bit size, 64-bit when 1, to the end when 0); stops at a box that does
    not fit (not yet received, or malformed)."""
    end = len(data) if end is None else end
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _children(data: bytes, start: int, end: int) -> dict[bytes, tuple[int, int]]:
    """The first box of each type in data[start:end], as (payload start, payload end)."""
    found: dict[bytes, tuple[int, int]] = {}
    for kind, c_start, c_end in bmff_boxes(data, start, end):
        found.setdefault(kind, (c_start, c_end))
    return found


def _heif_meta(meta: bytes) -> tuple[int, int]:
    """(width, height) from a whole top-level 'meta' box, once its primary image is known to be
    HEVC-coded; Rejected naming the codec otherwise, or saying the box is damaged.

    The size is the largest image extent ('ispe'): the primary image (a grid on iPhones) is
    the largest."""
    header = 16 if meta[:4] == b"\0\0\0\1" else 8
    try:
        boxes = _children(meta, header + 4, len(meta))  # meta is a full box: skip version, flags
        _check_primary_codec(meta, boxes)
        sizes = []
        iprp = boxes.get(b"iprp")
        ipco = _children(meta, *iprp).get(b"ipco") if iprp else None
        for prop, q_start, q_end in bmff_boxes(meta, *ipco) if ipco else ():
            if prop == b"ispe" and q_end - q_start >= 12:
                sizes.append(struct.unpack_from(">II", meta, q_start + 4))
    except (struct.error, IndexError):  # a field runs past the end of its box
        raise Rejected(_HEADER_UNREADABLE) from None
    if not sizes:
        raise Rejected("This HEIC image is damaged: it declares no image size.")
    return max(sizes, key=lambda size: size[0] * size[1])


def _check_primary_codec(meta: bytes, boxes: dict[bytes, tuple[int, int]]) -> None:
    """Rejected unless the primary item ('pitm') is coded in HEVC, the one codec the decoder
    has, directly or through the tiles of a grid (iPhones), overlay or transformed image."""
    if b"pitm" not in boxes or b"iinf" not in boxes:
        raise Rejected(_HEADER_UNREADABLE)
    start, _end = boxes[b"pitm"]
    primary = struct.unpack_from(">H" if meta[start] == 0 else ">I", meta, start + 4)[0]
    types = _item_types(meta, *boxes[b"iinf"])
    references = _derived_from(meta, *boxes[b"iref"]) if b"iref" in boxes else {}
    to_check, seen, coded = [primary], set(), False
    while to_check:
        item = to_check.pop()
        if item in seen:
            continue
        seen.add(item)
        kind = types.get(item)
        if kind in _DERIVED_ITEMS:
            if not references.get(item):
                raise Rejected(_HEADER_UNREADABLE)
            to_check.extend(references[item])
        elif kind in _CODED_ITEMS:
            raise _not_supported(f"{_CODED_ITEMS[kind]} images")
        elif kind == _HEVC_ITEM:
            coded = True
        elif kind is None:  # referred to, never declared
            raise Rejected(_HEADER_UNREADABLE)
        else:
            raise Rejected(
                "This HEIF image is stored in a way the server cannot read (its picture is "
                "not HEVC-coded). Save the photo as JPEG, HEIC, PNG or WebP and upload that."
            )
    if not coded:  # derived images that only refer to each other
        raise Rejected(_HEADER_UNREADABLE)


def _item_types(meta: bytes, start: int, end: int) -> dict[int, bytes]:
    """Item id → item type (four letters) from the 'iinf' box's 'infe' entries (version 2 or
    3; the older ones carry no type and no decoder reads them as images)."""
    count_size = 2 if meta[start] == 0 else 4
    types = {}
    for kind, e_start, _e_end in bmff_boxes(meta, start + 4 + count_size, end):
        if kind != b"infe" or meta[e_start] not in (2, 3):
            continue
        if meta[e_start] == 2:
            item, _protection, item_type = struct.unpack_from(">HH4s", meta, e_start + 4)
        else:
            item, _protection, item_type = struct.unpack_from(">IH4s", meta, e_start + 4)
        types.setdefault(item, item_type)
    return types


def _derived_from(meta: bytes, start: int, end: int) -> dict[int, list[int]]:
    """Item id → the items it is derived from ('dimg' references in the 'iref' box)."""
    id_format = ">H" if meta[start] == 0 else ">I"
    id_size = struct.calcsize(id_format)
    references: dict[int, list[int]] = {}
    for kind, r_start, r_end in bmff_boxes(meta, start + 4, end):
        if kind != b"dimg":
            continue
        (source,) = struct.unpack_from(id_format, meta, r_start)
        (count,) = struct.unpack_from(">H", meta, r_start + id_size)
        first = r_start + id_size + 2
        if first + count * id_size > r_end:
            raise Rejected(_HEADER_UNREADABLE)
        references.setdefault(source, []).extend(
            struct.unpack_from(id_format, meta, first + i * id_size)[0] for i in range(count)
        )
    return references


def _png_size(head: bytes) -> tuple[int, int] | None:
    """Size from the IHDR chunk, which a PNG must start with."""
    if len(head) < 24:
        return None
    if head[12:16] != b"IHDR":
        raise Rejected("This PNG image is damaged (its header is broken).")
    return struct.unpack_from(">II", head, 16)


class _JpegWalker:
    """Follows a JPEG's marker segments as its bytes arrive (never looking at a byte twice):
    reads the frame size from the start-of-frame segment, finds where the first scan's data
    starts, and from there watches for the end-of-image marker."""

    def __init__(self) -> None:
        self.at = 2  # absolute offset of the next marker, after SOI
        self.carry = b""  # a marker header split by a chunk boundary
        self.segments = 0
        self.size: tuple[int, int] | None = None
        self.scan_from: int | None = None  # absolute offset where entropy-coded data starts
        self.ended = False
        self._last_byte = b""  # of the previous chunk: FF D9 may straddle two chunks

    def feed(self, chunk: bytes, start: int) -> None:
        if self.ended:
            return
        if self.scan_from is None:
            data, base = self.carry + chunk, start - len(self.carry)
            self.carry = b""
            self._walk(data, base)
        if self.scan_from is not None:
            self._find_end(chunk, start)
        self._last_byte = chunk[-1:]

    def _walk(self, data: bytes, base: int) -> None:
        while self.scan_from is None:
            offset = self.at - base
            if offset >= len(data):
                return  # the next marker is in a later chunk
            if data[offset] != 0xFF:
                raise Rejected(_JPEG_BROKEN)
            # Fill bytes (FF FF ...) may precede a marker: skip the run in one step.
            offset = _FILL.match(data, offset).end() - 1
            self.at = base + offset
            if offset + 2 > len(data):
                self.carry = data[offset:]
                return
            marker = data[offset + 1]
            self.segments += 1
            if self.segments > _MAX_SEGMENTS:
                raise Rejected(_JPEG_BROKEN)
            if marker in _STANDALONE_MARKERS:
                self.at += 2
                continue
            if marker == 0xD9:
                raise Rejected("This JPEG file is damaged: it ends before any image data.")
            needed = 9 if marker in _SOF_MARKERS else 4
            if offset + needed > len(data):
                self.carry = data[offset:]
                self.segments -= 1  # counted again when the rest arrives
                return
            (length,) = struct.unpack_from(">H", data, offset + 2)
            if length < needed - 2:
                raise Rejected(_JPEG_BROKEN)
            if marker in _SOF_MARKERS:
                if self.size is not None:
                    # One frame per image; a second one could declare another size than the
                    # decoder will use.
                    raise Rejected(_JPEG_BROKEN)
                height, width = struct.unpack_from(">HH", data, offset + 5)
                self.size = (width, height)
            self.at += 2 + length
            if marker == 0xDA:
                self.scan_from = self.at

    def _find_end(self, chunk: bytes, start: int) -> None:
        # The end-of-image marker FF D9 cannot occur inside entropy-coded data (an FF there is
        # always followed by 00 or a restart marker), so the first FF D9 after the first scan
        # starts is the end of the image. Trailing data after it (motion photos) is allowed.
        straddles = (
            start - 1 >= self.scan_from and self._last_byte == b"\xff" and chunk[:1] == b"\xd9"
        )
        if straddles or chunk.find(b"\xff\xd9", max(0, self.scan_from - start)) != -1:
            self.ended = True


def _box_header(header: bytes) -> tuple[int, bytes, int] | None:
    """(size, type, header length) of the ISO-BMFF box whose header starts `header` (up to 16
    bytes; size 0 means "to the end of the file", 1 announces a 64-bit size), or None when
    `header` is too short to tell (ISO/IEC 14496-12 §4.2)."""
    large = header[:4] == b"\0\0\0\1"
    length = 16 if large else 8
    if len(header) < length:
        return None
    size, kind = struct.unpack_from(">I4s", header, 0)
    if large:
        (size,) = struct.unpack_from(">Q", header, 8)
    return size, kind, length


class _BoxWalker:
    """Follows an ISO-BMFF file's top-level boxes as its bytes arrive (HEIC): checks that their
    sizes chain up to the end of the file, and keeps a copy of the one 'meta' box wherever it
    comes — before the image data as iPhones write it, or after a large 'mdat' as Samsung
    phones do. Nothing else is kept, so memory stays under HEAD_LIMIT whatever the file."""

    def __init__(self) -> None:
        self.at: int | None = 0  # absolute offset of the next box; None once a box runs to the end
        self.carry = b""  # a box header split by a chunk boundary
        self.count = 0
        self.meta = bytearray()
        self.meta_from: int | None = None  # absolute offset of the 'meta' box
        self.meta_to: int | None = None  # where it ends; None while it runs to the end of file
        self.kinds: set[bytes] = set()
        self.read = False  # the 'meta' box has been read (and its copy dropped)

    @property
    def meta_complete(self) -> bool:
        if self.read:
            return True
        return self.meta_to is not None and len(self.meta) == self.meta_to - self.meta_from

    def feed(self, chunk: bytes, start: int) -> None:
        data, base = self.carry + chunk, start - len(self.carry)
        self.carry = b""
        self._walk(data, base)
        self._keep_meta(data, base)

    def _walk(self, data: bytes, base: int) -> None:
        while self.at is not None and base <= self.at < base + len(data):
            offset = self.at - base
            header = _box_header(data[offset : offset + 16])
            if header is None:  # the header straddles two chunks
                self.carry = data[offset:]
                return
            size, kind, header_length = header
            self.count += 1
            if (size and size < header_length) or self.count > _MAX_TOP_BOXES:
                raise Rejected(_HEIC_BROKEN)
            self.kinds.add(kind)
            if kind == b"meta":
                if self.meta_from is not None:  # a file has one; two could disagree
                    raise Rejected(_HEIC_BROKEN)
                if size > HEAD_LIMIT:
                    raise Rejected(_HEADER_UNREADABLE)
                self.meta_from = self.at
                self.meta_to = self.at + size if size else None
            if size == 0:  # the last box runs to the end of the file
                self.at = None
                return
            self.at += size

    def _keep_meta(self, data: bytes, base: int) -> None:
        if self.meta_from is None or self.meta_complete:
            return
        kept_to = self.meta_from + len(self.meta)
        end = base + len(data) if self.meta_to is None else min(self.meta_to, base + len(data))
        if end > kept_to:
            self.meta += data[kept_to - base : end - base]
        if len(self.meta) > HEAD_LIMIT:
            raise Rejected(_HEADER_UNREADABLE)

    def complete(self, size: int) -> bool:
        """Whether the file ends exactly where its last box does."""
        if self.at is None and self.meta_from is not None and self.meta_to is None:
            self.meta_to = size  # the 'meta' box itself ran to the end
        return self.at is None or self.at == size

    def image_size(self) -> tuple[int, int]:
        """From the whole 'meta' box (call once complete); Rejected if there is none."""
        if not self.meta_complete:
            if b"moov" in self.kinds:  # tracks but no still image
                raise _not_supported("HEIF image sequences without a still image")
            raise Rejected(_HEADER_UNREADABLE)
        meta, self.meta, self.read = bytes(self.meta), bytearray(), True
        return _heif_meta(meta)


class _VideoBoxWalker:
    """Follows an MP4/QuickTime file's top-level boxes as its bytes arrive, keeping nothing but
    the offset of the next box: at the end it tells whether the sizes chain up to the end of
    the file (a cut-short copy does not) and whether the 'moov' box (the index of the tracks)
    is there. A box is at least 8 bytes, so the walk costs at most one step per 8 bytes."""

    def __init__(self) -> None:
        self.at: int | None = 0
        self.carry = b""
        self.kinds: set[bytes] = set()

    def feed(self, chunk: bytes, start: int) -> None:
        data, base = self.carry + chunk, start - len(self.carry)
        self.carry = b""
        while self.at is not None and base <= self.at < base + len(data):
            offset = self.at - base
            header = _box_header(data[offset : offset + 16])
            if header is None:  # the header straddles two chunks
                self.carry = data[offset:]
                return
            size, kind, header_length = header
            if size and size < header_length:
                raise Rejected("This video is damaged (its structure is broken).")
            self.kinds.add(kind)
            if size == 0:
                self.at = None
                return
            self.at += size

    def complete(self, size: int) -> bool:
        return (self.at is None or self.at == size) and b"moov" in self.kinds


class ImageSniffer:
    """Feed it the upload chunk by chunk; call finish() at the end.

    Raises Rejected (with a message for the user) as soon as the bytes show the file is not a
    supported photo, claims too many pixels, or — at finish() — is cut short. Each byte is
    looked at a bounded number of times, whatever the file: a hostile upload costs no more
    CPU than a photo of its size, and no more memory than HEAD_LIMIT and a few pages.
    """

    def __init__(self, *, max_pixels: int) -> None:
        self.max_pixels = max_pixels
        self.size = 0
        self.media_type: str | None = None
        self.width: int | None = None
        self.height: int | None = None
        self._head = bytearray()
        self._tail = b""
        self._jpeg = _JpegWalker()
        self._boxes = _BoxWalker()
        self._video_boxes = _VideoBoxWalker()

    @property
    def is_video(self) -> bool:
        return self.media_type in VIDEO_TYPES

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        start = self.size
        self.size += len(chunk)
        if len(self._head) < _HEAD:
            self._head += chunk[: _HEAD - len(self._head)]
        if self.media_type is None:
            self.media_type = _sniff_type(bytes(self._head))
            if self.media_type is not None:
                # Everything received so far is new to the format's own walker.
                chunk, start = self._received_so_far(chunk, start), 0
        if self.media_type == JPEG:
            self._jpeg.feed(chunk, start)
        elif self.media_type == HEIC:
            self._boxes.feed(chunk, start)
        elif self.media_type in (MP4, QUICKTIME, VIDEO_3GP):
            self._video_boxes.feed(chunk, start)
        # A video's size is read by the worker's decoder (and capped there).
        if self.media_type is not None and self.width is None and not self.is_video:
            self._read_dimensions(final=False)
        if len(chunk) >= _TAIL:
            self._tail = bytes(chunk[-_TAIL:])
        else:
            self._tail = (self._tail + chunk)[-_TAIL:]

    def _read_dimensions(self, *, final: bool) -> None:
        if self.media_type == JPEG:
            size = self._jpeg.size
            header_read = self._jpeg.scan_from is not None  # the frame header comes before
        elif self.media_type == HEIC:
            # Wherever the 'meta' box is; at the end, its absence is the answer.
            if not (final or self._boxes.meta_complete):
                return
            size, header_read = self._boxes.image_size(), True
        else:
            head = bytes(self._head)
            size = {PNG: _png_size, WEBP: _webp_size}[self.media_type](head)
            header_read = size is not None
        if size is None:
            if final or header_read:
                raise Rejected(_HEADER_UNREADABLE)
            return
        self._check_pixels(*size)

    def _check_pixels(self, width: int, height: int) -> None:
        if width * height > self.max_pixels:
            raise Rejected(self._too_many_pixels_message(width, height))
        if width < 1 or height < 1:
            raise Rejected("This image has no pixels.")
        self.width, self.height = width, height

    def _too_many_pixels_message(self, width: int, height: int) -> str:
        return (
            f"This image is {width} × {height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"the vault accepts up to {self.max_pixels / 1e6:g} megapixels."
        )

    def _received_so_far(self, chunk: bytes, start: int) -> bytes:
        """Every byte so far: the head, plus the rest of this chunk if the head is full."""
        head = bytes(self._head)
        return head if self.size <= len(head) else head + chunk[len(head) - start :]

    def finish(self) -> Identified:
        if self.size == 0:
            raise Rejected("The file is empty.")
        if self.media_type is None:
            self.media_type = _sniff_type(bytes(self._head).ljust(12, b"\0"))
        if self.is_video:
            if not self._complete():
                raise Rejected(_VIDEO_BROKEN)
            return Identified(self.media_type, None, None)
        if not self._complete():
            raise Rejected(
                "This image is incomplete: the file ends before the image data does "
                "(was the copy or download cut short?)."
            )
        if self.width is None:
            self._read_dimensions(final=True)
        assert self.media_type and self.width and self.height
        return Identified(self.media_type, self.width, self.height)

    def _complete(self) -> bool:
        if self.media_type == JPEG:
            return self._jpeg.ended
        if self.media_type == PNG:
            return _PNG_END in self._tail
        if self.media_type == WEBP:
            (riff_size,) = struct.unpack_from("<I", self._head, 4)
            return self.size >= riff_size + 8
        if self.media_type == HEIC:
            return self._boxes.complete(self.size)
        if self.media_type == WEBM:
            return True  # EBML sizes may be unknown (live recordings): the worker's decode tells
        if self.media_type in (MP4, QUICKTIME, VIDEO_3GP):
            return self._video_boxes.complete(self.size)
        return False
