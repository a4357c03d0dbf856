"""The upload-time checks, fed in small pieces as the network would deliver them."""

import pytest

from tests.photos import support
from vault.photos.sniff import ImageSniffer, Rejected
from vaultdev.samples import camera_files

LIMIT = 100_000_000


def sniff(data: bytes, piece: int = 4096, max_pixels: int = LIMIT):
    sniffer = ImageSniffer(max_pixels=max_pixels)
    for start in range(0, len(data), piece):
        sniffer.feed(data[start : start + piece])
    return sniffer.finish()


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (support.jpeg(), "image/jpeg"),
        (support.png(), "image/png"),
        (support.webp(), "image/webp"),
        (support.heic(), "image/heic"),
        (support.real_photo("rocket.jpg"), "image/jpeg"),
        (support.real_photo("chelsea.png"), "image/png"),
    ],
)
def test_whole_photos_pass_with_their_dimensions(data, media_type):
    found = sniff(data)
    assert found.media_type == media_type
    assert (found.width, found.height) > (0, 0)


@pytest.mark.parametrize("lossless", [False, True])
def test_webp_dimensions_come_from_its_header(lossless):
    import io

    out = io.BytesIO()
    support.picture(333, 222).save(out, "WEBP", lossless=lossless)
    found = sniff(out.getvalue())
    assert (found.width, found.height) == (333, 222)


@pytest.mark.parametrize("piece", [1, 7, 65536])
def test_piece_boundaries_do_not_matter(piece):
    assert sniff(support.jpeg(), piece=piece).media_type == "image/jpeg"


def test_motion_photo_with_video_after_the_image_is_accepted():
    assert sniff(support.jpeg() + b"\x00\x00\x00\x18ftypmp42" + bytes(5000)).width == 640


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"just some text, named holiday.jpg\n" * 20, "not JPEG, HEIC, PNG or WebP"),
        (b"", "empty"),
        (support.jpeg()[: len(support.jpeg()) // 2], "incomplete"),
        (support.png()[:-30], "incomplete"),
        (support.webp()[:-100], "incomplete"),
        (support.heic()[:-200], "incomplete"),
        (b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + bytes(100), "AVIF"),
        (b"\xff\xd8\xff\xe0\x00", "incomplete"),
        (b"\xff\xd8\xff\xe0\x00\x01" + bytes(40), "damaged"),
    ],
)
def test_bad_files_are_refused_with_a_reason(data, message):
    with pytest.raises(Rejected, match=message):
        sniff(data)


@pytest.mark.parametrize("piece", [1, 9, 4096])
def test_heic_boxes_are_followed_across_pieces(piece):
    found = sniff(support.heic(support.picture(320, 240)), piece=piece)
    assert (found.media_type, found.width, found.height) == ("image/heic", 320, 240)


def test_pixel_bomb_is_refused_from_its_header_alone():
    bomb = support.pixel_bomb_png()
    assert len(bomb) < 2_000_000  # small on the wire...
    with pytest.raises(Rejected, match="megapixels"):
        sniff(bomb)  # ...and refused without decoding 400 million pixels


@pytest.mark.parametrize("encode", [support.jpeg, support.png, support.webp, support.heic])
def test_pixel_limit_is_the_configured_one(encode):
    with pytest.raises(Rejected, match=r"640 × 480 pixels .* up to 0.1 megapixels"):
        sniff(encode(), max_pixels=100_000)


def test_metadata_larger_than_the_header_buffer_before_the_image_is_accepted():
    # Portrait-mode phones put megabytes of depth maps (XMP, APP1) before the image data.
    app1 = b"\xff\xe1" + (65_000).to_bytes(2, "big") + bytes(64_998)
    photo = support.jpeg()
    found = sniff(photo[:2] + app1 * 40 + photo[2:], piece=256 * 1024)
    assert (found.media_type, found.width, found.height) == ("image/jpeg", 640, 480)


def test_a_stream_of_empty_jpeg_segments_is_refused_early():
    sniffer = ImageSniffer(max_pixels=LIMIT)
    endless = b"\xff\xd8" + b"\xff\xfe\x00\x02" * 50_000  # 50,000 empty comments
    with pytest.raises(Rejected, match="damaged"):
        sniffer.feed(endless)
    assert sniffer.size == len(endless)  # refused on the first chunk, not at the end


def test_jpeg_fill_bytes_before_a_marker_are_skipped():
    photo = support.jpeg()
    assert sniff(photo[:2] + b"\xff" * 100_000 + photo[2:], piece=1000).width == 640


def test_heic_whose_size_is_not_in_the_first_megabyte_is_accepted():
    # A 'free' box of 2 MB before the 'meta' box that declares the size.
    heic = support.heic()
    ftyp_size = int.from_bytes(heic[:4], "big")
    free = (2_000_008).to_bytes(4, "big") + b"free" + bytes(2_000_000)
    found = sniff(heic[:ftyp_size] + free + heic[ftyp_size:], piece=256 * 1024)
    assert (found.media_type, found.width, found.height) == ("image/heic", 640, 480)


