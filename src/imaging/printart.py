"""What a PDF page of one artwork draws, in page points: compact, and encodable as bytes.

The label map of a Letter page is ~20 MB; what its PDF pages draw (the traced outer rings, the
numbers' places, the palette and the legend) is a few hundred kB. A book's pages are drawn in one
document from many images analysed in worker processes, so each worker sends back this (as
msgpack bytes), never its `Artwork`. `pdf.py` draws every PDF page from it, so a single PDF and a
book's page cannot disagree.
"""

from __future__ import annotations

from typing import cast

import msgspec
import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.artwork import Artwork, Box, pt_from_px
from mosaic.imaging.legend import footer_text, legend_entries, with_code
from mosaic.imaging.options import LocalMode
from mosaic.imaging.trace import Outline, page_pt_from_art_px

PRINT_ART_MEDIA_TYPE = "application/vnd.mosaic.print-art+msgpack"

Rect = tuple[float, float, float, float]  # x, y, width, height in pt, y down from the page's top


class LegendRow(msgspec.Struct, frozen=True, array_like=True):
    number: int
    rgb: tuple[int, int, int]
    hex: str
    name: str
    count: int
    code: str | None = None  # the maker's code of a named paint

    def detail(self, text: str) -> str:
        return with_code(self.code, text)


class PrintArt(msgspec.Struct, frozen=True):
    """One artwork as its PDF pages draw it. Arrays are little-endian bytes (see the properties)."""

    mode: str
    title: str
    footer: str  # `footer_text(artwork, title)`
    page_pt: tuple[float, float]
    box: Rect  # where the picture is
    art: Rect  # the page's art box (the legend page's text column)
    band: Rect  # the band under the art box: legend and footer
    line_width_pt: float
    number_size_pt: float
    numbered: bool
    points: bytes  # float32 (P, 2): every region's outer rings, regions largest first (painter order)
    ring_ends: bytes  # int32 (Q,): where each ring's points end in `points`
    ring_region: bytes  # int32 (Q,): the region of each ring
    region_color: bytes  # int32 (R,): palette index of each region
    anchors: bytes  # float32 (R, 2): where each region's number is centred
    palette: bytes  # uint8 (N, 3)
    legend: list[LegendRow]
    numbers: list[int]  # the number printed for each palette index (a paint keeps its set's number)
    ink_shape: tuple[int, int] = (0, 0)  # line art: the ink's (H, W) at 300 dpi, packed in `ink`
    ink: bytes = b""

    @property
    def local_mode(self) -> LocalMode:
        return cast(LocalMode, self.mode)

    @property
    def region_count(self) -> int:
        return len(self.region_color) // 4

    def rings(self) -> list[tuple[int, NDArray[np.float32]]]:
        """(region, (K, 2) points) of every outer ring, in painter order."""
        points = np.frombuffer(self.points, dtype="<f4").reshape(-1, 2)
        ends = np.frombuffer(self.ring_ends, dtype="<i4").tolist()
        regions = np.frombuffer(self.ring_region, dtype="<i4").tolist()
        starts = [0, *ends[:-1]]
        return [(r, points[s:e]) for r, s, e in zip(regions, starts, ends, strict=True)]

    def colors(self) -> NDArray[np.int32]:
        return np.frombuffer(self.region_color, dtype="<i4").astype(np.int32)

    def anchor_points(self) -> NDArray[np.float32]:
        return np.frombuffer(self.anchors, dtype="<f4").reshape(-1, 2)

    def palette_rgb(self) -> NDArray[np.uint8]:
        return np.frombuffer(self.palette, dtype=np.uint8).reshape(-1, 3)

    def ink_mask(self) -> NDArray[np.bool_] | None:
        if not self.ink:
            return None
        height, width = self.ink_shape
        bits = np.unpackbits(np.frombuffer(self.ink, dtype=np.uint8), count=height * width)
        return bits.reshape(height, width).astype(bool)


def rect_pt(box: Box) -> Rect:
    return pt_from_px(box.x), pt_from_px(box.y), pt_from_px(box.width), pt_from_px(box.height)


def print_art(artwork: Artwork, outlines: list[Outline], *, title: str = "") -> PrintArt:
    """The PDF pages' view of `artwork`, whose regions' outlines are `outlines` (`region_outlines`)."""
    order = sorted(range(len(outlines)), key=lambda region: (-outlines[region].area_px, region))
    rings = [(region, ring) for region in order for ring in outlines[region].outers]
    points = [page_pt_from_art_px(artwork, ring).astype("<f4") for _, ring in rings]
    ends = np.cumsum([len(p) for p in points], dtype=np.int64).astype("<i4")
    anchors = page_pt_from_art_px(artwork, artwork.anchors_xy.astype(np.float64)).astype("<f4")
    ink, ink_shape = b"", (0, 0)
    if artwork.ink is not None:
        ink, ink_shape = np.packbits(artwork.ink).tobytes(), (artwork.ink.shape[0], artwork.ink.shape[1])
    page = artwork.page
    return PrintArt(
        mode=artwork.mode,
        title=title.strip(),
        footer=footer_text(artwork, title),
        page_pt=(page.width_pt, page.height_pt),
        box=rect_pt(artwork.box),
        art=rect_pt(page.art),
        band=rect_pt(page.band),
        line_width_pt=artwork.line_width_pt,
        number_size_pt=artwork.number_size_pt,
        numbered=artwork.numbered,
        points=(np.concatenate(points) if points else np.zeros((0, 2), "<f4")).tobytes(),
        ring_ends=ends.tobytes(),
        ring_region=np.array([region for region, _ in rings], dtype="<i4").tobytes(),
        region_color=artwork.region_color.astype("<i4").tobytes(),
        anchors=anchors.tobytes(),
        palette=artwork.palette_rgb.astype(np.uint8).tobytes(),
        legend=[LegendRow(e.number, e.rgb, e.hex, e.name, e.count, e.code) for e in legend_entries(artwork)],
        numbers=[artwork.number_of(color) for color in range(len(artwork.palette_rgb))],
        ink_shape=ink_shape,
        ink=ink,
    )


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(PrintArt)


def encode(art: PrintArt) -> bytes:
    return _ENCODER.encode(art)


def decode(data: bytes) -> PrintArt:
    return _DECODER.decode(data)
