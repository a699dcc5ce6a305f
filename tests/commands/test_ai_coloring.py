"""`mode=ai`: a photo through the fake upstream's edits endpoint, out as a line-art page."""

from __future__ import annotations

import asyncio
import io
import pickle
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from mosaic.commands.ai import ai_coloring
from mosaic.commands.upstream import AiUnavailable, Upstream, UpstreamConfig, UpstreamFailed
from mosaic.imaging.aiimage import (
    UnusableDrawing,
    UnusablePhoto,
    canvas_for,
    is_line_art,
    photo_for_upstream,
)
from mosaic.imaging.bundle import ZIP_ENTRIES
from mosaic.imaging.options import parse_options
from tests.fakes.openai_server import FakeImages, picture_bytes, serving

PHOTO = (Path(__file__).resolve().parents[1] / "fixtures" / "images" / "chelsea.png").read_bytes()
KEY = "sk-coloring-test-0123456789abcdef"


@pytest.fixture
def fake() -> Iterator[FakeImages]:
    with serving() as running:
        yield running


def _upstream(base_url: str) -> Upstream:
    return Upstream(UpstreamConfig(base_url=base_url, api_key=KEY, model="gpt-image-1", timeout_s=10, concurrency=2))


class _Pool:
    """Stands in for `Generations.in_pool`: runs the job in a thread, counts jobs."""

    def __init__(self) -> None:
        self.jobs: list[str] = []

    async def __call__(self, fn: Any, *args: Any) -> Any:
        self.jobs.append(fn.__name__)
        return await asyncio.to_thread(fn, *args)


def _coloring(upstream: Upstream, pool: _Pool, **fields: str) -> Any:
    options = parse_options({"mode": "ai", **fields})
    return asyncio.run(ai_coloring(upstream, pool, PHOTO, options))


def test_the_photo_goes_to_the_edits_endpoint_with_the_hint_and_comes_back_as_a_lineart_zip(
    fake: FakeImages,
) -> None:
    pool = _Pool()
    rendered = _coloring(_upstream(fake.base_url), pool, hint="a sleepy tabby cat", output="zip")
    assert (rendered.media_type, rendered.extension) == ("application/zip", "zip")
    with zipfile.ZipFile(io.BytesIO(rendered.data)) as bundle:
        assert bundle.namelist() == [name for name, _ in ZIP_ENTRIES]
    sent = fake.requests[-1]
    assert sent["path"] == "images/edits" and fake.calls == 1
    assert "a sleepy tabby cat" in sent["prompt"] and sent["image_bytes"] > 1000
    assert (sent["model"], sent["quality"], sent["n"]) == ("gpt-image-1", "low", "1")
    with Image.open(io.BytesIO(PHOTO)) as im:
        assert sent["size"] == canvas_for(im.height, im.width)
    assert pool.jobs == ["photo_for_upstream", "render_ai_coloring"]
    assert fake.authorizations == [f"Bearer {KEY}"]


@pytest.mark.parametrize("picture", ["shaded", "JPEG"])
def test_an_upstream_picture_that_is_not_clean_line_art_still_makes_a_page(
    fake: FakeImages, picture: str
) -> None:
    fake.picture = picture  # type: ignore[assignment]
    rendered = _coloring(_upstream(fake.base_url), _Pool(), output="mystery")
    assert rendered.media_type == "image/png"
    with Image.open(io.BytesIO(rendered.data)) as page:
        assert page.width > 2000  # a 300 dpi page


def test_an_unusable_upstream_picture_is_an_upstream_failure(fake: FakeImages) -> None:
    fake.behaviour = "not_image"
    with pytest.raises(UpstreamFailed, match="unusable"):
        _coloring(_upstream(fake.base_url), _Pool(), output="mystery")


def test_without_an_upstream_nothing_runs(fake: FakeImages) -> None:
    pool = _Pool()
    with pytest.raises(AiUnavailable):
        _coloring(_upstream(""), pool)
    assert pool.jobs == [] and fake.calls == 0


def test_a_photo_is_padded_onto_the_nearest_canvas_without_stretching() -> None:
    tall = Image.new("RGB", (300, 520), (200, 30, 30))
    out = io.BytesIO()
    tall.save(out, format="PNG")
    prepared = photo_for_upstream(out.getvalue())
    assert prepared.size == "1024x1536" and prepared.rgb.shape == (1536, 1024, 3)
    with Image.open(io.BytesIO(prepared.png)) as sent:
        assert sent.size == (1024, 1536)
    row = prepared.rgb[768]  # narrower than the canvas: white on both sides, the photo whole between
    assert (row[0] == 255).all() and (row[-1] == 255).all() and (row[512] == (200, 30, 30)).all()
    assert (prepared.rgb[0, 512] == (200, 30, 30)).all() and (prepared.rgb[-1, 512] == (200, 30, 30)).all()
    assert [canvas_for(100, 100), canvas_for(100, 160), canvas_for(160, 100)] == [
        "1024x1024", "1536x1024", "1024x1536",
    ]


def test_clean_line_art_is_recognised_and_shading_or_heavy_ink_is_not() -> None:
    def gray(data: bytes) -> np.ndarray[Any, np.dtype[np.uint8]]:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("L"), dtype=np.uint8)

    assert is_line_art(gray(picture_bytes("PNG", 256, 256, drawing=True)))
    assert not is_line_art(gray(picture_bytes("shaded", 256, 256, drawing=True)))
    assert not is_line_art(np.zeros((64, 64), dtype=np.uint8))


def test_what_the_pool_jobs_raise_survives_the_trip_out_of_a_worker_process() -> None:
    for error in (UnusablePhoto("the photo is truncated"), UnusableDrawing("not a picture")):
        assert repr(pickle.loads(pickle.dumps(error))) == repr(error)
