"""The upload-time checks, fed in small pieces as the network would deliver them."""

import pytest

from tests.photos import support
from vault.photos.sniff import ImageSniffer, Rejected

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


def test_heic_whose_size_is_not_in_the_first_megabyte_is_refused():
    # A 'free' box of 2 MB before the 'meta' box that would declare the size.
    heic = support.heic()
    ftyp_size = int.from_bytes(heic[:4], "big")
    free = (2_000_008).to_bytes(4, "big") + b"free" + bytes(2_000_000)
    with pytest.raises(Rejected, match="header cannot be read"):
        sniff(heic[:ftyp_size] + free + heic[ftyp_size:], piece=256 * 1024)


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
