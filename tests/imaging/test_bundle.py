from __future__ import annotations

import io
import json
import zipfile

from synthetic_artworks import grid_artwork, photo_artwork

from mosaic.imaging.bundle import ZIP_DATE_TIME, bundle_zip, palette_document
from mosaic.imaging.legend import legend_entries

DOCUMENTED_ENTRIES = [
    "mystery.png",
    "answer.png",
    "legend.png",
    "full.png",
    "beauty.png",
    "puzzle.svg",
    "print.pdf",
    "palette.json",
]


def test_the_zip_holds_exactly_the_documented_files_in_order_with_fixed_timestamps() -> None:
    archive = zipfile.ZipFile(io.BytesIO(bundle_zip(grid_artwork())))
    assert archive.namelist() == DOCUMENTED_ENTRIES
    assert archive.testzip() is None
    for info in archive.infolist():
        assert info.date_time == ZIP_DATE_TIME
        assert (info.external_attr >> 16) & 0o777 == 0o644
    assert archive.read("mystery.png").startswith(b"\x89PNG")
    assert archive.read("print.pdf").startswith(b"%PDF-")
    assert archive.read("puzzle.svg").startswith(b"<?xml")


def test_palette_json_numbers_run_1_to_n_and_match_the_legend() -> None:
    artwork = photo_artwork("coffee", "hex")
    archive = zipfile.ZipFile(io.BytesIO(bundle_zip(artwork)))
    document = json.loads(archive.read("palette.json"))
    assert document == palette_document(artwork)
    palette = document["palette"]
    assert [e["number"] for e in palette] == list(range(1, artwork.color_count + 1))
    for entry, legend in zip(palette, legend_entries(artwork), strict=True):
        assert (entry["hex"], tuple(entry["rgb"]), entry["name"]) == (legend.hex, legend.rgb, legend.name)
        assert entry["count"] == legend.count
    assert sum(e["count"] for e in palette) == artwork.region_count == document["regions"]
    assert set(palette[0]) == {"number", "hex", "rgb", "name", "count"}


def test_the_zip_is_byte_identical_on_a_rerun() -> None:
    artwork = photo_artwork("coffee", "voronoi")
    assert bundle_zip(artwork, title="t") == bundle_zip(artwork, title="t")