def test_a_stream_of_empty_heic_boxes_is_refused_early():
    sniffer = ImageSniffer(max_pixels=LIMIT)
    heic = support.heic()
    ftyp_size = int.from_bytes(heic[:4], "big")
    endless = heic[:ftyp_size] + b"\x00\x00\x00\x08free" * 50_000
    with pytest.raises(Rejected, match="damaged"):
        sniffer.feed(endless)


def test_a_second_frame_header_before_the_image_is_refused():
    # A small size first and a huge one second: the decoder would believe the second.
    photo = support.jpeg()
    sof = photo.index(b"\xff\xc0")
    length = int.from_bytes(photo[sof + 2 : sof + 4], "big")
    second = bytearray(photo[sof : sof + 2 + length])
    second[5:9] = (30000).to_bytes(2, "big") + (30000).to_bytes(2, "big")
    crafted = photo[: sof + 2 + length] + bytes(second) + photo[sof + 2 + length :]
    with pytest.raises(Rejected, match="damaged"):
        sniff(crafted)


def test_empty_pieces_change_nothing():
    photo = support.jpeg()
    sniffer = ImageSniffer(max_pixels=LIMIT)
    for piece in (photo[:-1], b"", photo[-1:], b""):  # the end marker split around nothing
        sniffer.feed(piece)
    assert sniffer.finish().width == 640


# ---- HEIF: boxes in any order, damage, and what cannot be decoded ---------------------------

SAMSUNG_PADDING = 3 * 1024 * 1024  # the mdat alone is larger than HEAD_LIMIT


@pytest.mark.parametrize(("piece", "padding"), [(9, 0), (4096, 0), (256 * 1024, SAMSUNG_PADDING)])
def test_heic_with_its_meta_box_after_a_large_mdat_is_accepted(piece, padding):
    """Samsung phones write ftyp, mdat (megabytes), then meta."""
    heic = camera_files.heic_meta_last(support.heic(support.picture(320, 240)), padding=padding)
    assert [kind for kind, _box in camera_files.top_boxes(heic)] == [b"ftyp", b"mdat", b"meta"]
    found = sniff(heic, piece=piece)
    assert (found.media_type, found.width, found.height) == ("image/heic", 320, 240)


def test_pixel_limit_applies_to_a_meta_box_at_the_end():
    heic = camera_files.heic_meta_last(support.heic(), padding=SAMSUNG_PADDING)
    with pytest.raises(Rejected, match=r"640 × 480 pixels .* up to 0.1 megapixels"):
        sniff(heic, piece=256 * 1024, max_pixels=100_000)


