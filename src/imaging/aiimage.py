"""Pictures to and from the upstream AI service: checked PNGs out, coloring pages in.

Pure functions of bytes and arrays (picklable, so a process pool can run them). The upstream is
trusted to draw, not to be well-formed: every picture it sends is decoded with the same limits as an
upload before it is used, and anything that is not clean line art goes through the line-art pipeline.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from mosaic.imaging.artwork import Artwork
from mosaic.imaging.bundle import bundle_zip, render_file
from mosaic.imaging.decode import IMAGE_PIXELS_MAX, ImageRejected, decode_photo, resize_rgb, sniff_format
from mosaic.imaging.lineart import lineart_artwork, lineart_from_drawing
from mosaic.imaging.options import GenerateOptions
from mosaic.imaging.orientation import page_fitting
from mosaic.imaging.pipeline import MEDIA_TYPES, Rendered
from mosaic.imaging.presets import preset_title

# The upstream's canvases, (width, height) in pixels: the spec's sizes.
CANVASES_PX: Final[dict[str, tuple[int, int]]] = {
    "1024x1024": (1024, 1024),
    "1024x1536": (1024, 1536),
    "1536x1024": (1536, 1024),
}
UPSTREAM_SIDE_PX_MAX: Final = 1536
INK_LEVEL: Final = 128  # darker than this is ink
GREY_LOW: Final = 48  # between these a pixel is neither ink nor paper: shading
GREY_HIGH: Final = 208
INK_FRACTION_MAX: Final = 0.25  # a coloring page is mostly paper
GREY_FRACTION_MAX: Final = 0.06  # and has (almost) no shading
PAPER_RGB: Final = (255, 255, 255)

assert 0 < GREY_LOW < INK_LEVEL < GREY_HIGH < 255
assert all(max(size) <= UPSTREAM_SIDE_PX_MAX for size in CANVASES_PX.values())


class UnusablePhoto(ValueError):
    """The upload did not decode after all (screening passed). One argument, so it pickles."""


class UnusableDrawing(ValueError):
    """The upstream's picture does not decode. One argument, so it pickles out of a worker."""


