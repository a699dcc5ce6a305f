from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mosaic.imaging.artwork import page_for
from mosaic.imaging.decode import (
    IMAGE_PIXELS_MAX,
    REJECTION_CODES,
    ImageRejected,
    decode_photo,
    placed_box,
    resize_rgb,
)

IMAGES = Path(__file__).resolve().parents[1] / "fixtures" / "images"


def _encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _gradient_rgb(width: int = 64, height: int = 48) -> Image.Image:
    y, x = np.mgrid[0:height, 0:width]
    rgb = np.stack([x * 255 // width, y * 255 // height, (x + y) % 256], axis=2).astype(np.uint8)
    return Image.fromarray(rgb)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width×height RGB pixels but carries only one compressed row."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = zlib.compress(b"\x00" + b"\x00" * 3 * min(width, 1000))
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", row)
        + _png_chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_png_jpeg_and_webp_decode_to_rgb_of_the_same_size(fmt: str) -> None:
    data = _encoded(_gradient_rgb(), fmt, quality=95)
    rgb = decode_photo(data)
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    expected = np.asarray(_gradient_rgb(), dtype=np.int16)
    assert np.abs(rgb.astype(np.int16) - expected).mean() < 4.0


def test_the_format_is_sniffed_from_the_bytes_not_a_name() -> None:
    png = _encoded(_gradient_rgb(), "PNG")
    assert decode_photo(png).shape == (48, 64, 3)  # no filename anywhere in the API


def test_a_gif_is_rejected_naming_the_accepted_types() -> None:
    with pytest.raises(ImageRejected) as info:
        decode_photo((IMAGES / "no_time_for_that_tiny.gif").read_bytes())
    assert info.value.code == "unsupported_image_type"
    message = str(info.value)
    assert "GIF" in message
    assert all(name in message for name in ("PNG", "JPEG", "WebP"))


def test_a_text_file_is_rejected_as_an_unsupported_type() -> None:
    with pytest.raises(ImageRejected) as info:
        decode_photo(b"hello, this is not a picture\n" * 10)
    assert info.value.code == "unsupported_image_type"


def test_zero_bytes_are_an_empty_image() -> None:
    with pytest.raises(ImageRejected) as info:
        decode_photo(b"")
    assert info.value.code == "empty_image"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_truncated_file_is_a_corrupt_image(fmt: str) -> None:
    data = _encoded(_gradient_rgb(256, 256), fmt, quality=95)
    with pytest.raises(ImageRejected) as info:
        decode_photo(data[: len(data) // 2])
    assert info.value.code == "corrupt_image"


def test_a_png_claiming_20000_by_20000_is_rejected_before_decoding() -> None:
    data = _png_header_only(20_000, 20_000)
    assert len(data) < 200  # so only the header could have been read
    with pytest.raises(ImageRejected) as info:
        decode_photo(data)
    assert info.value.code == "image_too_large"
    assert "megapixels" in str(info.value)


def test_a_png_just_over_the_pixel_cap_is_rejected() -> None:
    side = int(IMAGE_PIXELS_MAX**0.5) + 1
    with pytest.raises(ImageRejected) as info:
        decode_photo(_png_header_only(side, side))
    assert info.value.code == "image_too_large"


def test_a_pillow_decompression_bomb_becomes_image_too_large() -> None:
    # 144 MP: past Pillow's warning threshold (an error under pytest), so Pillow speaks first.
    with pytest.raises(ImageRejected) as info:
        decode_photo(_png_header_only(12_000, 12_000))
    assert info.value.code == "image_too_large"


def test_exif_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown rotated 90° clockwise
    image = _gradient_rgb(64, 48)
    rgb = decode_photo(_encoded(image, "JPEG", quality=95, exif=exif.tobytes()))
    assert rgb.shape == (64, 48, 3)
    expected = np.asarray(image.transpose(Image.Transpose.ROTATE_270), dtype=np.int16)
    assert np.abs(rgb.astype(np.int16) - expected).mean() < 4.0


def test_a_cmyk_jpeg_decodes_to_rgb() -> None:
    cmyk = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # pure red ink
    rgb = decode_photo(_encoded(cmyk, "JPEG", quality=95))
    assert rgb.shape == (30, 40, 3)
    r, g, b = rgb[15, 20].astype(int)
    assert r > 200 and g < 60 and b < 60


def test_a_16_bit_greyscale_png_is_scaled_not_clipped() -> None:
    values = np.linspace(0, 65535, 32 * 16).reshape(16, 32).astype(np.uint16)
    image = Image.fromarray(values)
    assert image.mode.startswith("I;16")
    rgb = decode_photo(_encoded(image, "PNG"))
    assert rgb.shape == (16, 32, 3)
    assert rgb[0, 0, 0] == 0 and rgb[-1, -1, 0] == 255
    assert 120 <= rgb[8, 0, 0] <= 135  # mid-grey stays mid-grey
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


def test_a_near_black_16_bit_greyscale_png_stays_near_black() -> None:
    values = np.linspace(0, 255, 32 * 16).reshape(16, 32).astype(np.uint16)  # at most 255 of 65535
    image = Image.fromarray(values)
    assert image.mode.startswith("I;16")
    rgb = decode_photo(_encoded(image, "PNG"))
    assert int(rgb.max()) <= 1
    assert np.array_equal(rgb[..., 1], np.rint(values / 257.0).astype(np.uint8))


def test_a_palette_png_with_transparency_is_flattened_onto_white() -> None:
    image = Image.new("P", (20, 10), 0)
    image.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    image.paste(1, (10, 0, 20, 10))
    rgb = decode_photo(_encoded(image, "PNG", transparency=0))
    assert tuple(rgb[5, 2]) == (255, 255, 255)
    assert tuple(rgb[5, 15]) == (0, 0, 255)


def test_the_rgba_logo_has_a_white_background() -> None:
    rgb = decode_photo((IMAGES / "logo.png").read_bytes())
    assert rgb.shape == (500, 500, 3)
    assert tuple(rgb[0, 0]) == (255, 255, 255)


def test_the_greyscale_camera_photo_becomes_three_equal_channels() -> None:
    rgb = decode_photo((IMAGES / "camera.png").read_bytes())
    assert rgb.shape == (512, 512, 3)
    assert np.array_equal(rgb[..., 0], rgb[..., 1])


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_max_side_reduces_while_decoding_and_keeps_the_aspect(fmt: str) -> None:
    data = _encoded(_gradient_rgb(800, 600), fmt, quality=90)
    rgb = decode_photo(data, max_side_px=190)
    assert rgb.shape == (142, 190, 3)  # 600 × 190 / 800 = 142.5, rounded to even
    small = decode_photo(data, max_side_px=5000)
    assert small.shape == (600, 800, 3)  # never enlarged


def test_decoding_the_same_bytes_twice_gives_identical_arrays() -> None:
    data = (IMAGES / "chelsea.png").read_bytes()
    assert np.array_equal(decode_photo(data, max_side_px=200), decode_photo(data, max_side_px=200))


def test_a_needle_thin_image_is_rejected_as_too_small() -> None:
    with pytest.raises(ImageRejected) as info:
        decode_photo(_encoded(Image.new("RGB", (400, 4)), "PNG"))
    assert info.value.code == "image_too_small"


def test_every_rejection_code_is_snake_case_and_listed() -> None:
    assert all(code.islower() and " " not in code for code in REJECTION_CODES)


def test_the_placed_box_keeps_the_aspect_centred_inside_the_art_box() -> None:
    page = page_for("letter")
    art = page.art
    wide = placed_box((400, 600), page)
    assert wide.width == art.width and wide.x == art.x
    assert abs(wide.width / wide.height - 1.5) < 0.01
    space_above = wide.y - art.y
    space_below = (art.y + art.height) - (wide.y + wide.height)
    assert abs(space_above - space_below) <= 1
    tall = placed_box((3000, 1000), page)
    assert tall.height == art.height and art.x < tall.x


def test_resize_rgb_does_not_touch_its_input_and_is_exact_in_size() -> None:
    photo = np.asarray(_gradient_rgb(), dtype=np.uint8).copy()
    before = photo.copy()
    out = resize_rgb(photo, width=20, height=10)
    assert out.shape == (10, 20, 3) and out.dtype == np.uint8
    assert np.array_equal(photo, before)
    assert resize_rgb(photo, width=200, height=150).shape == (150, 200, 3)


def test_rejections_survive_the_trip_back_from_a_worker_process() -> None:
    import pickle

    from mosaic.imaging.options import InvalidOption

    rejected = pickle.loads(pickle.dumps(ImageRejected("corrupt_image", "the file is cut short")))
    assert (rejected.code, rejected.message) == ("corrupt_image", "the file is cut short")
    invalid = pickle.loads(pickle.dumps(InvalidOption("colors", "must be 4-20")))
    assert (invalid.field, invalid.message, str(invalid)) == ("colors", "must be 4-20", "colors: must be 4-20")
