"""`mosaic generate IMAGE -o FILE`: make a page offline, without an account or credits."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, get_args

from mosaic.imaging.decode import ImageRejected
from mosaic.imaging.options import (
    COLORS_MAX,
    COLORS_MIN,
    DEFAULTS,
    DENSITIES,
    DETAILS,
    ORIENTATIONS,
    OUTPUTS,
    PAGES,
    TILES,
    InvalidOption,
    LocalMode,
    parse_options,
)

Subparsers = Any  # argparse's _SubParsersAction is private

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1  # the output could not be written
EXIT_BAD_INPUT: Final = 2  # unreadable image, bad option or rejected image (argparse uses 2 too)
IMAGE_FILE_BYTES_MAX: Final = 100 * 1024 * 1024
OPTION_FLAGS: Final = (
    "mode", "output", "colors", "page", "preset", "detail", "density", "orientation", "palette", "tiles",
)
LOCAL_MODES: Final[tuple[str, ...]] = get_args(LocalMode)
LOCAL_OUTPUTS: Final[tuple[str, ...]] = tuple(o for o in OUTPUTS if o != "book")  # a book is many photos


def add_generate_command(subparsers: Subparsers) -> None:
    """Register `generate` on the `mosaic` command's sub-parsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "generate",
        help="make a coloring page, color by number or mystery mosaic from a photo (offline)",
        description="Make a page from a photo on this machine: no server, no account, no credits. "
        "Options and defaults are those of POST /api/generate.",
    )
    parser.add_argument("image", type=Path, metavar="IMAGE", help="a PNG, JPEG or WebP photo")
    parser.add_argument("-o", "--out", type=Path, required=True, metavar="FILE", help="where to write")
    parser.add_argument("--mode", help=_choices(LOCAL_MODES, DEFAULTS.mode))
    parser.add_argument("--output", help=_choices(LOCAL_OUTPUTS, DEFAULTS.output))
    colors = f"number of colors, {COLORS_MIN}-{COLORS_MAX} (default {DEFAULTS.colors})"
    parser.add_argument("--colors", help=colors)
    parser.add_argument("--page", help=_choices(PAGES, DEFAULTS.page))
    orientation = f"{_choices(ORIENTATIONS, DEFAULTS.orientation)}; auto turns the page with the photo"
    parser.add_argument("--orientation", help=orientation)
    parser.add_argument("--preset", help="a preset name (overrides the other options)")
    parser.add_argument("--detail", help=f"cbn and lineart: {_choices(DETAILS, DEFAULTS.detail)}")
    parser.add_argument("--density", help=f"hex, voronoi and square: {_choices(DENSITIES, DEFAULTS.density)}")
    parser.add_argument(
        "--palette",
        help="cbn, hex, voronoi and square: a paint set (GET /api/palettes) or 4-64 colors rrggbb,rrggbb,...",
    )
    parser.add_argument("--tiles", help=f"a poster PDF over that many sheets: {_choices(TILES, '1x1')}")
    parser.set_defaults(handler=run_generate)


def _choices(values: tuple[str, ...], default: str) -> str:
    return ", ".join(f"{v} (default)" if v == default else v for v in values)


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> int:
    print(f"mosaic generate: {message}", file=sys.stderr)
    return code


def _read_image(path: Path) -> bytes:
    """Read the photo, refusing directories, missing files and absurd sizes with an OSError."""
    size = path.stat().st_size
    if size > IMAGE_FILE_BYTES_MAX:
        raise OSError(f"{size} bytes; at most {IMAGE_FILE_BYTES_MAX} are accepted")
    return path.read_bytes()


@contextmanager
def _progress_display() -> Iterator[Callable[[str, float], None] | None]:
    """A rich progress bar on stderr when it is a terminal; nothing otherwise."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description:<24}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("start", total=1.0)

        def report(stage: str, fraction: float) -> None:
            progress.update(task, description=stage, completed=fraction)

        yield report


def _write(path: Path, data: bytes) -> None:
    """Write through a temporary file, so a failed run never leaves half a file behind."""
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def run_generate(args: argparse.Namespace) -> int:
    """Handle `mosaic generate`; return the exit status."""
    fields = {name: getattr(args, name) for name in OPTION_FLAGS if getattr(args, name) is not None}
    try:
        options = parse_options(fields)
    except InvalidOption as exc:
        # The API's list of modes and outputs names two this command cannot make: list its own.
        local = {"mode": LOCAL_MODES, "output": LOCAL_OUTPUTS}.get(exc.field)
        if local is not None:
            return _fail(f"--{exc.field}: {fields[exc.field]!r} is not one of {', '.join(local)}")
        return _fail(f"--{exc.field}: {exc.message}")
    if options.mode == "ai":
        return _fail("--mode ai needs the upstream AI service; use the server's /api/generate")
    if options.output == "book":
        return _fail("--output book: a book is one PDF of many photos; use the server's /api/bulk")
    try:
        image = _read_image(args.image)
    except OSError as exc:
        return _fail(f"cannot read {args.image}: {exc.strerror or exc}")
    from mosaic.imaging.pipeline import ModeNotLocal, generate  # a second of imports: not for --help

    try:
        with _progress_display() as report:
            rendered = generate(image, options, on_progress=report)
    except (ImageRejected, ModeNotLocal) as exc:
        return _fail(f"{args.image}: {exc}")
    try:
        _write(args.out, rendered.data)
    except OSError as exc:
        return _fail(f"cannot write {args.out}: {exc.strerror or exc}", EXIT_FAILED)
    if sys.stderr.isatty():
        print(f"wrote {args.out} ({len(rendered.data):,} bytes, {rendered.media_type})", file=sys.stderr)
    return EXIT_OK
