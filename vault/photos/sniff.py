"""Checks an upload by its bytes, as they stream past: which image format it is, how many
pixels it claims, and whether the file is complete. Nothing is decoded here (the worker does
that); the point is to turn away what is clearly not a whole photo before it is stored.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

HEAD_LIMIT = 1024 * 1024  # bytes kept in memory (never on disk) to read the image header
_TAIL = 4096

# (media type, what to call it in a message)
JPEG, PNG, WEBP, HEIC = "image/jpeg", "image/png", "image/webp", "image/heic"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
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
    width: int
    height: int


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
        (box_size,) = struct.unpack_from(">I", head, 0)
        if len(head) < min(box_size, 64):
            return None
        brands = {head[i : i + 4] for i in range(8, min(box_size, 64), 4)} - {bytes(4)}
        if brands & _AVIF_BRANDS:
            raise Rejected(
                "AVIF images cannot be read by this server. Save the photo as JPEG, HEIC, PNG "
                "or WebP and upload that."
            )
        if head[8:12] in _HEIF_BRANDS:
            return HEIC
    raise Rejected(
        "Not a photo the vault can store: the file's content is not JPEG, HEIC, PNG or WebP "
        "(the vault checks what is inside a file, not its name)."
    )


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


def _boxes(data: bytes, start: int, end: int):
    """(type, payload start, payload end) of the ISO-BMFF boxes in data[start:end]; stops at a
    box that does not fit (not yet received)."""
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


def _heif_size(head: bytes) -> tuple[int, int] | None:
    """The largest image extent ('ispe') declared in the 'meta' box: the primary image (a grid
    on iPhones) is the largest. None while the meta box has not fully arrived."""
    for kind, start, end in _boxes(head, 0, len(head)):
        if kind != b"meta":
            continue
        sizes = []
        for child, c_start, c_end in _boxes(head, start + 4, end):  # meta is a full box
            if child != b"iprp":
                continue
            for container_kind, p_start, p_end in _boxes(head, c_start, c_end):
                if container_kind != b"ipco":
                    continue
                for prop, q_start, q_end in _boxes(head, p_start, p_end):
                    if prop == b"ispe" and q_end - q_start >= 12:
                        sizes.append(struct.unpack_from(">II", head, q_start + 4))
        if not sizes:
            raise Rejected("This HEIC image is damaged: it declares no image size.")
        return max(sizes, key=lambda size: size[0] * size[1])
    return None


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


class ImageSniffer:
    """Feed it the upload chunk by chunk; call finish() at the end.

    Raises Rejected (with a message for the user) as soon as the bytes show the file is not a
    supported photo, claims too many pixels, or — at finish() — is cut short. Each byte is
    looked at a bounded number of times, whatever the file: a hostile upload costs no more
    CPU than a photo of its size.
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
        self._box_at: int | None = 0  # HEIC: absolute offset of the next top-level box
        self._box_carry = b""
        self._boxes_seen = 0

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        start = self.size
        self.size += len(chunk)
        if len(self._head) < HEAD_LIMIT:
            self._head += chunk[: HEAD_LIMIT - len(self._head)]
        if self.media_type is None:
            self.media_type = _sniff_type(bytes(self._head))
            if self.media_type is not None:
                # Everything received so far is new to the format's own walker.
                chunk, start = self._received_so_far(chunk, start), 0
        if self.media_type == JPEG:
            self._jpeg.feed(chunk, start)
        elif self.media_type == HEIC:
            self._walk_boxes(chunk, start)
        if self.media_type is not None and self.width is None:
            self._read_dimensions(final=False)
        if len(chunk) >= _TAIL:
            self._tail = bytes(chunk[-_TAIL:])
        else:
            self._tail = (self._tail + chunk)[-_TAIL:]

    def _read_dimensions(self, *, final: bool) -> None:
        if self.media_type == JPEG:
            size = self._jpeg.size
            header_read = self._jpeg.scan_from is not None  # the frame header comes before
        else:
            head = bytes(self._head)
            read = {PNG: _png_size, WEBP: _webp_size, HEIC: _heif_size}[self.media_type]
            size = read(head)
            header_read = size is not None or len(head) >= HEAD_LIMIT
        if size is None:
            if final or header_read:
                raise Rejected("This image is damaged: its header cannot be read.")
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

    def _walk_boxes(self, chunk: bytes, start: int) -> None:
        """Follow the top-level boxes (ISO-BMFF) as they arrive, so that finish() can tell
        whether the file ends exactly where its last box does."""
        data, base = self._box_carry + chunk, start - len(self._box_carry)
        self._box_carry = b""
        while self._box_at is not None and base <= self._box_at < base + len(data):
            offset = self._box_at - base
            header = data[offset : offset + 16]
            large = header[:4] == b"\0\0\0\1"
            if len(header) < (16 if large else 8):
                self._box_carry = data[offset:]
                return
            (size,) = struct.unpack_from(">I", header, 0)
            if large:
                (size,) = struct.unpack_from(">Q", header, 8)
            elif size == 0:  # the last box runs to the end of the file
                self._box_at = None
                return
            self._boxes_seen += 1
            if size < (16 if large else 8) or self._boxes_seen > _MAX_TOP_BOXES:
                raise Rejected("This HEIC image is damaged (its structure is broken).")
            self._box_at += size

    def finish(self) -> Identified:
        if self.size == 0:
            raise Rejected("The file is empty.")
        if self.media_type is None:
            self.media_type = _sniff_type(bytes(self._head).ljust(12, b"\0"))
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
            return self._box_at is None or self._box_at == self.size
        return False
