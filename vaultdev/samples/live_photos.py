"""Live Photos as an iPhone writes them, made up for the tests: a still (JPEG) whose EXIF carries
an Apple MakerNote with the pair's content identifier (tag 0x0011), and a QuickTime MOV (HEVC,
like an iPhone's) whose `moov` metadata carries the same identifier under the key
`com.apple.quicktime.content.identifier`."""

from __future__ import annotations

import io
import struct
from fractions import Fraction

import av
from PIL import Image, ImageDraw

from vaultdev.samples.pictures import picture

EXIF_IFD, MAKER_NOTE = 0x8769, 0x927C
APPLE_CONTENT_IDENTIFIER = 0x0011  # ExifTool: Apple MakerNote tag 0x0011 "ContentIdentifier"
MOV_CONTENT_IDENTIFIER = "com.apple.quicktime.content.identifier"


def apple_makernote(content_identifier: str) -> bytes:
    """The MakerNote of an iPhone photo, reduced to the content identifier: the "Apple iOS"
    header (version 1, big-endian "MM"), then one TIFF IFD whose offsets count from the start
    of the MakerNote (ExifTool's Apple.pm reads it that way)."""
    header = b"Apple iOS\x00" + b"\x00\x01" + b"MM"
    value = content_identifier.encode("ascii") + b"\x00"
    entries = 2
    data_at = len(header) + 2 + 12 * entries + 4  # the string follows the IFD
    ifd = struct.pack(">H", entries)
    ifd += struct.pack(">HHI", 0x0001, 9, 1) + struct.pack(">i", 14)  # MakerNoteVersion
    if len(value) <= 4:  # TIFF keeps a value of up to 4 bytes in the entry itself
        ifd += struct.pack(">HHI", APPLE_CONTENT_IDENTIFIER, 2, len(value)) + value.ljust(4, b"\0")
        return header + ifd + struct.pack(">I", 0)
    ifd += struct.pack(">HHII", APPLE_CONTENT_IDENTIFIER, 2, len(value), data_at)
    ifd += struct.pack(">I", 0)
    return header + ifd + value


def live_still(
    content_identifier: str | None, *, size=(640, 480), seed: int = 7, heic: bool = False
) -> bytes:
    """A JPEG (or, with `heic`, a HEIC) as an iPhone's Live Photo still: EXIF (make, model)
    with the Apple MakerNote holding `content_identifier` (none when None)."""
    image = picture(size[0], size[1], seed=seed)
    exif = Image.Exif()
    exif[0x010F] = "Apple"
    exif[0x0110] = "iPhone 15"
    if content_identifier is not None:
        exif.get_ifd(EXIF_IFD)[MAKER_NOTE] = apple_makernote(content_identifier)
    out = io.BytesIO()
    if heic:
        import pillow_heif

        pillow_heif.register_heif_opener()
        image.save(out, "HEIF", quality=80, exif=exif)
    else:
        image.save(out, "JPEG", quality=90, exif=exif)
    return out.getvalue()


def live_mov(
    content_identifier: str | None,
    *,
    seconds: float = 1.5,
    size=(320, 240),
    rate: int = 15,
    codec: str = "libx265",
) -> bytes:
    """A QuickTime MOV as an iPhone's Live Photo video (HEVC by default, so that browsers need a
    rendition), with `content_identifier` in its metadata (none when None). The moov box is at
    the end, as the phone writes it."""
    out = io.BytesIO()
    options = {"movflags": "use_metadata_tags"}
    with av.open(out, mode="w", format="mov", options=options) as box:
        if content_identifier is not None:
            box.metadata[MOV_CONTENT_IDENTIFIER] = content_identifier
        stream = box.add_stream(codec, rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = (
            {"x265-params": "log-level=error"} if codec == "libx265" else {"preset": "ultrafast"}
        )
        count = int(seconds * rate)
        for i in range(count):
            frame_picture = Image.new("RGB", size, (30, 80, 140))
            draw = ImageDraw.Draw(frame_picture)
            x = (i * 9) % max(1, size[0] - 20)
            draw.rectangle((x, size[1] // 3, x + 20, size[1] // 3 + 40), fill=(250, 200, 0))
            frame = av.VideoFrame.from_image(frame_picture)
            frame.pts = i
            frame.time_base = Fraction(1, rate)
            box.mux(stream.encode(frame))
        box.mux(stream.encode())
    return out.getvalue()
