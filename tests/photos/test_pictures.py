"""Thumbnails and previews that look like the original (issue 13, items 1–4), for every bit
depth and mode, every form of transparency, colour profiles, and animations.

Each kind's files are made here, uploaded as a user would, processed in this process, and the
decrypted thumbnails checked: pixel colours at chosen points, and the ICC colour space each one
carries. Modes that none of our formats can produce are checked on the decode function itself.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass

import numpy as np
import pillow_heif
import pytest
from django.urls import reverse
from PIL import Image, ImageCms

from tests.photos import picture_files as files
from tests.photos.conftest import run_jobs
from tests.photos.picture_files import GREY, GREY_ALPHA, PALETTE, RGB, RGB_ALPHA, png_raw
from tests.photos.uploads import upload
from tests.users import PASSWORD
from vault.accounts.services import keys_unlock_with_password
from vault.photos.blobs import blob_open
from vault.photos.models import Photo
from vaultdev.samples import icc
from worker import pictures

WHITE = pictures.BACKGROUND  # every transparent pixel must come out as this
TOLERANCE = 6  # grey levels: JPEG (quality 82) and resampling move a ramp or a flat area this much
LOSSY = 14  # ...and this much after a lossy WebP or HEIC original
COLOUR = (40, 90, 200)  # an opaque colour far from the background
GREY_LEVEL = 60
# Points across the width, each inside a step of the 2-, 4- and 16-level ramps (never on an edge)
RAMP_POINTS = [(i + 0.5) / 16 for i in (1, 5, 10, 14)]
THIRDS = (1 / 6, 1 / 2, 5 / 6)  # the centres of the left, middle and right bands


@dataclass
class Vault:
    client: object
    owner: object

    def process(self, *named_files: tuple[str, bytes]) -> dict[str, Photo]:
        """Upload the files in one batch as the page does, process them, return them by name."""
        outcomes = upload(self.client, *named_files)
        assert [o["status"] for o in outcomes] == ["stored"] * len(named_files), outcomes
        assert set(run_jobs()) == {"ready"}
        return {
            name: Photo.objects.get(pk=outcome["photo"])
            for (name, _), outcome in zip(named_files, outcomes, strict=True)
        }

    def pictures(self, photo: Photo) -> dict[str, Image.Image]:
        """The photo's decrypted thumbnail and preview, each checked to be an 8-bit RGB JPEG."""
        private_key = keys_unlock_with_password(self.owner, PASSWORD).private_key
        out = {}
        for variant in ("thumb", "preview"):
            with blob_open(photo.blobs.get(variant=variant), private_key=private_key) as reader:
                image = Image.open(io.BytesIO(reader.read_all()))
            assert (image.format, image.mode) == ("JPEG", "RGB"), (photo, variant)
            out[variant] = image
        return out


@pytest.fixture
def vault(owner_client, owner, worker_key, settings, tmp_path):
    settings.VAULT_MODELS_DIR = tmp_path / "no-models"  # tags are not what is tested here
    return Vault(owner_client, owner)


def at(image: Image.Image, x: float, y: float = 0.5) -> tuple[int, int, int]:
    """The pixel at a fraction of the width and height."""
    return image.getpixel((min(int(x * image.width), image.width - 1), int(y * image.height)))


def close(actual, expected, tolerance: int = TOLERANCE) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


def grey(x: float, levels: int) -> int:
    """The level a `levels`-step black-to-white ramp has at fraction x of its width."""
    return round(255 * min(int(x * levels), levels - 1) / (levels - 1))


def over_white(colour, alpha: int) -> tuple[int, ...]:
    return tuple(
        round((c * alpha + w * (255 - alpha)) / 255) for c, w in zip(colour, WHITE, strict=True)
    )


