"""Cheap checks of an upload before anything is charged: type, size in the header, completeness.

`screen_image` reads the header (never the pixels) and walks the file's structure: a PNG's chunks
(lengths and CRCs, through IEND), a JPEG's end-of-image marker after its last scan, a WebP's RIFF
length. So an empty file, a text file named `.jpg`, a decompression bomb and a truncated file are
refused in milliseconds; only damage inside compressed pixel data (with valid CRCs) is left for the
decoder to find.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from PIL import Image

from mosaic.imaging.decode import (
    IMAGE_ASPECT_MAX,
    IMAGE_PIXELS_MAX,
    IMAGE_SIDE_PX_MIN,
    ImageRejected,
    sniff_format,
)

_PNG_SIGNATURE_BYTES: Final = 8
_PNG_CHUNK_HEADER_BYTES: Final = 8
_PNG_CRC_BYTES: Final = 4
_JPEG_START_OF_SCAN: Final = b"\xff\xda"
_JPEG_END_OF_IMAGE: Final = b"\xff\xd9"
_RIFF_HEADER_BYTES: Final = 8


@dataclass(frozen=True, slots=True)
class ImageHeader:
    format: str  # Pillow's name: PNG, JPEG, WEBP
    width_px: int
    height_px: int


def _corrupt(fmt: str, what: str) -> ImageRejected:
    return ImageRejected(
        "corrupt_image", f"The {fmt} file is truncated or damaged ({what}); export it again and re-upload."
    )


def _check_png(data: bytes) -> None:
    """Walk every chunk: each must fit in the file with a matching CRC, and IEND must be reached."""
    offset = _PNG_SIGNATURE_BYTES
    seen_data = False
    while offset + _PNG_CHUNK_HEADER_BYTES <= len(data):
        length, kind = struct.unpack_from(">I4s", data, offset)
        body_end = offset + _PNG_CHUNK_HEADER_BYTES + length
        if body_end + _PNG_CRC_BYTES > len(data):
            raise _corrupt("PNG", f"the {kind.decode('latin-1')} chunk is cut short")
        (crc,) = struct.unpack_from(">I", data, body_end)
        if zlib.crc32(data[offset + 4 : body_end]) != crc:
            raise _corrupt("PNG", f"the {kind.decode('latin-1')} chunk's checksum is wrong")
        seen_data = seen_data or kind == b"IDAT"
        if kind == b"IEND":
            if not seen_data:
                raise _corrupt("PNG", "it holds no image data")
            return
        offset = body_end + _PNG_CRC_BYTES
    raise _corrupt("PNG", "it ends before its IEND chunk")


def _check_jpeg(data: bytes) -> None:
    # Entropy-coded data never holds FF D9 (an FF there is followed by 00 or a restart marker), so a
    # file whose last scan is not followed by an end-of-image marker was cut short.
    last_scan = data.rfind(_JPEG_START_OF_SCAN)
    if last_scan < 0:
        raise _corrupt("JPEG", "it has no image data")
    if data.rfind(_JPEG_END_OF_IMAGE) < last_scan:
        raise _corrupt("JPEG", "it ends inside its image data")


def _check_webp(data: bytes) -> None:
    (riff_bytes,) = struct.unpack_from("<I", data, 4)
    if _RIFF_HEADER_BYTES + riff_bytes > len(data):
        raise _corrupt("WebP", "it is shorter than its header says")


_STRUCTURE_CHECKS: Final[dict[str, Callable[[bytes], None]]] = {
    "PNG": _check_png,
    "JPEG": _check_jpeg,
    "WEBP": _check_webp,
}


def _header_size(data: bytes, fmt: str) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            return im.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large(f"the header claims {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, struct.error) as exc:
        raise _corrupt(fmt, str(exc) or type(exc).__name__) from exc


def _too_large(what: str) -> ImageRejected:
    return ImageRejected(
        "image_too_large",
        f"The image is too large ({what}); at most {IMAGE_PIXELS_MAX // 1_000_000} megapixels are "
        "accepted: resize it (e.g. to 12 megapixels) and upload it again.",
    )


def _check_size(width_px: int, height_px: int) -> None:
    if width_px * height_px > IMAGE_PIXELS_MAX:
        raise _too_large(f"{width_px}×{height_px} px")
    short, long = sorted((width_px, height_px))
    if short < IMAGE_SIDE_PX_MIN or long > IMAGE_ASPECT_MAX * short:
        raise ImageRejected(
            "image_too_small",
            f"The image is {width_px}×{height_px} px; it needs at least {IMAGE_SIDE_PX_MIN} px on each "
            f"side and a long side at most {IMAGE_ASPECT_MAX:g} times the short one.",
        )


def screen_image(data: bytes) -> ImageHeader:
    """Check `data` as an upload without decoding its pixels.

    Raises
    ------
    ImageRejected
        ``empty_image``, ``unsupported_image_type``, ``corrupt_image``, ``image_too_large`` or
        ``image_too_small``, as `decode_photo` would, but from the header and structure alone.
    """
    fmt = sniff_format(data)
    width_px, height_px = _header_size(data, fmt)
    _check_size(width_px, height_px)
    _STRUCTURE_CHECKS[fmt](data)
    return ImageHeader(fmt, width_px, height_px)