def test_the_mdat_is_never_held_in_memory():
    """64 MiB of image data before the meta box: what the check keeps stays under a few
    hundred kilobytes (it copies the meta box only)."""
    import tracemalloc

    heic = camera_files.heic_meta_last(support.heic(support.picture(320, 240)))
    [(_f, ftyp), (_m, mdat), (_x, meta)] = camera_files.top_boxes(heic)
    extra = 64 * 1024 * 1024
    piece = bytes(256 * 1024)
    sniffer = ImageSniffer(max_pixels=LIMIT)
    tracemalloc.start()
    try:
        sniffer.feed(ftyp)
        sniffer.feed((len(mdat) + extra).to_bytes(4, "big") + mdat[4:])
        for _ in range(extra // len(piece)):
            sniffer.feed(piece)
        sniffer.feed(meta)
        found = sniffer.finish()
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (found.width, found.height) == (320, 240)
    assert peak < 512 * 1024, peak


def _samsung() -> bytes:
    return camera_files.heic_meta_last(support.heic(support.picture(320, 240)), padding=100_000)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("cut in the mdat", "incomplete"),
        ("cut in the meta", "incomplete"),
        ("no meta", "header cannot be read"),
        ("a box of size 4", r"damaged \(its structure is broken\)"),
        ("mdat longer than the file", "incomplete"),
        ("two meta boxes", r"damaged \(its structure is broken\)"),
        ("meta larger than the header buffer", "header cannot be read"),
        ("meta with a field past its end", "header cannot be read"),
        ("meta without a primary item", "header cannot be read"),
        ("meta without an image size", "declares no image size"),
    ],
)
def test_damaged_heic_is_refused_wherever_its_meta_box_is(damage, message):
    heic = _samsung()
    [(_f, ftyp), (_m, mdat), (_x, meta)] = camera_files.top_boxes(heic)
    hevc_items = {1: b"hvc1"}
    damaged = {
        "cut in the mdat": ftyp + mdat[: len(mdat) // 2],
        "cut in the meta": heic[:-20],
        "no meta": ftyp + mdat,
        "a box of size 4": ftyp + b"\x00\x00\x00\x04free" + mdat + meta,
        "mdat longer than the file": ftyp + meta + (len(mdat) + 10).to_bytes(4, "big") + mdat[4:],
        "two meta boxes": ftyp + meta + mdat + meta,
        "meta larger than the header buffer": ftyp
        + mdat
        + camera_files.box(b"meta", bytes(4) + camera_files.box(b"free", bytes(1_100_000))),
        "meta with a field past its end": ftyp
        + mdat
        + camera_files.full_box(b"meta", camera_files.full_box(b"pitm", b"")),
        "meta without a primary item": ftyp + mdat + camera_files.heif_meta(hevc_items, primary=7),
        "meta without an image size": ftyp
        + mdat
        + camera_files.heif_meta(hevc_items).replace(b"ispe", b"ispx"),
    }[damage]
    with pytest.raises(Rejected, match=message):
        sniff(damaged, piece=64 * 1024)


def test_a_meta_box_that_runs_to_the_end_of_the_file_is_read():
    heic = _samsung()
    [(_f, ftyp), (_m, mdat), (_x, meta)] = camera_files.top_boxes(heic)
    found = sniff(ftyp + mdat + bytes(4) + meta[4:])  # size 0: "up to the end of the file"
    assert (found.width, found.height) == (320, 240)


def _heif(major: bytes, *compatible: bytes, items=None, tiles=None, primary: int = 1) -> bytes:
    meta = camera_files.heif_meta(items or {1: b"hvc1"}, tiles=tiles, primary=primary)
    return (
        camera_files.ftyp(major, *compatible)
        + camera_files.box(b"mdat", bytes(2000))
        + meta  # after the image data, as Samsung phones put it
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_heif(b"avif", b"mif1", b"miaf"), "^AVIF images are not supported yet"),
        (_heif(b"avis", b"msf1"), "^AVIF images are not supported yet"),
        (_heif(b"mif1", b"avif", b"miaf"), "^AVIF images are not supported yet"),
        (_heif(b"mif1", b"miaf", items={1: b"av01"}), "^AVIF images are not supported yet"),
        (
            _heif(b"mif1", items={1: b"grid", 2: b"av01", 3: b"av01"}, tiles={1: [2, 3]}),
            "^AVIF images are not supported yet",
        ),
        (
            camera_files.ftyp(b"mif3", b"heic") + camera_files.box(b"mini", bytes(200)),
            r"^Compact HEIF \(mif3\) images are not supported yet",
        ),
        (_heif(b"mif1", b"jpeg"), "^JPEG-compressed HEIF images are not supported yet"),
        (_heif(b"mif1", items={1: b"jpeg"}), "^JPEG-compressed HEIF images are not supported"),
        (_heif(b"mif1", items={1: b"unci"}), "^Uncompressed HEIF images are not supported yet"),
        (_heif(b"vvic", b"mif1"), r"^VVC \(H.266\) HEIF images are not supported yet"),
        (_heif(b"avci", b"mif1"), r"^H.264 \(AVC\) HEIF images are not supported yet"),
        (_heif(b"j2ki", b"mif1"), "^JPEG 2000 HEIF images are not supported yet"),
        (_heif(b"crx ", b"isom"), "^Canon CR3 raw images are not supported yet"),
        (_heif(b"miaf", b"heic", b"mif1"), '^HEIF images of type "miaf" are not supported yet'),
        (_heif(b"mif1", items={1: b"xyz1"}), "not HEVC-coded"),
        # Videos are taken now (DESIGN §12), but these have no track index ('moov').
        (_heif(b"qt  ", b"qt  "), "^This video is incomplete or damaged"),
        (_heif(b"isom", b"iso2", b"avc1", b"mp41"), "^This video is incomplete or damaged"),
        (_heif(b"abcd", b"efgh"), "not JPEG, HEIC, PNG or WebP"),
    ],
)
def test_heif_the_server_cannot_decode_is_named_in_the_message(data, message):
    with pytest.raises(Rejected, match=message):
        sniff(data, piece=100)


@pytest.mark.parametrize(
    ("items", "tiles", "accepted"),
    [
        ({1: b"hvc1", 2: b"Exif"}, None, True),
        ({1: b"grid", 2: b"hvc1", 3: b"hvc1", 4: b"mime"}, {1: [2, 3]}, True),  # an iPhone's
        ({1: b"iden", 2: b"grid", 3: b"hvc1"}, {1: [2], 2: [3]}, True),
        ({1: b"grid", 2: b"hvc1", 3: b"av01"}, {1: [2, 3]}, False),  # one tile AVIF
        ({1: b"grid", 2: b"hvc1"}, None, False),  # a grid of nothing
        ({1: b"grid", 2: b"grid"}, {1: [2], 2: [1]}, False),  # a loop, no picture
        ({1: b"grid"}, {1: [9]}, False),  # a tile never declared
    ],
)
def test_the_primary_image_must_be_hevc_through_its_grid(items, tiles, accepted):
    data = _heif(b"heic", b"mif1", b"heic", items=items, tiles=tiles)
    if accepted:
        assert (sniff(data).width, sniff(data).height) == (64, 48)
    else:
        with pytest.raises(Rejected):
            sniff(data)