def check_points(vault: Vault, photos: dict, expectations: dict, tolerances: dict) -> None:
    """expectations: file name → {(x, y): colour}; every thumbnail and preview is checked."""
    wrong = []
    for name, points in expectations.items():
        for variant, image in vault.pictures(photos[name]).items():
            for (x, y), colour in points.items():
                actual = at(image, x, y)
                if not close(actual, colour, tolerances.get(name, TOLERANCE)):
                    wrong.append(f"{name} {variant} at {x:.2f}: {actual}, expected {colour}")
    assert not wrong, "\n".join(wrong)


# 1. High bit depth and every mode ----------------------------------------------------------


def _ramp_16() -> np.ndarray:
    return files.ramp(65536)


def high_depth_files() -> dict[str, tuple[bytes, callable]]:
    """file name → (bytes, x → the colour the thumbnail must have there)."""
    r16 = _ramp_16()
    opaque16 = np.full_like(r16, 65535)
    half16 = np.full_like(r16, 0x8000)
    channels = np.stack([r16, 65535 - r16, half16], axis=-1)

    def grey_ramp(x):
        return (grey(x, 65536),) * 3

    def rgb_ramp(x):
        return (grey(x, 65536), 255 - grey(x, 65536), 128)

    heic_rgb = pillow_heif.from_bytes(
        mode="RGB;16", size=(files.WIDTH, files.HEIGHT), data=channels.astype("<u2").tobytes()
    )
    heic_rgb_out = io.BytesIO()
    heic_rgb.save(heic_rgb_out, quality=-1)  # 10 bits per sample, as phones write HDR photos
    palette = bytes(v for i in range(16) for v in (17 * i, 255 - 17 * i, 0))
    cmyk = Image.merge(
        "CMYK",
        [
            Image.new("L", (files.WIDTH, files.HEIGHT), 0),
            Image.fromarray(files.ramp(256).astype(np.uint8)),
            Image.fromarray(files.ramp(256).astype(np.uint8)),
            Image.new("L", (files.WIDTH, files.HEIGHT), 0),
        ],
    )
    return {
        "grey-16.png": (png_raw(r16[..., None], 16, GREY), grey_ramp),
        "grey-alpha-16.png": (png_raw(np.stack([r16, opaque16], -1), 16, GREY_ALPHA), grey_ramp),
        "rgb-16.png": (png_raw(channels, 16, RGB), rgb_ramp),
        "rgba-16.png": (png_raw(np.dstack([channels, opaque16]), 16, RGB_ALPHA), rgb_ramp),
        "grey-8.png": (png_raw(files.ramp(256)[..., None], 8, GREY), lambda x: (grey(x, 256),) * 3),
        "grey-4.png": (png_raw(files.ramp(16)[..., None], 4, GREY), lambda x: (grey(x, 16),) * 3),
        "grey-2.png": (png_raw(files.ramp(4)[..., None], 2, GREY), lambda x: (grey(x, 4),) * 3),
        "grey-1.png": (png_raw(files.ramp(2)[..., None], 1, GREY), lambda x: (grey(x, 2),) * 3),
        "palette-4.png": (
            png_raw(files.ramp(16)[..., None], 4, PALETTE, palette=palette),
            lambda x: (grey(x, 16), 255 - grey(x, 16), 0),
        ),
        "grey.jpg": (
            files.saved(Image.fromarray(files.ramp(256).astype(np.uint8)), "JPEG", quality=95),
            lambda x: (grey(x, 256),) * 3,
        ),
        # No profile: Pillow's (255 − C)(255 − K)/255, what viewers show for profile-less CMYK
        "cmyk.jpg": (
            files.saved(cmyk, "JPEG", quality=95),
            lambda x: (255, 255 - grey(x, 256), 255 - grey(x, 256)),
        ),
        "grey-16.heic": (
            files.saved(Image.fromarray(r16.astype(np.uint16)), "HEIF", quality=-1),
            grey_ramp,
        ),
        "rgb-10.heic": (heic_rgb_out.getvalue(), rgb_ramp),
    }


