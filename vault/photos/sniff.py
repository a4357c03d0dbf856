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
JPEG, PNG, WEBP = "image/jpeg", "image/png", "image/webp"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"avif"}
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
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        raise Rejected(
            "HEIC/AVIF photos cannot be read by this server yet. Export the photo as JPEG "
            "(on an iPhone: Settings › Camera › Formats › Most Compatible) and upload that."
        )
    raise Rejected(
        "Not a photo the vault can store: the file's content is not JPEG, PNG or WebP "
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

    def feed(self, chunk: bytes) -> None:
        start = self.size
        self.size += len(chunk)
        if len(self._head) < HEAD_LIMIT:
            self._head += chunk[: HEAD_LIMIT - len(self._head)]
        if self.media_type is None:
            self.media_type = _sniff_type(bytes(self._head))
        if self.media_type is not None and self.width is None:
            self._read_dimensions(final=False)
        if self.media_type == JPEG:
            self._track_jpeg_end(chunk, start)
        if len(chunk) >= _TAIL:
            self._tail = bytes(chunk[-_TAIL:])
        else:
            self._tail = (self._tail + chunk)[-_TAIL:]

    def _read_dimensions(self, *, final: bool) -> None:
        if self.media_type == WEBP:
            size = _webp_size(bytes(self._head))
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
            window, window_start = bytes(self._head), 0
            if self.size > len(self._head):  # the head is full: include this chunk too
                window = bytes(self._head) + chunk[len(self._head) - start :]
            found = window.find(b"\xff\xd9", max(0, self._scan_from - window_start))
        else:
            # The marker may straddle the previous chunk and this one.
            straddles = (
                start - 1 >= self._scan_from and self._tail[-1:] == b"\xff" and chunk[:1] == b"\xd9"
            )
            found = 0 if straddles else chunk.find(b"\xff\xd9", max(0, self._scan_from - start))
        if found != -1:
            self._jpeg_end_seen = True

    def finish(self) -> Identified:
        if self.size == 0:
            raise Rejected("The file is empty.")
        if self.media_type is None:
            self.media_type = _sniff_type(bytes(self._head).ljust(12, b"\0"))
        if self.width is None:
            self._read_dimensions(final=True)
        if not self._complete():
            raise Rejected(
                "This image is incomplete: the file ends before the image data does "
                "(was the copy or download cut short?)."
            )
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
        return False
