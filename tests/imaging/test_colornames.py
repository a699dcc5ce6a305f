from __future__ import annotations

import re

import numpy as np
import pytest
from synthetic_artworks import photo_artwork

from mosaic.imaging.color import lab_from_rgb
from mosaic.imaging.colornames import color_names

GREY_NAMES = {"black", "soft black", "graphite", "dark grey", "smoke grey", "grey", "ash grey", "silver"}
GREY_NAMES |= {"light grey", "off-white", "white"}


def _plain(name: str) -> str:
    """The table name under a lightness qualifier: "deep ash grey" and "ash grey 2" are "ash grey"."""
    return re.sub(r" \d+$", "", re.sub(r"^(deep|pale) ", "", name))


def test_legend_color_names_are_distinct_and_near_the_colors() -> None:
    palette = np.array([[250, 10, 10], [245, 15, 15], [20, 200, 30], [255, 255, 255]], dtype=np.uint8)
    names = color_names(palette)
    assert len(set(names)) == len(names)
    assert names[2] == "green" and names[3] == "white"


def test_two_dark_colors_sharing_a_name_are_never_called_pale() -> None:
    # Both darker than the table's navy (#1b2a5e, L* 18.5): the lighter of them is plain "navy".
    palette = np.array([[20, 25, 70], [26, 34, 88], [200, 200, 200]], dtype=np.uint8)
    assert color_names(palette)[:2] == ["deep navy", "navy"]


@pytest.mark.parametrize("mode", ["hex", "cbn"])
def test_the_greyscale_camera_photo_gets_only_grey_names(mode: str) -> None:
    names = color_names(photo_artwork("camera", mode).palette_rgb)  # type: ignore[arg-type]
    assert len(set(names)) == len(names)
    assert {_plain(name) for name in names} <= GREY_NAMES, names


def test_a_ramp_of_greys_gets_grey_names_dark_to_light() -> None:
    levels = np.linspace(0, 255, 12).astype(np.uint8)
    names = color_names(np.repeat(levels[:, None], 3, axis=1))
    assert {_plain(name) for name in names} <= GREY_NAMES, names
    assert names[0] == "black" and names[-1] == "white"


def test_known_colors_get_their_own_names() -> None:
    palette = np.array(
        [[224, 32, 32], [58, 168, 69], [40, 85, 208], [139, 90, 43], [128, 128, 128], [0, 0, 0]],
        dtype=np.uint8,
    )
    assert color_names(palette) == ["red", "green", "blue", "brown", "grey", "black"]


@pytest.mark.parametrize("mode", ["hex", "cbn"])
def test_the_brown_cat_photo_gets_no_grey_names(mode: str) -> None:
    palette = photo_artwork("chelsea", mode).palette_rgb  # type: ignore[arg-type]
    lab = lab_from_rgb(palette)
    assert float(np.hypot(lab[:, 1], lab[:, 2]).min()) > 8.0  # every color visibly tinted
    names = color_names(palette)
    assert not {_plain(name) for name in names} & GREY_NAMES, names