@pytest.mark.django_db
def test_every_bit_depth_and_mode_gives_a_picture_like_the_original(vault):
    """A 16-bit black-to-white ramp stays a ramp (it turned white: 16-bit values were clipped),
    and so does every other mode our formats open in."""
    made = high_depth_files()
    # What Pillow opens them as: each mode the worker must handle is really among them.
    modes = {name: Image.open(io.BytesIO(data)).mode for name, (data, _) in made.items()}
    assert {"I;16", "RGB", "RGBA", "L", "1", "P", "CMYK"} <= set(modes.values()), modes
    assert modes["grey-16.png"] == modes["grey-16.heic"] == "I;16"
    photos = vault.process(*[(name, data) for name, (data, _) in made.items()])
    expectations = {
        name: {(x, 0.5): colour_at(x) for x in RAMP_POINTS} for name, (_, colour_at) in made.items()
    }
    check_points(vault, photos, expectations, {"rgb-10.heic": LOSSY, "grey-16.heic": LOSSY})


@pytest.mark.parametrize(
    ("mode", "samples", "expected"),
    [
        # 16-bit samples in every byte order Pillow names, and in 32-bit "I": 65535 → 255 (÷ 257)
        ("I;16B", [0, 257 * 64, 32896, 65535], [0, 64, 128, 255]),
        ("I;16L", [0, 257 * 64, 32896, 65535], [0, 64, 128, 255]),
        ("I;16N", [0, 257 * 64, 32896, 65535], [0, 64, 128, 255]),
        ("I", [0, 257 * 64, 32896, 65535], [0, 64, 128, 255]),
        ("F", [0.0, 0.25, 0.5, 1.0], [0, 64, 128, 255]),  # 0.0–1.0
    ],
)
def test_wide_grey_modes_are_scaled_by_their_range_not_clipped(mode, samples, expected):
    dtype = {"I;16B": ">u2", "I;16L": "<u2", "I;16N": "=u2", "I": "<i4", "F": "<f4"}[mode]
    image = Image.frombytes(mode, (4, 1), np.array(samples, dtype=dtype).tobytes())
    rgb = pictures.picture_rgb(image)
    assert rgb.mode == "RGB"
    assert [rgb.getpixel((x, 0)) for x in range(4)] == [(v, v, v) for v in expected]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("RGB", (2, 2), (200, 40, 90)).convert("YCbCr"), (200, 40, 90)),
        (Image.new("HSV", (2, 2), (0, 255, 255)), (255, 0, 0)),
        (Image.new("RGBX", (2, 2), (200, 40, 90, 0)), (200, 40, 90)),
        (Image.new("RGBa", (2, 2), (100, 20, 45, 128)), over_white((199, 40, 90), 128)),
        (Image.new("La", (2, 2), (30, 128)), over_white((60, 60, 60), 128)),
        (Image.new("CMYK", (2, 2), (0, 0, 0, 128)), (127, 127, 127)),
        (Image.new("CMYK", (2, 2), (128, 0, 0, 0)), (127, 255, 255)),
    ],
    ids=["YCbCr", "HSV", "RGBX", "RGBa", "La", "CMYK-K", "CMYK-C"],
)
def test_other_modes_come_out_in_their_colours(image, expected):
    assert close(pictures.picture_rgb(image).getpixel((0, 0)), expected, 2)


def test_lab_pixels_go_through_cielab_to_srgb():
    """Pillow's LAB mode (L 0–255, a and b offset by 128) is CIELAB, not RGB in disguise."""
    srgb, lab = ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB")
    patches = Image.new("RGB", (3, 1))
    for x, colour in enumerate([(255, 0, 0), (128, 128, 128), (40, 90, 200)]):
        patches.putpixel((x, 0), colour)
    as_lab = ImageCms.profileToProfile(patches, srgb, lab, outputMode="LAB")
    rgb = pictures.picture_rgb(as_lab)
    for x in range(3):
        assert close(rgb.getpixel((x, 0)), patches.getpixel((x, 0)), 6)


