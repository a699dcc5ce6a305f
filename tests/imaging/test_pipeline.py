from __future__ import annotations

import io
import multiprocessing
import pickle
import zipfile
from concurrent.futures import ProcessPoolExecutor
from functools import cache

import pytest
from PIL import Image
from synthetic_artworks import IMAGES, photo_artwork

from mosaic.imaging.bundle import render_file
from mosaic.imaging.decode import ImageRejected
from mosaic.imaging.options import GenerateOptions, parse_options
from mosaic.imaging.options import LocalMode as Mode
from mosaic.imaging.pipeline import ModeNotLocal, Rendered, generate

COFFEE = (IMAGES / "coffee.png").read_bytes()
ZIP_NAMES = {
    "mystery": "mystery.png",
    "answer": "answer.png",
    "legend": "legend.png",
    "full": "full.png",
    "beauty": "beauty.png",
    "svg": "puzzle.svg",
}


@cache
def _zip(mode: str) -> bytes:
    return generate(COFFEE, parse_options({"mode": mode})).data


def test_the_zip_output_is_a_zip_and_byte_identical_on_a_rerun() -> None:
    rendered = generate(COFFEE, GenerateOptions())
    assert (rendered.media_type, rendered.extension) == ("application/zip", "zip")
    assert rendered.data == _zip("hex")


@pytest.mark.parametrize("output", list(ZIP_NAMES))
def test_each_single_output_is_the_same_file_as_in_the_zip(output: str) -> None:
    rendered = generate(COFFEE, parse_options({"output": output}))
    expected_type = "image/svg+xml" if output == "svg" else "image/png"
    assert rendered.media_type == expected_type
    assert rendered.extension == ("svg" if output == "svg" else "png")
    assert rendered.data == zipfile.ZipFile(io.BytesIO(_zip("hex"))).read(ZIP_NAMES[output])


@pytest.mark.parametrize("mode", ["voronoi", "cbn", "lineart"])
def test_every_local_mode_makes_a_letter_page_byte_identical_on_a_rerun(mode: Mode) -> None:
    rendered = generate(COFFEE, parse_options({"mode": mode, "output": "full", "orientation": "portrait"}))
    assert Image.open(io.BytesIO(rendered.data)).size == (2550, 3300)
    # The rerun: the same photo and defaults, analysed once this session by the artwork tests.
    assert rendered.data == render_file(photo_artwork("coffee", mode), "full")


def test_an_a4_request_makes_an_a4_page() -> None:
    rendered = generate(COFFEE, parse_options({"page": "a4", "output": "mystery", "orientation": "portrait"}))
    assert Image.open(io.BytesIO(rendered.data)).size == (2480, 3508)


def test_progress_is_reported_in_order_from_0_to_1() -> None:
    seen: list[tuple[str, float]] = []
    generate(COFFEE, GenerateOptions(output="svg"), on_progress=lambda s, f: seen.append((s, f)))
    fractions = [fraction for _, fraction in seen]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert seen[-1][0] == "done"


def test_ai_mode_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ModeNotLocal, match="upstream AI"):
        generate(COFFEE, parse_options({"mode": "ai"}))


def test_a_file_that_is_not_a_photo_is_rejected() -> None:
    with pytest.raises(ImageRejected):
        generate(b"GIF89a not really", GenerateOptions())


def test_generate_runs_in_a_spawned_process_pool() -> None:
    options = parse_options({"output": "svg"})
    assert pickle.loads(pickle.dumps(options)) == options
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        rendered = pool.submit(generate, COFFEE, options).result(timeout=120)
    assert isinstance(rendered, Rendered)
    assert rendered == generate(COFFEE, options)


def test_a_preset_title_is_printed_on_the_page() -> None:
    rendered = generate(COFFEE, parse_options({"preset": "kids-hex", "output": "svg"}))
    assert b"<title>First mystery mosaic</title>" in rendered.data
