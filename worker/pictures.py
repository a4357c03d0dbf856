"""From an original of any kind the upload check lets in to the one picture the later steps work
on (DESIGN §6, step 4): 8-bit RGB, upright, transparency composited onto BACKGROUND, colours in
sRGB or in the RGB profile the photo carries, and for an animation a representative frame.

Pillow opens our formats in many modes (16-bit grey, 1-bit, palette with partial alpha, CMYK,
colour-keyed RGB ...) and its plain `convert("RGB")` is wrong for several of them: it clips
16-bit samples (a ramp turns white), ignores colour keys, and keeps a profile that no longer
matches the pixels. Each case is handled here; the sources are the PNG 1.2 specification
(bit depths, tRNS) and ICC.1:2001-04 (profile header: data colour space at bytes 16–20).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import numpy as np
from PIL import ExifTags, Image, ImageCms, ImageStat, UnidentifiedImageError

from worker import thumbnails

log = logging.getLogger(__name__)

# What transparent parts of a picture are shown on, in every form of transparency: the page
# around thumbnails is light, and a photo's transparent margin should read as paper.
BACKGROUND = (255, 255, 255)

# Pillow's names for the formats the upload check lets in: nothing else is ever parsed.
PILLOW_FORMATS = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/webp": "WEBP",
    "image/heic": "HEIF",
}
# Formats whose several frames are an animation (APNG, animated WebP). A JPEG with several
# images (MPO: a depth map, a preview) or a HEIC with several top-level images is one photo.
ANIMATED_FORMATS = {"PNG", "WEBP"}

# An animation's thumbnail shows its first frame that is not blank. Blank: almost uniform,
# every channel's standard deviation (grey levels, 0–255) below this, *and* almost black or
# almost white. A black or white fade-in frame, or one wholly transparent (composited onto
# white), has a deviation of ~0 (a lossy encoder's noise stays under 1); a frame with any real
# content, even small text on black, is far above (1 % white pixels: ~25).
BLANK_FRAME_STDDEV = 3.0
# ... and every channel's mean this close to 0 (black) or to 255 (white). A flat colour is a
# picture, not a fade: a red frame after a black one is what the animation shows. (Lossy WebP
# turns pure black into 0–2 and pure white into 253–255: well inside.)
BLANK_FRAME_LEVEL = 16
# Frames are decoded in order; an animation that is blank this long has a blank thumbnail.
MAX_FRAMES_SEARCHED = 30
_BLANK_CHECK_SIDE = 64  # frames are judged on a copy about this small: uniformity survives it

# High-bit-depth samples are scaled to 8 bits this many rows at a time, so that a large
# 16-bit image needs a few MB besides itself, not four times its size in float arrays.
_BAND_ROWS = 256
# Full scale of each high-depth mode. "I" (32-bit) is how Pillow has long held 16-bit grey
# (and what I;16 converts to); "F" is the 0.0–1.0 convention of floating-point images.
_FULL_SCALE = {
    "I;16": 65535,
    "I;16L": 65535,
    "I;16B": 65535,
    "I;16N": 65535,
    "I": 65535,
    "F": 1.0,
}
# The data colour space (ICC header) that matches each mode a picture is in when its profile
# is applied.
_PROFILE_SPACE = {"RGB": "RGB ", "L": "GRAY", "CMYK": "CMYK", "LAB": "Lab "}
# Device classes an image's pixels can be described by (not a device link or abstract effect).
_IMAGE_CLASSES = {"scnr", "mntr", "prtr", "spac"}

_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_LAB = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))  # Pillow's LAB mode, D50

# EXIF orientation → the transposition that turns the picture upright (as ImageOps does).
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass
class Decoded:
    image: Image.Image  # RGB, 8 bits, upright; info["icc_profile"]: its RGB profile, else sRGB
    exif: Image.Exif
    orientation: int  # EXIF orientation of the original (the image is already upright)
    animated: bool


def picture_decode(data: bytes, media_type: str, *, max_pixels: int) -> Decoded:
    """Decode an original as the upload check identified it.

    Raises UnidentifiedImageError (a media type we do not parse, or not that format),
    Image.DecompressionBombError (more than max_pixels), and OSError, SyntaxError, ValueError
    or EOFError from the decoders for damaged data.
    """
    pillow_format = PILLOW_FORMATS.get(media_type)
    if pillow_format is None:
        raise UnidentifiedImageError(media_type)
    image = Image.open(io.BytesIO(data), formats=[pillow_format])
    if image.width * image.height > max_pixels:
        # The upload check read the size from the header; this is the decoder's own view.
        raise Image.DecompressionBombError(f"{image.width} × {image.height}")
    # JPEG decodes at 1/2, 1/4 or 1/8 scale when that still covers the largest picture made
    # (the preview): a 12-megapixel photo decodes in a quarter of the time.
    image.draft("RGB", thumbnails.preview_size(*image.size))
    if pillow_format == "PNG":
        _fix_png_colour_key(image, data)
    image.load()
    exif = image.getexif()
    orientation = exif.get(ExifTags.Base.Orientation, 1)
    animated = pillow_format in ANIMATED_FORMATS and getattr(image, "n_frames", 1) > 1
    picture = _representative_frame(image) if animated else picture_rgb(image)
    if orientation in _UPRIGHT:
        picture = picture.transpose(_UPRIGHT[orientation])  # (keeps info: the profile)
    return Decoded(image=picture, exif=exif, orientation=orientation, animated=animated)


def _fix_png_colour_key(image: Image.Image, data: bytes) -> None:
    """Pillow keeps a tRNS colour key as the file wrote it, in the file's bit depth, but gives
    1-, 2- and 4-bit grey as 0–255 and 16-bit RGB as 8 bits: put the key in the pixels' scale.
    (16-bit grey stays 16-bit, key and pixels alike.)"""
    key = image.info.get("transparency")
    if key is None or data[12:16] != b"IHDR" or image.mode not in ("L", "RGB"):
        return
    bit_depth = data[24]
    if image.mode == "L" and bit_depth < 8 and isinstance(key, int):
        image.info["transparency"] = key * 255 // (2**bit_depth - 1)
    elif image.mode == "RGB" and bit_depth == 16 and isinstance(key, tuple):
        # Only the top 8 bits of each sample survive Pillow's decoder, so the key matches
        # pixels that agree with it there.
        image.info["transparency"] = tuple(value >> 8 for value in key)


def picture_rgb(image: Image.Image) -> Image.Image:
    """The picture in 8-bit RGB, alpha composited onto BACKGROUND, with info holding only an
    RGB colour profile the pixels are in (none: sRGB). An 8-bit RGB picture is returned itself
    (no copy of a full-size image), its info replaced."""
    profile = image.info.get("icc_profile")
    colour, alpha = _eight_bits(image)
    rgb, embedded = _colour_managed(colour, profile)
    if alpha is not None and alpha.getextrema()[0] < 255:
        composite = Image.new("RGB", rgb.size, BACKGROUND)
        composite.paste(rgb, mask=alpha)
        rgb = composite
    rgb.info = {"icc_profile": embedded} if embedded else {}
    return rgb


def _eight_bits(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """(colour in L, RGB, CMYK or LAB at 8 bits, alpha as L or None), every transparency form
    (alpha channel, palette alpha, colour key) turned into the alpha."""
    mode = image.mode
    key = image.info.get("transparency")
    if mode in _FULL_SCALE:
        return _high_depth_grey(image, key)
    if mode in ("L", "1"):
        if key is None:
            return image.convert("L") if mode == "1" else image, None
        grey = image.convert("LA")  # Pillow applies the key (1-bit keys are given as 0/255)
        return grey.getchannel("L"), grey.getchannel("A")
    if mode in ("LA", "La"):
        grey = image.convert("LA") if mode == "La" else image
        return grey.getchannel("L"), grey.getchannel("A")
    if mode in ("CMYK", "LAB"):
        return image, None
    if mode == "RGB" and key is None:
        return image, None
    if mode in ("RGBA", "RGBa", "PA", "RGB") or (mode == "P" and key is not None):
        # Premultiplied, palette and key alpha become plain alpha (RGBA itself is not copied).
        rgba = image if mode == "RGBA" else image.convert("RGBA")
        return rgba.convert("RGB"), rgba.getchannel("A")
    return image.convert("RGB"), None  # P, YCbCr, HSV, RGBX: Pillow's conversion is exact


def _high_depth_grey(image: Image.Image, key) -> tuple[Image.Image, Image.Image | None]:
    """16-bit and wider grey scaled by its full range (65535 → 255, i.e. ÷ 257), never clipped;
    a colour key is matched in the original depth."""
    grey = Image.new("L", image.size)
    alpha = Image.new("L", image.size) if key is not None else None
    for top in range(0, image.height, _BAND_ROWS):
        box = (0, top, image.width, min(image.height, top + _BAND_ROWS))
        samples = np.asarray(image.crop(box))
        grey.paste(Image.fromarray(_to_eight_bits(samples, image.mode)), box)
        if alpha is not None:
            alpha.paste(Image.fromarray(np.where(samples == key, 0, 255).astype(np.uint8)), box)
    return grey, alpha


def _to_eight_bits(samples: np.ndarray, mode: str) -> np.ndarray:
    full_scale = _FULL_SCALE[mode]
    if mode == "F":
        scaled = np.nan_to_num(samples.astype(np.float32), nan=0.0) * (255 / full_scale)
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    # Integers: round(v × 255 / 65535) exactly, in integer arithmetic (a third of the time).
    wide = np.clip(samples, 0, full_scale).astype(np.uint32)
    return ((wide * 255 + full_scale // 2) // full_scale).astype(np.uint8)


def _colour_managed(colour: Image.Image, profile: bytes | None) -> tuple[Image.Image, bytes | None]:
    """(RGB pixels, the RGB profile they are in or None for sRGB).

    RGB with an RGB profile keeps both: a Display P3 or Adobe RGB photo keeps its gamut on a
    screen that has it. Grey, CMYK and Lab go through their profile to sRGB with LittleCMS:
    their profile cannot travel with RGB thumbnails (a browser would misapply it). A profile
    that does not fit the pixels (another colour space, unreadable) is dropped: the pixels are
    read as sRGB.
    """
    parsed = _profile_for(colour.mode, profile)
    if colour.mode == "RGB":
        return colour, profile if parsed is not None else None
    if parsed is None and colour.mode == "LAB":
        parsed = _LAB  # LAB without a profile: Pillow's own encoding of CIELAB (D50)
    if parsed is None:
        # Grey without a profile is sRGB grey; CMYK without one has no colorimetry at all,
        # and Pillow's (255 − C)(255 − K)/255 is what browsers and viewers show.
        return colour.convert("RGB"), None
    try:
        return ImageCms.profileToProfile(colour, parsed, _SRGB, outputMode="RGB"), None
    except ImageCms.PyCMSError as error:
        log.info("colour profile not applied (%s): the pixels are read as they are", error)
        if colour.mode == "LAB":
            return ImageCms.profileToProfile(colour, _LAB, _SRGB, outputMode="RGB"), None
        return colour.convert("RGB"), None


def _profile_for(mode: str, profile: bytes | None) -> ImageCms.ImageCmsProfile | None:
    """The embedded profile if LittleCMS reads it and it describes pixels of this mode."""
    if not profile:
        return None
    try:
        parsed = ImageCms.ImageCmsProfile(io.BytesIO(profile))
        space, device_class = parsed.profile.xcolor_space, parsed.profile.device_class
    except (OSError, ImageCms.PyCMSError, ValueError) as error:
        log.info("unreadable colour profile dropped (%s)", error)
        return None
    if space != _PROFILE_SPACE[mode] or device_class not in _IMAGE_CLASSES:
        log.info("a %r %s profile on %s pixels dropped", space, device_class, mode)
        return None
    return parsed


def _representative_frame(image: Image.Image) -> Image.Image:
    """The first frame that is not blank (`_is_blank`), else the first frame. A frame
    that fails to decode ends the search: it costs the animation a better thumbnail, not the
    photo its picture."""
    # Copies: picture_rgb replaces the info of an RGB frame, which the decoder still reads.
    first = picture_rgb(image.copy())
    if not _is_blank(first):
        return first
    for index in range(1, min(image.n_frames, MAX_FRAMES_SEARCHED)):
        try:
            image.seek(index)
            frame = picture_rgb(image.copy())
        except (OSError, SyntaxError, ValueError, EOFError):
            log.info("frame %d of an animation does not decode: its first frame is used", index)
            break
        if not _is_blank(frame):
            return frame
    return first


def _is_blank(frame: Image.Image) -> bool:
    """Whether an RGB frame is a fade frame: almost uniform and almost black or white."""
    small = frame.reduce(max(1, min(frame.size) // _BLANK_CHECK_SIDE))
    stat = ImageStat.Stat(small)
    if max(stat.stddev) >= BLANK_FRAME_STDDEV:
        return False
    return max(stat.mean) < BLANK_FRAME_LEVEL or min(stat.mean) > 255 - BLANK_FRAME_LEVEL