def test_palette_with_an_alpha_channel_pa():
    image = Image.new("PA", (2, 1))
    image.putpalette([0, 0, 0, *COLOUR])
    image.putpixel((0, 0), (0, 0))
    image.putpixel((1, 0), (1, 128))
    rgb = pictures.picture_rgb(image)
    assert rgb.getpixel((0, 0)) == WHITE
    assert close(rgb.getpixel((1, 0)), over_white(COLOUR, 128), 1)


@pytest.mark.django_db
def test_a_damaged_16_bit_png_fails_with_the_clear_message(vault):
    """The structure is whole (the upload check takes it), the compressed pixels are not."""
    good = png_raw(_ramp_16()[..., None], 16, GREY)
    start = good.index(b"IDAT") + 4
    broken = good[:start] + b"\x00" * 64 + good[start + 64 :]
    outcomes = upload(vault.client, ("broken-16.png", broken))
    assert outcomes[0]["status"] == "stored"
    assert run_jobs() == ["failed"]
    assert "damaged or incomplete" in Photo.objects.get().failure_reason


@pytest.mark.django_db
def test_a_16_bit_png_over_the_pixel_limit_is_refused_by_the_worker(vault, settings):
    upload(vault.client, ("big-16.png", png_raw(_ramp_16()[..., None], 16, GREY)))
    settings.VAULT_MAX_PIXELS = files.WIDTH * files.HEIGHT - 1  # lowered since the upload
    assert run_jobs() == ["failed"]
    assert "too many pixels" in Photo.objects.get().failure_reason


@pytest.mark.django_db
def test_re_tagging_without_a_stored_preview_decodes_the_original_as_the_pipeline_does(vault):
    """The update job tags from the preview; without one it reads the original, which must
    then look like the original too (it was convert("RGB"): a white 16-bit ramp)."""
    from vault.photos.blobs import original_data_key
    from worker.update import _input_image

    photo = vault.process(("grey-16.png", png_raw(_ramp_16()[..., None], 16, GREY)))["grey-16.png"]
    photo.blobs.filter(variant="preview").delete()
    private_key = keys_unlock_with_password(vault.owner, PASSWORD).private_key
    image = _input_image(photo, original_data_key(photo, private_key=private_key))
    assert image.mode == "RGB"
    assert [at(image, x)[0] for x in RAMP_POINTS] == [grey(x, 65536) for x in RAMP_POINTS]


# 2. Transparency in every form ---------------------------------------------------------------


def _rgb_key(key) -> bytes:
    return b"".join(v.to_bytes(2, "big") for v in key)


