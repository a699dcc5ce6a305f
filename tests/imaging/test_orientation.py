"""Orientation: `auto` turns the page with the photo; `portrait` and `landscape` are obeyed as asked."""

from __future__ import annotations

import io
import json
import re
import zipfile
from functools import cache

import numpy as np
import pytest
from PIL import Image
from synthetic_artworks import IMAGES

from mosaic.imaging.artwork import Page, page_for
from mosaic.imaging.decode import decode_photo
from mosaic.imaging.options import LocalMode as Mode
from mosaic.imaging.options import PageChoice, parse_options
from mosaic.imaging.orientation import decode_for_page, upright_orientation
from mosaic.imaging.pipeline import generate

COFFEE = (IMAGES / "coffee.png").read_bytes()  # 600×400: landscape
LANDSCAPE_PX = {"letter": (3300, 2550), "a4": (3508, 2480)}
LANDSCAPE_PT = {"letter": (792.0, 612.0), "a4": (842.0, 595.0)}
PNG_ENTRIES = ("mystery.png", "answer.png", "legend.png", "full.png")
MEDIA_BOX = re.compile(rb"/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\]")
SVG_VIEW_BOX = re.compile(rb'viewBox="0 0 ([0-9.]+) ([0-9.]+)"')
LOCAL_MODES: tuple[Mode, ...] = ("hex", "voronoi", "cbn", "lineart")


def _png(width: int, height: int, *, exif_orientation: int | None = None, fmt: str = "PNG") -> bytes:
    rows, cols = np.mgrid[0:height, 0:width]
    rgb = np.stack([rows * 255 // height, cols * 255 // width, (rows + cols) % 256], axis=2).astype(np.uint8)
    image = Image.fromarray(rgb)
    buffer = io.BytesIO()
    if exif_orientation is None:
        image.save(buffer, format=fmt)
    else:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        image.save(buffer, format=fmt, exif=exif)
    return buffer.getvalue()


@cache
def _zip(mode: Mode, page: PageChoice, orientation: str = "") -> bytes:
    fields = {"mode": mode, "page": page, "orientation": orientation}
    return generate(COFFEE, parse_options(fields)).data


@pytest.mark.parametrize("page", ["letter", "a4"])
@pytest.mark.parametrize("mode", LOCAL_MODES)
def test_a_landscape_photo_gives_landscape_pages_of_the_exact_size_in_every_mode_and_output(
    mode: Mode, page: PageChoice
) -> None:
    with zipfile.ZipFile(io.BytesIO(_zip(mode, page))) as archive:
        for name in PNG_ENTRIES:
            assert Image.open(io.BytesIO(archive.read(name))).size == LANDSCAPE_PX[page], name
        beauty = Image.open(io.BytesIO(archive.read("beauty.png")))
        assert beauty.width > beauty.height
        view_box = SVG_VIEW_BOX.search(archive.read("puzzle.svg"))
        assert view_box is not None and tuple(map(float, view_box.groups())) == LANDSCAPE_PT[page]
        boxes = {tuple(map(float, box)) for box in MEDIA_BOX.findall(archive.read("print.pdf"))}
        assert boxes == {LANDSCAPE_PT[page]}
        palette = json.loads(archive.read("palette.json"))
        assert (palette["page"], palette["orientation"]) == (page, "landscape")


def test_the_same_landscape_request_gives_byte_identical_output() -> None:
    assert generate(COFFEE, parse_options({"mode": "hex"})).data == _zip("hex", "letter")


def test_auto_is_the_default_and_equals_asking_for_landscape_for_a_landscape_photo() -> None:
    assert _zip("hex", "letter", "landscape") == _zip("hex", "letter")


def test_portrait_is_obeyed_for_a_landscape_photo_and_landscape_for_a_square_one() -> None:
    portrait = generate(COFFEE, parse_options({"output": "mystery", "orientation": "portrait"}))
    assert Image.open(io.BytesIO(portrait.data)).size == (2550, 3300)
    square = (IMAGES / "astronaut.png").read_bytes()
    landscape = generate(square, parse_options({"output": "mystery", "orientation": "landscape", "page": "a4"}))
    assert Image.open(io.BytesIO(landscape.data)).size == (3508, 2480)


@pytest.mark.parametrize(
    ("height", "width", "expected"),
    [(400, 600, "landscape"), (600, 400, "portrait"), (370, 371, "portrait"), (500, 500, "portrait"),
     (400, 421, "landscape")],
)
def test_auto_turns_the_page_for_a_photo_wider_than_tall_and_keeps_near_squares_portrait(
    height: int, width: int, expected: str
) -> None:
    assert upright_orientation((height, width), "auto") == expected
    assert upright_orientation((height, width), "portrait") == "portrait"
    assert upright_orientation((height, width), "landscape") == "landscape"


def test_auto_follows_the_exif_orientation_not_the_stored_pixels() -> None:
    turned = _png(600, 400, exif_orientation=6, fmt="JPEG")  # stored landscape, shown portrait
    photo, page = decode_for_page(turned, "letter", "auto", side_px=lambda p: max(p.art.width, p.art.height))
    assert photo.shape[:2] == (600, 400)
    assert (page.orientation, page.width_px, page.height_px) == ("portrait", 2550, 3300)


@pytest.mark.parametrize(("width", "height"), [(4000, 1500), (1500, 4000)])
def test_under_auto_the_photo_is_decoded_no_larger_than_its_page_needs(width: int, height: int) -> None:
    data = _png(width, height)

    def side(page: Page) -> int:
        return max(page.art.width, page.art.height)

    photo, page = decode_for_page(data, "letter", "auto", side_px=side)
    explicit = decode_photo(data, max_side_px=side(page))
    assert photo.shape == explicit.shape
    assert page == page_for("letter", "landscape" if width > height else "portrait")


def test_a_landscape_page_keeps_the_margins_and_the_legend_band_along_the_bottom() -> None:
    for name in ("letter", "a4"):
        portrait, landscape = page_for(name, "portrait"), page_for(name, "landscape")
        assert (landscape.width_px, landscape.height_px) == (portrait.height_px, portrait.width_px)
        assert landscape.margin_px == portrait.margin_px
        assert landscape.band.height == portrait.band.height
        assert landscape.band.y + landscape.band.height == landscape.height_px - landscape.margin_px
        assert landscape.art.width > landscape.art.height
