"""Uploaded bytes → an RGB photo, safely, at the resolution the page needs.

The format is sniffed from the bytes (never the filename); only PNG, JPEG and WebP are accepted.
The size in the header is checked before any pixel is decoded, so a decompression bomb costs a
header read. EXIF orientation is applied, transparency is flattened onto white, and greyscale,
palette, CMYK and 16-bit input all come out as 8-bit RGB.
"""

from __future__ import annotations

import io
import math
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from mosaic.imaging.artwork import Box, Page

IMAGE_PIXELS_MAX: Final = 40_000_000
IMAGE_SIDE_PX_MIN: Final = 8  # below this there is nothing to draw on a page
IMAGE_ASPECT_MAX: Final = 12.0  # beyond this the placed art is too thin to hold a number
ACCEPTED_TYPES: Final = "PNG, JPEG or WebP"

# Magic numbers of formats we accept (Pillow plugin name) and of ones we name when refusing.
_ACCEPTED_MAGIC: Final = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"))
_KNOWN_REFUSED_MAGIC: Final = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"%PDF", "PDF"),
    (b"8BPS", "PSD"),
)
_U8_FROM_U16_DIVISOR: Final = 257.0  # 65535 / 255: a 16-bit level to an 8-bit one
_EXIF_ORIENTATION_TAG: Final = 0x0112
_TRANSPOSE_FOR_ORIENTATION: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