def transparency_files() -> dict[str, tuple[bytes, tuple]]:
    """file name → (bytes, the colours of its left, middle and right bands in a thumbnail).
    The transparent parts hold black or a key colour underneath: shown as such, it is a bug."""
    c16 = tuple(v * 257 for v in COLOUR)
    g = GREY_LEVEL
    blend = over_white(COLOUR, 128)
    grey_blend = over_white((g, g, g), 128)
    rgba8 = files.thirds((0, 0, 0, 0), (*COLOUR, 128), (*COLOUR, 255))
    rgba_image = Image.fromarray(rgba8.astype(np.uint8), "RGBA")
    palette = bytes([0, 0, 0, *COLOUR, 200, 40, 90, 10, 200, 10])
    key16 = (0x1234, 0x5678, 0x9ABC)
    return {
        # tRNS colour keys: RGB 8 and 16 bits; grey 1, 4, 8 and 16 bits. The middle band is
        # one level off the key: it must stay opaque.
        "key-rgb-8.png": (
            png_raw(files.thirds((0, 0, 0), (0, 0, 1), COLOUR), 8, RGB, trns=_rgb_key((0, 0, 0))),
            (WHITE, (0, 0, 1), COLOUR),
        ),
        "key-rgb-16.png": (
            png_raw(files.thirds(key16, (0x2000,) * 3, c16), 16, RGB, trns=_rgb_key(key16)),
            (WHITE, (32, 32, 32), COLOUR),
        ),
        "key-grey-1.png": (
            png_raw(files.thirds((0,), (1,), (1,)), 1, GREY, trns=_rgb_key((0,))),
            (WHITE, WHITE, WHITE),
        ),
        "key-grey-4.png": (
            png_raw(files.thirds((3,), (1,), (4,)), 4, GREY, trns=_rgb_key((3,))),
            (WHITE, (17,) * 3, (68,) * 3),
        ),
        "key-grey-8.png": (
            png_raw(files.thirds((0,), (1,), (g,)), 8, GREY, trns=_rgb_key((0,))),
            (WHITE, (1,) * 3, (g,) * 3),
        ),
        "key-grey-16.png": (
            png_raw(
                files.thirds((0x1234,), (0x1235,), (g * 257,)), 16, GREY, trns=_rgb_key((0x1234,))
            ),
            (WHITE, (18,) * 3, (g,) * 3),
        ),
        # Palette alpha, partial (128) included; entries past the tRNS list are opaque.
        "palette-8.png": (
            png_raw(
                files.thirds((0,), (1,), (2,)), 8, PALETTE, palette=palette, trns=b"\0\x80\xff"
            ),
            (WHITE, blend, (200, 40, 90)),
        ),
        "palette-2.png": (
            png_raw(files.thirds((0,), (1,), (3,)), 2, PALETTE, palette=palette, trns=b"\0\x80"),
            (WHITE, blend, (10, 200, 10)),
        ),
        # Alpha channels of 8 and 16 bits
        "rgba-8.png": (png_raw(rgba8, 8, RGB_ALPHA), (WHITE, blend, COLOUR)),
        "rgba-16.png": (
            png_raw(files.thirds((0, 0, 0, 0), (*c16, 128 * 257), (*c16, 65535)), 16, RGB_ALPHA),
            (WHITE, blend, COLOUR),
        ),
        "grey-alpha-8.png": (
            png_raw(files.thirds((0, 0), (g, 128), (g, 255)), 8, GREY_ALPHA),
            (WHITE, grey_blend, (g,) * 3),
        ),
        "grey-alpha-16.png": (
            png_raw(files.thirds((0, 0), (g * 257, 128 * 257), (g * 257, 65535)), 16, GREY_ALPHA),
            (WHITE, grey_blend, (g,) * 3),
        ),
        # WebP alpha, lossless and lossy; HEIC alpha
        "alpha-lossless.webp": (
            files.saved(rgba_image, "WEBP", lossless=True),
            (WHITE, blend, COLOUR),
        ),
        "alpha-lossy.webp": (files.saved(rgba_image, "WEBP", quality=90), (WHITE, blend, COLOUR)),
        "alpha.heic": (files.saved(rgba_image, "HEIF", quality=90), (WHITE, blend, COLOUR)),
    }


@pytest.mark.django_db
def test_every_form_of_transparency_shows_the_same_background(vault):
    made = transparency_files()
    photos = vault.process(*[(name, data) for name, (data, _) in made.items()])
    expectations = {
        name: dict(zip([(x, 0.5) for x in THIRDS], bands, strict=True))
        for name, (_, bands) in made.items()
    }
    lossy = {"alpha-lossy.webp": LOSSY, "alpha.heic": LOSSY}
    check_points(vault, photos, expectations, lossy)


