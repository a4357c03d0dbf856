"""Checks an upload by its bytes, as they stream past: which image format it is, how many
pixels it claims, and whether the file is complete. Nothing is decoded here (the worker does
that); the point is to turn away what is clearly not a whole photo before it is stored.
"""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass

from PIL import Image

HEAD_LIMIT = 1024 * 1024  # bytes kept in memory (never on disk) to read the image header
_TAIL = 4096

# (media type, what to call it in a message)
JPEG, PNG, WEBP, HEIC = "image/jpeg", "image/png", "image/webp", "image/heic"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_STANDALONE_MARKERS = {0x01, *range(0xD0, 0xD8)}


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


def _jpeg_scan_start(head: bytes) -> int | None:
    """Offset just past the first start-of-scan segment, walking the marker segments;
    None if the head does not reach it yet. Raises Rejected for a broken structure."""
    pos = 2
    while pos + 4 <= len(head):
        if head[pos] != 0xFF:
            raise Rejected("This JPEG file is damaged (its structure is broken).")
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        if marker == 0xD9:
            raise Rejected("This JPEG file is damaged: it ends before any image data.")
        (length,) = struct.unpack_from(">H", head, pos + 2)
        if length < 2:
            raise Rejected("This JPEG file is damaged (its structure is broken).")
        pos += 2 + length
        if marker == 0xDA:
            return pos if pos <= len(head) else None
    return None


class ImageSniffer:
    """Feed it the upload chunk by chunk; call finish() at the end.

    Raises Rejected (with a message for the user) as soon as the bytes show the file is not a
    supported photo, claims too many pixels, or — at finish() — is cut short.
    """

    def __init__(self, *, max_pixels: int) -> None:
        self.max_pixels = max_pixels
        self.size = 0
        self.media_type: str | None = None
        self.width: int | None = None
        self.height: int | None = None
        self._head = bytearray()
        self._tail = b""
        self._scan_from: int | None = None  # JPEG: absolute offset where entropy data starts
        self._jpeg_end_seen = False
        self._box_at: int | None = 0  # HEIC: absolute offset of the next top-level box
        self._box_carry = b""

    def feed(self, chunk: bytes) -> None:
        start = self.size
        self.size += len(chunk)
        if len(self._head) < HEAD_LIMIT:
            self._head += chunk[: HEAD_LIMIT - len(self._head)]
        identified_now = False
        if self.media_type is None:
            self.media_type = _sniff_type(bytes(self._head))
            identified_now = self.media_type is not None
        if self.media_type is not None and self.width is None:
            self._read_dimensions(final=False)
        if self.media_type == JPEG:
            self._track_jpeg_end(chunk, start)
        elif self.media_type == HEIC:
            if identified_now:  # walk everything received so far
                self._walk_boxes(self._received_so_far(chunk, start), 0)
            else:
                self._walk_boxes(chunk, start)
        if len(chunk) >= _TAIL:
            self._tail = bytes(chunk[-_TAIL:])
        else:
            self._tail = (self._tail + chunk)[-_TAIL:]

    def _read_dimensions(self, *, final: bool) -> None:
        if self.media_type in (WEBP, HEIC):
            head = bytes(self._head)
            size = _webp_size(head) if self.media_type == WEBP else _heif_size(head)
            if size is None:
                if final:
                    raise Rejected("This image is damaged: its header cannot be read.")
                return
            self._check_pixels(*size)
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(io.BytesIO(bytes(self._head))) as image:
                    width, height = image.size
        except Image.DecompressionBombError:
            raise Rejected(self._too_many_pixels_message(None, None)) from None
        except Exception:
            # The header is not complete yet (or never will be).
            if final or len(self._head) >= HEAD_LIMIT:
                raise Rejected("This image is damaged: its header cannot be read.") from None
            return
        self._check_pixels(width, height)

    def _check_pixels(self, width: int, height: int) -> None:
        if width * height > self.max_pixels:
            raise Rejected(self._too_many_pixels_message(width, height))
        if width < 1 or height < 1:
            raise Rejected("This image has no pixels.")
        self.width, self.height = width, height

    def _too_many_pixels_message(self, width: int | None, height: int | None) -> str:
        limit = f"{self.max_pixels / 1e6:g}"
        if width is None:
            return (
                f"This image has far too many pixels; the vault accepts up to {limit} megapixels."
            )
        return (
            f"This image is {width} × {height} pixels ({width * height / 1e6:.0f} megapixels); "
            f"the vault accepts up to {limit} megapixels."
        )

    def _track_jpeg_end(self, chunk: bytes, start: int) -> None:
        # The end-of-image marker FF D9 cannot occur inside entropy-coded data (an FF there is
        # always followed by 00 or a restart marker), so the first FF D9 after the first scan
        # starts is the end of the image. Trailing data after it (motion photos) is allowed.
        if self._jpeg_end_seen:
            return
        if self._scan_from is None:
            self._scan_from = _jpeg_scan_start(bytes(self._head))
            if self._scan_from is None:
                return
            found = self._received_so_far(chunk, start).find(b"\xff\xd9", self._scan_from)
        else:
            # The marker may straddle the previous chunk and this one.
            straddles = (
                start - 1 >= self._scan_from and self._tail[-1:] == b"\xff" and chunk[:1] == b"\xd9"
            )
            found = 0 if straddles else chunk.find(b"\xff\xd9", max(0, self._scan_from - start))
        if found != -1:
            self._jpeg_end_seen = True

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
            if size < (16 if large else 8):
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
            return self._jpeg_end_seen
        if self.media_type == PNG:
            return _PNG_END in self._tail
        if self.media_type == WEBP:
            (riff_size,) = struct.unpack_from("<I", self._head, 4)
            return self.size >= riff_size + 8
        if self.media_type == HEIC:
            return self._box_at is None or self._box_at == self.size
        return False
