from __future__ import annotations

import re
import zlib

import pytest
from synthetic_artworks import grid_artwork, photo_artwork, rings_artwork

from mosaic.imaging.pdf import print_pdf

MEDIA_BOX = re.compile(rb"/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\]")
PAGE = re.compile(rb"/Type\s*/Page\b(?!s)")
STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)


def _content_streams(pdf: bytes) -> list[bytes]:
    streams = []
    for raw in STREAM.findall(pdf):
        try:
            streams.append(zlib.decompress(raw))
        except zlib.error:
            continue
    return [s for s in streams if b" re" in s or b" m\n" in s or b"BT" in s]


@pytest.mark.parametrize(("page_name", "size_pt"), [("letter", (612.0, 792.0)), ("a4", (595.0, 842.0))])
def test_every_pdf_page_has_the_page_size_in_points(page_name: str, size_pt: tuple[float, float]) -> None:
    pdf = print_pdf(grid_artwork(page_name=page_name))  # type: ignore[arg-type]
    assert pdf.startswith(b"%PDF-")
    assert len(PAGE.findall(pdf)) == 3, "puzzle, answer and color key"
    boxes = MEDIA_BOX.findall(pdf)
    assert boxes and {(float(w), float(h)) for w, h in boxes} == {size_pt}


def test_the_puzzle_page_draws_the_numbers_as_text_one_per_region() -> None:
    artwork = grid_artwork()
    puzzle = _content_streams(print_pdf(artwork))[0]
    footer_texts = 2
    assert puzzle.count(b") Tj") == artwork.region_count + footer_texts
    assert puzzle.count(b" l\n") >= artwork.region_count * 3, "outlines are vector paths"


def test_the_line_art_pdf_carries_the_ink_as_an_image_and_no_numbers() -> None:
    pdf = print_pdf(rings_artwork(lineart=True))
    assert b"/Subtype /Image" in pdf
    assert _content_streams(pdf)[0].count(b") Tj") == 2


def test_the_pdf_is_byte_identical_on_a_rerun() -> None:
    assert print_pdf(rings_artwork(), title="x") == print_pdf(rings_artwork(), title="x")
    artwork = photo_artwork("chelsea", "cbn")
    assert print_pdf(artwork) == print_pdf(artwork)
    assert b"/CreationDate (D:20240101" in print_pdf(artwork)