def test_a_sixteen_bit_grey_colour_key_matches_exactly():
    """Keys are matched in the samples' own depth: 0x1235 is not the key 0x1234."""
    image = Image.frombytes("I;16", (2, 1), np.array([0x1234, 0x1235], "<u2").tobytes())
    image.info["transparency"] = 0x1234
    rgb = pictures.picture_rgb(image)
    assert rgb.getpixel((0, 0)) == WHITE and rgb.getpixel((1, 0)) == (18, 18, 18)


# 3. Colour profiles ------------------------------------------------------------------------


def profile_files() -> dict[str, tuple[bytes, bytes | None, tuple]]:
    """file name → (bytes, the profile its thumbnails must embed (None: none, sRGB), the
    colours of its left, middle and right bands)."""
    size = (files.WIDTH, files.HEIGHT)
    p3, adobe, gray, cmyk = icc.display_p3(), icc.adobe_rgb(), icc.linear_gray(), icc.swapped_cmyk()
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    patch = (200, 100, 50)
    rgb = Image.new("RGB", size, patch)
    rgba = Image.fromarray(
        files.thirds((0, 0, 0, 0), (*patch, 255), (*patch, 255)).astype(np.uint8), "RGBA"
    )
    inks = files.thirds((255, 0, 0, 0), (0, 0, 0, 0), (0, 0, 255, 0)).astype(np.uint8)
    mid_grey = Image.new("L", size, 128)
    linear_half = (
        188,
        188,
        188,
    )  # half the light, as sRGB writes it; 128 if the profile is ignored
    return {
        # RGB profiles are kept, pixels untouched: a wide-gamut photo keeps its gamut
        "display-p3.jpg": (files.saved(rgb, "JPEG", quality=95, icc_profile=p3), p3, (patch,) * 3),
        "adobe-rgb.png": (png_raw(np.asarray(rgb), 8, RGB, icc=adobe), adobe, (patch,) * 3),
        "display-p3.webp": (files.saved(rgb, "WEBP", quality=95, icc_profile=p3), p3, (patch,) * 3),
        "display-p3.heic": (files.saved(rgb, "HEIF", quality=95, icc_profile=p3), p3, (patch,) * 3),
        "display-p3-alpha.png": (
            png_raw(np.asarray(rgba), 8, RGB_ALPHA, icc=p3),
            p3,
            (WHITE, patch, patch),
        ),
        # Other colour spaces go through their profile to sRGB and embed none. The CMYK profile's
        # cyan ink prints red, its yellow blue: without the profile they would be cyan and yellow.
        "cmyk-profile.jpg": (
            files.saved(Image.fromarray(inks, "CMYK"), "JPEG", quality=95, icc_profile=cmyk),
            None,
            ((255, 0, 0), WHITE, (0, 0, 255)),
        ),
        "grey-profile.jpg": (
            files.saved(mid_grey, "JPEG", quality=95, icc_profile=gray),
            None,
            (linear_half,) * 3,
        ),
        "grey-profile.png": (
            png_raw(np.asarray(mid_grey)[..., None], 8, GREY, icc=gray),
            None,
            (linear_half,) * 3,
        ),
        "grey-profile-16.png": (
            png_raw(np.full((files.HEIGHT, files.WIDTH, 1), 0x8080), 16, GREY, icc=gray),
            None,
            (linear_half,) * 3,
        ),
        # A profile that does not describe the pixels (Lab or CMYK on RGB, or not a profile at
        # all) is dropped: the pixels are shown as they are, as sRGB.
        "lab-profile-on-rgb.jpg": (
            files.saved(rgb, "JPEG", quality=95, icc_profile=lab),
            None,
            (patch,) * 3,
        ),
        "cmyk-profile-on-rgb.jpg": (
            files.saved(rgb, "JPEG", quality=95, icc_profile=cmyk),
            None,
            (patch,) * 3,
        ),
        "broken-profile.jpg": (
            files.saved(rgb, "JPEG", quality=95, icc_profile=b"junk" * 40),
            None,
            (patch,) * 3,
        ),
    }