def png_from_upstream(data: bytes) -> bytes:
    """Re-encode a picture from the upstream (PNG, JPEG or WebP) as PNG, transparency kept.

    Raises
    ------
    mosaic.imaging.decode.ImageRejected
        `data` is not a picture that decodes, or it is over `IMAGE_PIXELS_MAX`.
    """
    fmt = sniff_format(data)
    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as im:
            width, height = im.size
            if width * height > IMAGE_PIXELS_MAX or min(width, height) < 1:
                raise ImageRejected("image_too_large", f"the picture is {width} x {height} pixels")
            im.load()
            has_alpha = "A" in im.mode or "transparency" in im.info
            picture = im.convert("RGBA" if has_alpha else "RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected("image_too_large", "the picture is over the pixel limit") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError) as exc:
        if isinstance(exc, ImageRejected):
            raise
        raise ImageRejected("corrupt_image", f"the {fmt} picture does not decode ({exc})") from exc
    out = io.BytesIO()
    picture.save(out, format="PNG", compress_level=6)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class UpstreamPhoto:
    """A photo made ready for the edits endpoint: padded onto the nearest canvas."""

    png: bytes
    size: str  # one of CANVASES_PX
    rgb: NDArray[np.uint8]  # (h, w, 3) the same picture, to color the reference page from


def canvas_for(height_px: int, width_px: int) -> str:
    """The canvas whose aspect is nearest the photo's (in log ratio)."""
    assert height_px >= 1 and width_px >= 1
    aspect = float(np.log(width_px / height_px))

    def distance(name: str) -> float:
        canvas_w, canvas_h = CANVASES_PX[name]
        return abs(float(np.log(canvas_w / canvas_h)) - aspect)

    return min(CANVASES_PX, key=distance)


def photo_for_upstream(image_bytes: bytes) -> UpstreamPhoto:
    """Decode an upload, fit it inside the nearest canvas on white paper, and encode that as PNG.

    Padding (not cropping or stretching) keeps the whole subject and its proportions, so the
    upstream's drawing lines up with the photo well enough to color the reference page from it.

    Raises
    ------
    UnusablePhoto
        The upload does not decode.
    """
    try:
        photo = decode_photo(image_bytes, max_side_px=UPSTREAM_SIDE_PX_MAX)
    except ImageRejected as exc:
        raise UnusablePhoto(exc.message) from None
    height, width = int(photo.shape[0]), int(photo.shape[1])
    size = canvas_for(height, width)
    canvas_w, canvas_h = CANVASES_PX[size]
    scale = min(canvas_w / width, canvas_h / height)
    fit_w, fit_h = max(1, min(canvas_w, round(width * scale))), max(1, min(canvas_h, round(height * scale)))
    canvas = np.empty((canvas_h, canvas_w, 3), dtype=np.uint8)
    canvas[:] = PAPER_RGB
    top, left = (canvas_h - fit_h) // 2, (canvas_w - fit_w) // 2
    canvas[top : top + fit_h, left : left + fit_w] = resize_rgb(photo, width=fit_w, height=fit_h)
    out = io.BytesIO()
    Image.fromarray(canvas).save(out, format="PNG", compress_level=1)
    return UpstreamPhoto(png=out.getvalue(), size=size, rgb=canvas)


def is_line_art(drawing_gray: NDArray[np.uint8]) -> bool:
    """Whether (H, W) uint8 `drawing_gray` is usable as it is: mostly paper, ink, and little grey."""
    assert drawing_gray.ndim == 2 and drawing_gray.dtype == np.uint8
    pixels = drawing_gray.size
    ink = int(np.count_nonzero(drawing_gray < INK_LEVEL)) / pixels
    grey = int(np.count_nonzero((drawing_gray >= GREY_LOW) & (drawing_gray <= GREY_HIGH))) / pixels
    return ink <= INK_FRACTION_MAX and grey <= GREY_FRACTION_MAX


def ai_coloring_artwork(
    drawing_bytes: bytes, reference_rgb: NDArray[np.uint8], options: GenerateOptions
) -> Artwork:
    """The coloring page of an upstream drawing, laid out like `lineart`.

    Clean line art is traced as drawn (`lineart_from_drawing`, colored from `reference_rgb`, the
    photo as sent); anything else (shading, fills, a photo back) has its lines found by the
    line-art pipeline, as a photo would.

    Raises
    ------
    UnusableDrawing
        The upstream's bytes are not a picture.
    """
    try:
        drawing = decode_photo(drawing_bytes, max_side_px=UPSTREAM_SIDE_PX_MAX)
    except ImageRejected as exc:
        raise UnusableDrawing(exc.message) from None
    page = page_fitting((int(drawing.shape[0]), int(drawing.shape[1])), options.page, options.orientation)
    gray = np.asarray(Image.fromarray(drawing).convert("L"), dtype=np.uint8)
    if not is_line_art(gray):
        return lineart_artwork(drawing, page=page, detail=options.detail, colors=options.colors)
    height, width = gray.shape
    reference = resize_rgb(reference_rgb, width=width, height=height)
    return lineart_from_drawing(
        gray, page=page, detail=options.detail, colors=options.colors, reference_rgb=reference
    )


def render_ai_coloring(
    drawing_bytes: bytes, reference_rgb: NDArray[np.uint8], options: GenerateOptions
) -> Rendered:
    """`options.output` of the coloring page made from an upstream drawing (see `ai_coloring_artwork`)."""
    artwork = ai_coloring_artwork(drawing_bytes, reference_rgb, options)
    title = preset_title(options.preset) if options.preset else ""
    if options.output == "zip":
        return Rendered(bundle_zip(artwork, title=title), MEDIA_TYPES["zip"], "zip")
    assert options.output != "book", "books come from bulk requests, which refuse mode=ai"
    extension = "svg" if options.output == "svg" else "png"
    return Rendered(render_file(artwork, options.output, title=title), MEDIA_TYPES[extension], extension)
