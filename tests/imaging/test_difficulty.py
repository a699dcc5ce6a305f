"""The difficulty report: measured from any region list, a stated time model, a word matching the level."""

from __future__ import annotations

import gc
import io
import json
import weakref
import zipfile
from functools import cache

import numpy as np
import pytest
from synthetic_artworks import IMAGES, grid_artwork, rings_artwork

from mosaic.imaging.artwork import Artwork, mm_from_px
from mosaic.imaging.bundle import palette_document
from mosaic.imaging.difficulty import SECONDS_PER_CM2, SECONDS_PER_REGION, WORDS, artwork_difficulty, measure
from mosaic.imaging.fonts import text_width_px
from mosaic.imaging.legend import FOOTER_TEXT_PX, footer_text
from mosaic.imaging.options import parse_options
from mosaic.imaging.orientation import decode_for_page
from mosaic.imaging.pipeline import _analyse, _photo_side_px, generate
from mosaic.imaging.presets import preset_title, presets_catalogue

CM2_PX = (10.0 / mm_from_px(1.0)) ** 2  # 300 dpi pixels in a cm²
MOSAIC_MODES = ("hex", "voronoi", "square")


def test_the_time_is_seconds_per_region_plus_seconds_per_cm2_painted() -> None:
    areas = np.full(300, round(2 * CM2_PX), dtype=np.int64)  # 300 regions of 2 cm²
    colors = (np.arange(300) % 7).astype(np.int32)
    report = measure(areas, colors, number_size_pt=12.0, line_width_pt=0.75)
    painted = 300 * round(2 * CM2_PX) / CM2_PX
    assert report.painted_cm2 == pytest.approx(painted)
    assert report.minutes == pytest.approx((300 * SECONDS_PER_REGION + painted * SECONDS_PER_CM2) / 60)
    assert (report.regions, report.colors_used) == (300, 7)
    assert report.smallest_region_mm2 == pytest.approx(200.0, rel=1e-4)
    assert report.word == "easy"  # 650 s a dm², 12 pt numbers: the easiest reading both ways
    denser = measure(areas // 2, colors, number_size_pt=12.0, line_width_pt=0.75)
    assert denser.word == "standard"  # 100 regions a dm²: 900 s, the standard bound


def test_the_word_is_the_hardest_reading_work_or_print() -> None:
    big = np.full(40, round(25 * CM2_PX), dtype=np.int64)
    colors = np.zeros(40, dtype=np.int32)
    assert measure(big, colors, number_size_pt=10.0, line_width_pt=1.0).word == "easy"
    assert measure(big, colors, number_size_pt=8.0, line_width_pt=1.0).word == "standard"
    assert measure(big, colors, number_size_pt=6.0, line_width_pt=1.0).word == "expert"
    assert measure(big, colors, number_size_pt=None, line_width_pt=3.0).word == "easy"
    assert measure(big, colors, number_size_pt=None, line_width_pt=0.75).word == "expert"
    tiny = np.full(4000, round(0.2 * CM2_PX), dtype=np.int64)  # 500 cells a dm²: hours of work
    assert measure(tiny, np.zeros(4000, dtype=np.int32), number_size_pt=12.0, line_width_pt=0.75).word == "expert"


def test_the_report_of_a_known_grid_counts_its_cells_sizes_and_colors() -> None:
    artwork = grid_artwork(cells_x=9, cells_y=11, colors=12, cell_px=200)
    report = artwork_difficulty(artwork)
    assert report.regions == 99
    assert report.smallest_region_mm2 == pytest.approx(200 * 200 * mm_from_px(1.0) ** 2)
    assert report.smallest_number_pt == artwork.number_size_pt
    assert report.colors_used == 12
    rings = artwork_difficulty(rings_artwork(lineart=True))
    assert rings.smallest_number_pt is None and rings.regions == 3


@cache
def _preset_artwork(preset: str, photo: str) -> Artwork:
    options = parse_options({"preset": preset})
    data = (IMAGES / f"{photo}.png").read_bytes()
    rgb, page = decode_for_page(data, options.page, options.orientation, side_px=_photo_side_px(options))
    return _analyse(rgb, options, page)


PRESET_CASES = [
    (preset["name"], photo)
    for preset in presets_catalogue()
    for photo in (("astronaut", "coffee") if preset["fields"]["mode"] in MOSAIC_MODES else ("astronaut",))
]


@pytest.mark.parametrize(("preset", "photo"), PRESET_CASES)
def test_every_presets_page_reports_the_word_of_its_level_and_fits_its_footer(preset: str, photo: str) -> None:
    level = next(p["level"] for p in presets_catalogue() if p["name"] == preset)
    artwork = _preset_artwork(preset, photo)
    report = artwork_difficulty(artwork)
    assert report.word == level, report
    footer = footer_text(artwork, preset_title(preset))
    assert f"  ·  {report.word}: {report.regions} " in footer
    room = artwork.page.band.width - text_width_px("Mosaic Studio", FOOTER_TEXT_PX) - 40
    assert text_width_px(footer, FOOTER_TEXT_PX) <= room, footer


def test_palette_json_carries_the_report_and_its_stated_model() -> None:
    data = generate((IMAGES / "chelsea.png").read_bytes(), parse_options({"mode": "square"})).data
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        document = json.loads(archive.read("palette.json"))
    report = document["difficulty"]
    assert report["word"] in WORDS and report["unit"] == "squares"
    assert report["regions"] == document["regions"]
    assert report["model"]["seconds_per_region"] == SECONDS_PER_REGION
    assert report["model"]["seconds_per_cm2"] == SECONDS_PER_CM2
    assert "minutes =" in report["model"]["text"]
    expected = (report["regions"] * SECONDS_PER_REGION + report["painted_cm2"] * SECONDS_PER_CM2) / 60
    assert report["estimated_minutes"] == pytest.approx(expected, abs=1)
    assert set(report) >= {"smallest_region_mm2", "smallest_number_pt", "colors_used"}


def test_the_legend_footer_states_the_report() -> None:
    artwork = grid_artwork(mode="square")
    report = artwork_difficulty(artwork)
    assert report.summary("squares") in footer_text(artwork, "")
    assert palette_document(artwork)["difficulty"]["word"] == report.word


def test_the_report_of_each_artwork_is_its_own_and_a_finished_artwork_is_not_kept_alive() -> None:
    small, large = grid_artwork(cells_x=3, cells_y=4), grid_artwork(cells_x=9, cells_y=11)
    assert artwork_difficulty(small).regions == 12
    assert artwork_difficulty(large).regions == 99
    assert artwork_difficulty(small).regions == 12
    labels = weakref.ref(small.labels)
    del small
    gc.collect()
    assert labels() is None


def _drawn_by_the_raster_font(character: str) -> bool:
    """Whether the pages' raster font has a glyph for `character` (not the box it draws for none)."""
    from mosaic.imaging.fonts import sans

    font = sans(40)
    return bytes(font.getmask(character)) != bytes(font.getmask("\u4e00"))  # a CJK ideograph: surely none


@pytest.mark.parametrize("mode", ["cbn", "hex", "square", "lineart"])
def test_every_character_of_a_footer_is_one_the_raster_pages_can_draw(mode: str) -> None:
    text = footer_text(grid_artwork(mode=mode), "A title")  # type: ignore[arg-type]
    assert [c for c in set(text) if not c.isspace() and not _drawn_by_the_raster_font(c)] == []


def test_every_paint_name_and_code_is_one_the_raster_legend_can_draw() -> None:
    from mosaic.imaging.palettes import catalogue

    text = "".join(f"{paint.name}{paint.code or ''}" for paint_set in catalogue() for paint in paint_set.paints)
    assert sorted(c for c in set(text) if not c.isspace() and not _drawn_by_the_raster_font(c)) == []