@pytest.mark.django_db
def test_thumbnails_embed_only_a_matching_rgb_profile_or_are_converted_to_srgb(vault):
    made = profile_files()
    photos = vault.process(*[(name, data) for name, (data, _, _) in made.items()])
    wrong = []
    for name, (_, kept, _) in made.items():
        for variant, image in vault.pictures(photos[name]).items():
            embedded = image.info.get("icc_profile")
            if embedded != kept:
                space = icc.colour_space(embedded) if embedded else None
                wrong.append(f"{name} {variant}: embeds a {space!r} profile")
            elif embedded:
                assert icc.colour_space(embedded) == "RGB "
                parsed = ImageCms.ImageCmsProfile(io.BytesIO(embedded))
                assert parsed.profile.xcolor_space == "RGB "
    assert not wrong, "\n".join(wrong)
    expectations = {
        name: dict(zip([(x, 0.5) for x in THIRDS], bands, strict=True))
        for name, (_, _, bands) in made.items()
    }
    check_points(vault, photos, expectations, {"display-p3.heic": LOSSY})


def test_a_profile_of_another_colour_space_is_never_embedded_by_the_encoder():
    """Belt and braces in the thumbnail encoder: only an RGB profile goes into a JPEG."""
    from worker.thumbnails import _encode

    image = Image.new("RGB", (8, 8), COLOUR)
    for profile in (icc.swapped_cmyk(), icc.linear_gray()):
        assert "icc_profile" not in Image.open(io.BytesIO(_encode(image, profile))).info
    kept = Image.open(io.BytesIO(_encode(image, icc.display_p3()))).info["icc_profile"]
    assert kept == icc.display_p3()


# 4. Animated images ------------------------------------------------------------------------


def _frame(left, middle, right, mode="RGB") -> Image.Image:
    return Image.fromarray(files.thirds(left, middle, right, 300, 200).astype(np.uint8), mode)


BLACK = _frame((0, 0, 0), (0, 0, 0), (0, 0, 0))
PICTURE = _frame((30, 30, 200), (30, 160, 30), (200, 30, 30))
PICTURE_COLOURS = ((30, 30, 200), (30, 160, 30), (200, 30, 30))


def animated_files() -> dict[str, tuple[bytes, bool, tuple, int]]:
    """file name → (bytes, animated?, colours of its thumbnail's three bands, tolerance)."""
    clear = _frame((0, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 0), "RGBA")
    see_through = _frame((0, 0, 0, 0), (*COLOUR, 128), (*COLOUR, 255), "RGBA")
    striped = _frame((30, 160, 30), (250, 250, 250), (30, 160, 30))
    alpha_bands = (WHITE, over_white(COLOUR, 128), COLOUR)
    return {
        "black-first.webp": (
            files.animation("WEBP", [BLACK, PICTURE, BLACK]),
            True,
            PICTURE_COLOURS,
            TOLERANCE,
        ),
        "black-first-lossy.webp": (
            files.animation("WEBP", [BLACK, BLACK, PICTURE], lossless=False, quality=70),
            True,
            PICTURE_COLOURS,
            LOSSY,
        ),
        "black-first.png": (
            files.animation("PNG", [BLACK, PICTURE]),
            True,
            PICTURE_COLOURS,
            TOLERANCE,
        ),
        # Frames with alpha: a wholly transparent first frame is blank; the next is composited
        "clear-first.png": (
            files.animation("PNG", [clear, see_through]),
            True,
            alpha_bands,
            TOLERANCE,
        ),
        "clear-first.webp": (
            files.animation("WEBP", [clear, see_through]),
            True,
            alpha_bands,
            TOLERANCE,
        ),
        # A first frame with content is the one shown; an animation of blank frames shows its first
        "striped-first.webp": (
            files.animation("WEBP", [striped, PICTURE]),
            True,
            ((30, 160, 30), (250, 250, 250), (30, 160, 30)),
            TOLERANCE,
        ),
        "all-dark.webp": (
            files.animation(
                "WEBP", [BLACK, Image.new("RGB", BLACK.size, (9, 9, 9))]
            ),  # (not merged)
            True,
            ((0, 0, 0),) * 3,
            TOLERANCE,
        ),
        # A still photo that is black is black: only animations skip blank frames
        "black-still.png": (files.saved(BLACK, "PNG"), False, ((0, 0, 0),) * 3, TOLERANCE),
        "still.webp": (
            files.saved(PICTURE, "WEBP", lossless=True),
            False,
            PICTURE_COLOURS,
            TOLERANCE,
        ),
    }


