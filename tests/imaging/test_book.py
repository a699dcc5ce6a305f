from __future__ import annotations

import io
from functools import cache

import pypdf
import pytest
from synthetic_artworks import IMAGES, grid_artwork, rings_artwork

from mosaic.imaging.book import BLEED_IN, book_page, book_pdf
from mosaic.imaging.options import InvalidOption, parse_options
from mosaic.imaging.pipeline import generate
from mosaic.imaging.printart import PRINT_ART_MEDIA_TYPE, decode, print_art
from mosaic.imaging.trace import region_outlines

PT = 72.0
COFFEE = (IMAGES / "coffee.png").read_bytes()


def _art(kind: str = "grid", page: str = "letter"):  # type: ignore[no-untyped-def]
    artwork = {"grid": grid_artwork, "rings": rings_artwork}[kind](page_name=page)  # type: ignore[operator]
    return print_art(artwork, region_outlines(artwork))


@cache
def _coffee_art(mode: str):  # type: ignore[no-untyped-def]
    rendered = generate(COFFEE, parse_options({"mode": mode, "output": "book"}))
    assert (rendered.media_type, rendered.extension) == (PRINT_ART_MEDIA_TYPE, "art")
    return decode(rendered.data)


def _read(pdf: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(pdf))


def _box(box: pypdf.generic.RectangleObject) -> tuple[float, ...]:
    return tuple(round(float(v), 2) for v in (box.left, box.bottom, box.right, box.top))


def test_a_book_has_a_title_page_a_page_per_puzzle_and_one_per_answer() -> None:
    arts = [_art("grid"), _art("rings"), _art("grid")]
    reader = _read(book_pdf(arts, title="Summer puzzles", page="letter", bleed=False))
    assert len(reader.pages) == 1 + 3 + 3
    assert "Summer puzzles" in reader.pages[0].extract_text()
    assert len(_read(book_pdf(arts, title="  ", page="letter", bleed=False)).pages) == 6, "no title, no title page"


def _texts(page: pypdf.PageObject) -> list[tuple[str, float, float]]:
    """Each text shown on `page`, with where it starts (pt from the bottom left)."""
    found: list[tuple[str, float, float]] = []

    def visit(text: str, cm: list[float], tm: list[float], font: object, size: float) -> None:
        if text.strip():
            found.append((text.strip(), cm[4] + tm[4], cm[5] + tm[5]))

    page.extract_text(visitor_text=visit)
    return found


def test_every_page_but_the_title_carries_its_page_number_at_the_foot() -> None:
    reader = _read(book_pdf([_art("grid"), _art("rings")], title="T", page="letter", bleed=False))
    assert not any(text == "1" for text, _, _ in _texts(reader.pages[0]))
    for number, page in enumerate(reader.pages[1:], start=2):
        foot = [(text, x) for text, x, y in _texts(page) if y < 0.75 * PT]
        numbers = [x for text, x in foot if text == str(number)]
        assert len(numbers) == 1, (number, foot)
        assert 280 < numbers[0] < 330, "centred under the band"
    assert "Answer to page 2" in reader.pages[3].extract_text()
    assert "Answer to page 3" in reader.pages[4].extract_text()


@pytest.mark.parametrize(("page", "trim"), [("letter", (8.5 * PT, 11 * PT)), ("a4", (595.0, 842.0))])
def test_without_bleed_the_trim_box_is_the_page(page: str, trim: tuple[float, float]) -> None:
    reader = _read(book_pdf([_art("grid", page)], title="T", page=page, bleed=False))  # type: ignore[arg-type]
    for sheet in reader.pages:
        whole = (0.0, 0.0, *trim)
        assert _box(sheet.mediabox) == whole
        assert _box(sheet.trimbox) == whole and _box(sheet.bleedbox) == whole
        assert "/TrimBox" in sheet and "/BleedBox" in sheet, "written, not defaulted to the MediaBox"


def test_a_bleed_grows_the_page_by_an_eighth_inch_on_every_side_around_the_trim_box() -> None:
    bleed = BLEED_IN * PT
    reader = _read(book_pdf([_art("grid"), _art("rings")], title="T", page="letter", bleed=True))
    for sheet in reader.pages:
        assert _box(sheet.mediabox) == (0.0, 0.0, 612 + 2 * bleed, 792 + 2 * bleed)
        assert _box(sheet.bleedbox) == _box(sheet.mediabox)
        assert _box(sheet.trimbox) == (bleed, bleed, 612 + bleed, 792 + bleed)


def test_the_book_embeds_its_font() -> None:
    reader = _read(book_pdf([_art("grid")], title="Ünïcode títle", page="letter", bleed=False))
    fonts = []
    for sheet in reader.pages:
        for ref in sheet["/Resources"]["/Font"].values():
            font = ref.get_object()
            descriptor = font["/DescendantFonts"][0].get_object()["/FontDescriptor"].get_object()
            assert "/FontFile2" in descriptor, "a TrueType program in the file"
            fonts.append(str(font["/BaseFont"]))
    assert fonts and all("DejaVuSans" in name for name in fonts)
    assert "Ünïcode títle" in reader.pages[0].extract_text()


def test_puzzles_stay_clear_of_the_gutter_on_both_sides_of_the_spread() -> None:
    page = book_page("letter")
    inside_in = (page.art.x / 300) + 0.125  # the narrowed margin plus the shift away from the binding
    outside_in = (page.art.x / 300) - 0.125
    assert inside_in >= 0.75 and outside_in >= 0.5
    art = _art("grid")
    assert art.box[0] >= page.art.x * PT / 300 - 1e-6, "laid out inside the narrowed art box"


def test_the_same_puzzles_give_a_byte_identical_book() -> None:
    arts = [_coffee_art("cbn"), _coffee_art("hex")]
    first = book_pdf(arts, title="Twice", page="a4", bleed=True)
    again = book_pdf([_coffee_art("cbn"), _coffee_art("hex")], title="Twice", page="a4", bleed=True)
    assert first == again
    assert len(_read(first).pages) == 5


def test_a_book_page_draws_what_the_single_pdf_draws() -> None:
    art = _coffee_art("cbn")
    assert art.region_count > 20 and len(art.legend) == 12
    assert decode(generate(COFFEE, parse_options({"mode": "cbn", "output": "book"})).data) == art


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"title": "x"}, "title"),
        ({"bleed": "0.125in"}, "bleed"),
        ({"output": "book", "bleed": "0.25in"}, "bleed"),
        ({"output": "book", "title": "x" * 81}, "title"),
        ({"output": "book", "title": "two\nlines"}, "title"),
        ({"output": "book", "orientation": "landscape"}, "orientation"),  # a book's trim is portrait
    ],
)
def test_book_fields_are_refused_where_they_do_not_apply_or_are_malformed(
    fields: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidOption) as refused:
        parse_options(fields)
    assert refused.value.field == field


def test_a_books_pages_stay_portrait_for_a_wide_photo_under_auto() -> None:
    import io

    from PIL import Image

    from mosaic.imaging.pipeline import _decoded

    wide = io.BytesIO()
    Image.new("RGB", (600, 300), (200, 120, 40)).save(wide, format="PNG")
    photo, page = _decoded(wide.getvalue(), parse_options({"output": "book"}))
    assert photo.shape[1] > photo.shape[0]
    assert (page.width_px, page.height_px, page.orientation) == (2550, 3300, "portrait")  # the trim never turns
    _, single = _decoded(wide.getvalue(), parse_options({}))
    assert single.orientation == "landscape"  # where a single page would