class ImageRejected(ValueError):
    """The upload is not a photo we can use; `code` is stable, the message says what to fix.

    Codes: ``unsupported_image_type``, ``corrupt_image``, ``empty_image``, ``image_too_large``,
    ``image_too_small`` (a side under `IMAGE_SIDE_PX_MIN` or an aspect beyond `IMAGE_ASPECT_MAX`).
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[ImageRejected], tuple[str, str]]:
        # Raised in a worker process, it must pickle back whole, or the pool breaks.
        return type(self), (self.code, self.message)


REJECTION_CODES: Final = (
    "unsupported_image_type",
    "corrupt_image",
    "empty_image",
    "image_too_large",
    "image_too_small",
)


def sniff_format(data: bytes) -> str:
    """Return the Pillow format name ("PNG", "JPEG", "WEBP") of `data`, or raise `ImageRejected`."""
    if len(data) == 0:
        raise ImageRejected(
            "empty_image", f"The image is empty (0 bytes): upload a {ACCEPTED_TYPES} file."
        )
    for magic, name in _ACCEPTED_MAGIC:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    found = "an unknown type"
    for magic, name in _KNOWN_REFUSED_MAGIC:
        if data.startswith(magic):
            found = name
    if data[4:8] == b"ftyp":
        found = "HEIC/AVIF"
    raise ImageRejected(
        "unsupported_image_type",
        f"The upload is {found}; accepted image types are PNG, JPEG and WebP.",
    )


def decode_photo(data: bytes, *, max_side_px: int | None = None) -> NDArray[np.uint8]:
    """Decode an uploaded PNG, JPEG or WebP into an upright 8-bit RGB photo.

    Parameters
    ----------
    data
        The uploaded bytes; not modified.
    max_side_px
        If given, the longer side of the result is at most this: the image is reduced by an
        integer factor while decoding (JPEG DCT scaling, `Image.reduce`) and then resampled
        (area) to exactly this longer side. Never enlarged.

    Returns
    -------
    NDArray[np.uint8]
        (H, W, 3) RGB, C-contiguous, EXIF orientation applied, transparency flattened onto white.

    Raises
    ------
    ImageRejected
        With code ``empty_image``, ``unsupported_image_type``, ``image_too_large``,
        ``image_too_small`` or ``corrupt_image``.
    """
    assert max_side_px is None or max_side_px >= 1
    fmt = sniff_format(data)
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            _check_header_size(im.size)
            orientation = _orientation(im)
            _reduce_while_decoding(im, max_side_px)
            im.load()
            rgb_image = _reduced(im, max_side_px)
            rgb = _rgb_from_image(rgb_image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_large() from exc
    except ImageRejected:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError) as exc:
        raise ImageRejected(
            "corrupt_image",
            f"The {fmt} file is truncated or damaged ({exc}); export it again and re-upload.",
        ) from exc
    if max_side_px is not None and max(rgb.shape[:2]) > max_side_px:
        rgb = fit_longer_side(rgb, max_side_px)
    return _oriented(rgb, orientation)


def _too_large() -> ImageRejected:
    return ImageRejected(
        "image_too_large",
        f"The image has more than {IMAGE_PIXELS_MAX // 1_000_000} megapixels; "
        "resize it (e.g. to 12 megapixels) and upload it again.",
    )


def _check_header_size(size: tuple[int, int]) -> None:
    width, height = size
    if width * height > IMAGE_PIXELS_MAX:
        raise _too_large()
    if min(width, height) < IMAGE_SIDE_PX_MIN or max(width, height) > IMAGE_ASPECT_MAX * min(
        width, height
    ):
        raise ImageRejected(
            "image_too_small",
            f"The image is {width}×{height} px; it needs at least {IMAGE_SIDE_PX_MIN} px on each "
            f"side and a long side at most {IMAGE_ASPECT_MAX:g} times the short one.",
        )


def _orientation(im: Image.Image) -> int:
    # PNG keeps eXIf after the pixels, so Pillow decodes them to find it; JPEG/WebP read the header.
    value = im.getexif().get(_EXIF_ORIENTATION_TAG, 1)
    return value if isinstance(value, int) and value in _TRANSPOSE_FOR_ORIENTATION else 1


def _reduction_factor(size: tuple[int, int], max_side_px: int | None) -> int:
    """The largest integer factor that keeps the longer side at or above `max_side_px`."""
    if max_side_px is None:
        return 1
    return max(1, max(size) // max_side_px)


def _reduce_while_decoding(im: Image.Image, max_side_px: int | None) -> None:
    factor = _reduction_factor(im.size, max_side_px)
    if im.format == "JPEG" and factor > 1:
        width, height = im.size
        im.draft(None, (math.ceil(width / factor), math.ceil(height / factor)))


def _reduced(im: Image.Image, max_side_px: int | None) -> Image.Image:
    factor = _reduction_factor(im.size, max_side_px)
    if factor > 1 and im.mode in ("L", "RGB", "RGBA", "LA", "I", "F", "CMYK"):
        return im.reduce(factor)
    return im


def _rgb_from_image(im: Image.Image) -> NDArray[np.uint8]:
    """(H, W, 3) uint8 from any Pillow mode our formats produce; alpha composited onto white."""
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        # 16-bit greyscale PNG ("I;16", or "I" in older Pillow): 0..65535 is black to white
        # whatever the values, so a dark picture stays dark. 65535 / 257 = 255.
        values = np.asarray(im, dtype=np.float64)
        grey = np.clip(np.rint(values / _U8_FROM_U16_DIVISOR), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    has_alpha = "A" in im.mode or "a" in im.mode or "transparency" in im.info
    if not has_alpha:
        return np.array(im.convert("RGB"), dtype=np.uint8)
    rgba = np.asarray(im.convert("RGBA"), dtype=np.uint16)
    alpha = rgba[:, :, 3:4]
    flat = (rgba[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255
    return np.ascontiguousarray(flat.astype(np.uint8))


def fit_longer_side(rgb: NDArray[np.uint8], max_side_px: int) -> NDArray[np.uint8]:
    """`rgb` resampled (area) so that its longer side is exactly `max_side_px`; input untouched."""
    height, width = rgb.shape[:2]
    scale = max_side_px / max(height, width)
    return resize_rgb(
        rgb, width=max(1, round(width * scale)), height=max(1, round(height * scale))
    )


def _oriented(rgb: NDArray[np.uint8], orientation: int) -> NDArray[np.uint8]:
    if orientation == 1:
        return rgb
    turned = Image.fromarray(rgb).transpose(_TRANSPOSE_FOR_ORIENTATION[orientation])
    return np.array(turned, dtype=np.uint8)


def placed_box(photo_hw: tuple[int, int], page: Page) -> Box:
    """The largest box inside `page.art` with the photo's aspect ratio, centred (page pixels).

    Parameters
    ----------
    photo_hw
        (height, width) of the photo in pixels, both ≥ 1.
    page
        The page layout.
    """
    photo_h, photo_w = photo_hw
    assert photo_h >= 1 and photo_w >= 1
    art = page.art
    scale = min(art.width / photo_w, art.height / photo_h)
    width = min(art.width, max(1, round(photo_w * scale)))
    height = min(art.height, max(1, round(photo_h * scale)))
    return Box(
        art.x + (art.width - width) // 2, art.y + (art.height - height) // 2, width, height
    )


def resize_rgb(photo: NDArray[np.uint8], *, width: int, height: int) -> NDArray[np.uint8]:
    """Resample `photo` (H, W, 3) uint8 to (height, width, 3) uint8; input untouched.

    Area averaging when shrinking (no aliasing), Lanczos when enlarging; deterministic.
    """
    assert photo.ndim == 3 and photo.shape[2] == 3 and photo.dtype == np.uint8
    assert width >= 1 and height >= 1
    src_h, src_w = photo.shape[:2]
    if (src_h, src_w) == (height, width):
        return photo.copy()
    shrinking = width <= src_w and height <= src_h
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    out = cv2.resize(np.ascontiguousarray(photo), (width, height), interpolation=interpolation)
    return np.ascontiguousarray(out, dtype=np.uint8)
