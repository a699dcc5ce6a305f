"""Which way up the page goes: `portrait`, `landscape`, or `auto`, where the page turns with the photo.

Under `auto` a photo wider than tall takes a landscape page and any other a portrait one; a photo
within `SQUARE_ASPECT_MAX` of square counts as square and stays portrait, where it prints largest
(the art box of a portrait page is nearly square, a landscape one's is not).

The photo's upright shape is known only once it is decoded (EXIF may turn it), so under `auto` it is
decoded for the more demanding of the two pages and then, on the page chosen, fitted to what that
page needs: the mode never draws from more pixels than under an explicit orientation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
from numpy.typing import NDArray

from mosaic.imaging.artwork import Page, PageOrientation, page_for
from mosaic.imaging.decode import decode_photo, fit_longer_side
from mosaic.imaging.options import Orientation, PageChoice

SQUARE_ASPECT_MAX: Final = 1.05  # width / height up to this is "square"


def upright_orientation(photo_hw: tuple[int, int], orientation: Orientation) -> PageOrientation:
    """The page orientation for a photo of (height, width) `photo_hw` under `orientation`."""
    if orientation != "auto":
        return orientation
    height, width = photo_hw
    assert height >= 1 and width >= 1
    return "landscape" if width > SQUARE_ASPECT_MAX * height else "portrait"


def page_fitting(photo_hw: tuple[int, int], name: PageChoice, orientation: Orientation) -> Page:
    """The `name` page laid out for a photo of (height, width) `photo_hw` under `orientation`."""
    return page_for(name, upright_orientation(photo_hw, orientation))


def decode_for_page(
    data: bytes, name: PageChoice, orientation: Orientation, *, side_px: Callable[[Page], int]
) -> tuple[NDArray[np.uint8], Page]:
    """Decode the upload and choose its page; the photo's longer side is at most `side_px(page)`.

    Raises
    ------
    mosaic.imaging.decode.ImageRejected
        The upload is not a usable photo.
    """
    if orientation != "auto":
        page = page_for(name, orientation)
        return decode_photo(data, max_side_px=side_px(page)), page
    widest = max(side_px(page_for(name, turned)) for turned in ("portrait", "landscape"))
    photo = decode_photo(data, max_side_px=widest)
    page = page_fitting((int(photo.shape[0]), int(photo.shape[1])), name, orientation)
    needed = side_px(page)
    if max(photo.shape[:2]) > needed:
        photo = fit_longer_side(photo, needed)
    return photo, page
