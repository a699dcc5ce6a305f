"""Every output of one artwork, as files: the ZIP bundle and the single-file outputs.

The ZIP holds, in this order: `mystery.png`, `answer.png`, `legend.png`, `full.png`, `beauty.png`,
`puzzle.svg`, `print.pdf`, `palette.json`. Entries carry a fixed timestamp (1980-01-01) and fixed
permissions, PNGs are stored (already compressed) and the rest deflated, so the same artwork gives
the same bytes.

The files are rendered on `RENDER_THREADS` threads (numpy, zlib and Pillow release the GIL for most
of the work), then written in the fixed order, so threading never changes the bytes.

`palette.json`: `{"mode", "page", "colors", "regions", "palette": [{"number", "hex", "rgb", "name",
"count"}, ...]}` in legend order, numbered 1..N, or with `palette=` by the paints' set numbers, each
entry then also carrying the maker's `code` (null where the set's source gives none).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Final, Literal

from mosaic.imaging.artwork import Artwork
from mosaic.imaging.beauty import beauty_from_page, beauty_image
from mosaic.imaging.legend import LegendEntry, legend_entries, legend_page
from mosaic.imaging.pdf import print_pdf
from mosaic.imaging.render import answer_page, full_page, mystery_page, png_bytes
from mosaic.imaging.svg import puzzle_svg
from mosaic.imaging.trace import region_outlines

FileOutput = Literal["mystery", "answer", "legend", "full", "beauty", "svg", "pdf", "palette"]

ZIP_DATE_TIME: Final = (1980, 1, 1, 0, 0, 0)
ZIP_FILE_MODE: Final = 0o100644
ZIP_CREATE_SYSTEM_UNIX: Final = 3
RENDER_THREADS: Final = 2
ZIP_ENTRIES: Final[tuple[tuple[str, FileOutput], ...]] = (
    ("mystery.png", "mystery"),
    ("answer.png", "answer"),
    ("legend.png", "legend"),
    ("full.png", "full"),
    ("beauty.png", "beauty"),
    ("puzzle.svg", "svg"),
    ("print.pdf", "pdf"),
    ("palette.json", "palette"),
)


def palette_document(artwork: Artwork) -> dict[str, Any]:
    """Return the content of `palette.json` (JSON-ready)."""
    return {
        "mode": artwork.mode,
        "page": artwork.page.name,
        "colors": artwork.color_count,
        "regions": artwork.region_count,
        "palette": [
            _entry_document(e, with_code=artwork.paints is not None) for e in legend_entries(artwork)
        ],
    }


def _entry_document(entry: LegendEntry, *, with_code: bool) -> dict[str, Any]:
    """One color of `palette.json`; with paints from a set, also the maker's `code` (null if none)."""
    out: dict[str, Any] = {
        "number": entry.number,
        "hex": entry.hex,
        "rgb": list(entry.rgb),
        "name": entry.name,
        "count": entry.count,
    }
    if with_code:
        out["code"] = entry.code
    return out


def palette_json(artwork: Artwork) -> bytes:
    """Return `palette.json` as UTF-8 bytes (sorted keys, so byte-identical for the same artwork)."""
    return (json.dumps(palette_document(artwork), indent=2, sort_keys=True) + "\n").encode("utf-8")


def _renderers(title: str) -> dict[FileOutput, Callable[[Artwork], bytes]]:
    return {
        "mystery": lambda a: png_bytes(mystery_page(a, title=title)),
        "answer": lambda a: png_bytes(answer_page(a, title=title)),
        "legend": lambda a: png_bytes(legend_page(a, title=title)),
        "full": lambda a: png_bytes(full_page(a, title=title)),
        "beauty": lambda a: png_bytes(beauty_image(a, title=title)),
        "svg": lambda a: puzzle_svg(a, title=title),
        "pdf": lambda a: print_pdf(a, title=title),
        "palette": palette_json,
    }


def render_file(artwork: Artwork, output: FileOutput, *, title: str = "") -> bytes:
    """Return the bytes of one output file of `artwork`."""
    return _renderers(title)[output](artwork)


def _answer_and_beauty(artwork: Artwork, title: str) -> dict[FileOutput, bytes]:
    """The answer page once, encoded, and the preview made from the same page."""
    page = answer_page(artwork, title=title)
    return {"answer": png_bytes(page), "beauty": png_bytes(beauty_from_page(page))}


def _vector_files(artwork: Artwork, title: str) -> dict[FileOutput, bytes]:
    """The SVG and the PDF from one tracing of the regions."""
    outlines = region_outlines(artwork)
    return {
        "svg": puzzle_svg(artwork, title=title, outlines=outlines),
        "pdf": print_pdf(artwork, title=title, outlines=outlines),
    }


def _one(render: Callable[[Artwork], bytes], output: FileOutput, artwork: Artwork) -> dict[FileOutput, bytes]:
    return {output: render(artwork)}


def _all_files(
    artwork: Artwork, title: str, on_file: Callable[[str, int, int], None] | None
) -> dict[FileOutput, bytes]:
    renderers = _renderers(title)
    single: tuple[FileOutput, ...] = ("full", "legend", "mystery", "palette")
    files: dict[FileOutput, bytes] = {}
    with ThreadPoolExecutor(max_workers=RENDER_THREADS, thread_name_prefix="render") as pool:
        jobs = [pool.submit(_answer_and_beauty, artwork, title)]  # the longest jobs first
        jobs.append(pool.submit(_vector_files, artwork, title))
        jobs += [pool.submit(_one, renderers[output], output, artwork) for output in single]
        for job in as_completed(jobs):
            files.update(job.result())
            if on_file is not None:
                on_file(", ".join(job.result()), len(files), len(ZIP_ENTRIES))
    assert set(files) == {output for _, output in ZIP_ENTRIES}
    return files


def bundle_zip(
    artwork: Artwork,
    *,
    title: str = "",
    on_file: Callable[[str, int, int], None] | None = None,
) -> bytes:
    """Return the ZIP of every output, in `ZIP_ENTRIES` order.

    `on_file(outputs, done, total)` is called from this thread as each file is ready.
    """
    files = _all_files(artwork, title, on_file)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, output in ZIP_ENTRIES:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.external_attr = ZIP_FILE_MODE << 16
            info.create_system = ZIP_CREATE_SYSTEM_UNIX
            stored = name.endswith(".png")
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, files[output])
    return buffer.getvalue()
