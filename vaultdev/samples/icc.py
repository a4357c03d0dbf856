"""ICC colour profiles made for the tests (ICC.1:2001-04, version 2), so that no third-party
profile file is needed: matrix/TRC RGB profiles (Display P3, Adobe RGB), a gray profile, and a
CMYK printer profile whose inks print the "wrong" colours, so that a test can tell a conversion
through the profile from Pillow's profile-blind CMYK formula."""

from __future__ import annotations

import struct

import numpy as np

D50 = (0.9642, 1.0, 0.8249)  # the profile connection space's white
D65 = (0.3127, 0.3290)

# Linear sRGB → XYZ (D50, Bradford-adapted): what the CMYK profile's inks are described in.
SRGB_TO_XYZ_D50 = np.array(
    [
        [0.4360747, 0.3850649, 0.1430804],
        [0.2225045, 0.7168786, 0.0606169],
        [0.0139322, 0.0971045, 0.7141733],
    ]
)
_BRADFORD = np.array(
    [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]]
)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz_tag(xyz) -> bytes:
    return b"XYZ \0\0\0\0" + b"".join(_s15(v) for v in xyz)


def _desc_tag(text: str) -> bytes:
    ascii_text = text.encode("ascii") + b"\0"
    return (
        b"desc\0\0\0\0"
        + struct.pack(">I", len(ascii_text))
        + ascii_text
        + struct.pack(">II", 0, 0)  # no Unicode description
        + struct.pack(">HB", 0, 0)
        + bytes(67)  # no ScriptCode description
    )


def _text_tag(text: str) -> bytes:
    return b"text\0\0\0\0" + text.encode("ascii") + b"\0"


def _gamma_tag(gamma: float) -> bytes:
    return b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256))


def _srgb_curve_tag() -> bytes:
    """The sRGB transfer function as a 1024-entry table (Display P3 uses it too)."""
    x = np.linspace(0, 1, 1024)
    y = np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)
    return b"curv\0\0\0\0" + struct.pack(">I", len(y)) + np.round(y * 65535).astype(">u2").tobytes()


def _profile(device_class: bytes, colour_space: bytes, tags: dict[bytes, bytes]) -> bytes:
    header_size, entry_size = 128, 12
    offset = header_size + 4 + entry_size * len(tags)
    table, data = [], b""
    for signature, body in tags.items():
        table.append(struct.pack(">4sII", signature, offset + len(data), len(body)))
        data += body + bytes(-len(body) % 4)  # each tag starts on a 4-byte boundary
    size = offset + len(data)
    header = (
        struct.pack(">I4sI4s4s4s", size, b"lcms", 0x02100000, device_class, colour_space, b"XYZ ")
        + struct.pack(">6H", 2026, 1, 1, 0, 0, 0)
        + b"acsp"
        + bytes(4 + 4 + 4 + 4 + 8)  # platform, flags, manufacturer, model, attributes
        + struct.pack(">I", 0)  # perceptual rendering intent
        + b"".join(_s15(v) for v in D50)
        + bytes(4 + 16 + 28)  # creator, profile id, reserved
    )
    assert len(header) == header_size
    return header + struct.pack(">I", len(tags)) + b"".join(table) + data


def _white_xyz(xy) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def _rgb_to_xyz_d50(primaries, white) -> np.ndarray:
    """The 3×3 matrix from linear RGB to PCS XYZ (D50) for chromaticities given as (x, y)."""
    columns = np.array([[x / y, 1.0, (1 - x - y) / y] for x, y in primaries]).T
    scale = np.linalg.solve(columns, _white_xyz(white))
    to_xyz = columns * scale
    source, target = _BRADFORD @ _white_xyz(white), _BRADFORD @ np.array(D50)
    adapt = np.linalg.inv(_BRADFORD) @ np.diag(target / source) @ _BRADFORD
    return adapt @ to_xyz


def rgb_profile(name: str, primaries, trc: bytes, white=D65) -> bytes:
    matrix = _rgb_to_xyz_d50(primaries, white)
    return _profile(
        b"mntr",
        b"RGB ",
        {
            b"desc": _desc_tag(name),
            b"cprt": _text_tag("No copyright, made for the tests"),
            b"wtpt": _xyz_tag(D50),
            b"rXYZ": _xyz_tag(matrix[:, 0]),
            b"gXYZ": _xyz_tag(matrix[:, 1]),
            b"bXYZ": _xyz_tag(matrix[:, 2]),
            b"rTRC": trc,
            b"gTRC": trc,
            b"bTRC": trc,
        },
    )


def display_p3() -> bytes:
    """Display P3, the iPhone's wide gamut: P3 primaries, D65 white, the sRGB curve."""
    return rgb_profile(
        "Display P3 (test)", [(0.680, 0.320), (0.265, 0.690), (0.150, 0.060)], _srgb_curve_tag()
    )


def adobe_rgb() -> bytes:
    """Adobe RGB (1998): its primaries, D65 white, gamma 563/256."""
    return rgb_profile(
        "Adobe RGB (test)", [(0.64, 0.33), (0.21, 0.71), (0.15, 0.06)], _gamma_tag(563 / 256)
    )


def linear_gray() -> bytes:
    """A gray profile with a linear curve: grey level 128 means half the light, which sRGB
    writes as 188 — so a thumbnail shows whether the profile was applied (else 128)."""
    return _profile(
        b"mntr",
        b"GRAY",
        {
            b"desc": _desc_tag("Linear gray (test)"),
            b"cprt": _text_tag("No copyright, made for the tests"),
            b"wtpt": _xyz_tag(D50),
            b"kTRC": _gamma_tag(1.0),
        },
    )


# The swapped inks: cyan ink prints red, magenta green, yellow blue (each lets only that light
# through), black absorbs all. Pillow's formula turns C=255 into cyan; the profile into red.
INK_FILTERS = {"C": (1, 0, 0), "M": (0, 1, 0), "Y": (0, 0, 1), "K": (0, 0, 0)}


def swapped_cmyk() -> bytes:
    """A CMYK printer profile (lut16 A2B0, 2 grid points per ink, PCS XYZ): exact at the
    corners, where every ink is either absent or full."""
    grid = []
    for c in (0, 1):
        for m in (0, 1):
            for y in (0, 1):
                for k in (0, 1):
                    light = np.ones(3)
                    for ink, present in zip("CMYK", (c, m, y, k), strict=True):
                        if present:
                            light = light * np.array(INK_FILTERS[ink])
                    grid.append(SRGB_TO_XYZ_D50 @ light)
    clut = np.round(np.clip(np.array(grid) * 32768, 0, 65535)).astype(">u2").tobytes()
    identity = np.array([0, 65535], dtype=">u2").tobytes()
    lut = (
        b"mft2\0\0\0\0"
        + struct.pack(">BBBB", 4, 3, 2, 0)
        + b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
        + struct.pack(">HH", 2, 2)
        + identity * 4
        + clut
        + identity * 3
    )
    return _profile(
        b"prtr",
        b"CMYK",
        {
            b"desc": _desc_tag("Swapped inks CMYK (test)"),
            b"cprt": _text_tag("No copyright, made for the tests"),
            b"wtpt": _xyz_tag(D50),
            b"A2B0": lut,
        },
    )


def colour_space(profile: bytes) -> str:
    """The data colour space an ICC profile's header declares ('RGB ', 'GRAY', 'CMYK' ...)."""
    return profile[16:20].decode("ascii")