@pytest.mark.django_db
def test_animations_show_their_first_frame_that_is_not_blank_and_are_marked(vault):
    made = animated_files()
    photos = vault.process(*[(name, data) for name, (data, *_) in made.items()])
    assert {name: photo.animated for name, photo in photos.items()} == {
        name: animated for name, (_, animated, _, _) in made.items()
    }
    expectations = {
        name: dict(zip([(x, 0.5) for x in THIRDS], bands, strict=True))
        for name, (_, _, bands, _) in made.items()
    }
    check_points(vault, photos, expectations, {name: t for name, (*_, t) in made.items()})

    # The original is kept byte for byte: downloaded, it still moves.
    for name in ("black-first.webp", "black-first.png"):
        response = vault.client.get(reverse("photos:download", args=[photos[name].id]))
        assert b"".join(response.streaming_content) == made[name][0]

    # The gallery tile and the photo page say which photos are animations.
    gallery = vault.client.get(reverse("photos:gallery")).content.decode()
    tiles = re.findall(r'<li class="tile.*?</li>', gallery, flags=re.S)
    assert len(tiles) == len(made)
    marked = {re.search(r'data-photo="([^"]+)"', tile)[1] for tile in tiles if "Animated" in tile}
    assert marked == {str(photo.id) for photo in photos.values() if photo.animated}
    moving = vault.client.get(reverse("photos:detail", args=[photos["black-first.webp"].id]))
    assert "Animated" in moving.content.decode()
    still = vault.client.get(reverse("photos:detail", args=[photos["still.webp"].id]))
    assert "Animated" not in still.content.decode()


def _noisy(level: int, spread: int, seed: int) -> Image.Image:
    noise = np.random.default_rng(seed).integers(-spread, spread + 1, (200, 300, 3))
    return Image.fromarray(np.clip(level + noise, 0, 255).astype(np.uint8), "RGB")


def test_blank_means_almost_uniform_and_almost_black_or_white():
    """Encoder noise on black or white is blank; a little content on black is not, and
    neither is one flat colour (a red frame after a black one is what the animation shows)."""
    assert pictures._is_blank(_noisy(0, 3, 1)) and pictures._is_blank(_noisy(255, 3, 2))
    assert not pictures._is_blank(Image.new("RGB", (300, 200), (90, 140, 30)))
    assert not pictures._is_blank(Image.new("RGB", (300, 200), (255, 0, 0)))
    assert not pictures._is_blank(Image.new("RGB", (300, 200), (0, 0, 255)))
    caption = Image.new("RGB", (300, 200))
    caption.paste((255, 255, 255), (120, 90, 180, 100))  # 1 % of the frame: a line of text
    assert not pictures._is_blank(caption)
    assert not pictures._is_blank(PICTURE)


def test_a_frame_that_fails_to_decode_leaves_the_first_frame():
    data = files.animation("PNG", [BLACK, PICTURE])
    second = data.index(b"fdAT")  # the second frame's data
    broken = data[: second + 12] + zlib.compress(b"\xff" * 8)[:6] + data[second + 18 :]
    decoded = pictures.picture_decode(broken, "image/png", max_pixels=10**8)
    assert decoded.animated and decoded.image.getpixel((150, 100)) == (0, 0, 0)
