"""Faces in a photo, so that a coloring page can draw them with care.

A coloring page's closed outlines come from a coarse segmentation, which follows lighting as
readily as shape: on a face it draws the shadow beside the nose and across a cheek, and the eye
and mouth strokes that fall near that shadow line are then dropped as its echo. Where a face is
found, line art keeps the eyes, brows, nose and mouth from the photo's edges and leaves the shadow
out (see `lineart`).

Faces are found by OpenCV's frontal-face Haar cascade (Viola–Jones), shipped with OpenCV 4 and
deterministic: a few tens of milliseconds on a photo brought down to `DETECT_SIDE_PX`. It finds
upright, frontal faces; a profile or a pet's face is simply not found, and its page is drawn as
any other.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import cv2
import numpy as np
from numpy.typing import NDArray

DETECT_SIDE_PX: Final = 480  # the photo's longer side when searching; faces are large on a page
CASCADE_FILE: Final = "haarcascade_frontalface_default.xml"
CASCADE_WINDOW_PX: Final = 24  # the cascade's smallest face: it was trained on 24×24 windows
SCALE_STEP: Final = 1.1  # the cascade's window grows by this factor per scale
NEIGHBOURS_MIN: Final = 5  # overlapping detections needed to accept a face (fewer false faces)
# The cascade's box runs from mid-forehead to chin and between the cheeks. The features (brows,
# eyes, nose, mouth) lie in an ellipse centred this far down the box, with these half-axes as
# fractions of the box: clear of the hairline above and of the face's contour at the sides.
FEATURES_CENTRE_Y: Final = 0.6
FEATURES_HALF_WIDTH: Final = 0.42
FEATURES_HALF_HEIGHT: Final = 0.38


@dataclass(frozen=True, slots=True)
class Face:
    """A face's box as fractions (0..1) of the photo's width and height, so any scale can use it."""

    left: float
    top: float
    width: float
    height: float


def find_faces(rgb: NDArray[np.uint8], *, min_share: float) -> tuple[Face, ...]:
    """The upright frontal faces in `rgb` (H, W, 3) uint8, largest first.

    Parameters
    ----------
    rgb
        The photo; not modified.
    min_share
        Faces narrower than this fraction of the photo's longer side are not looked for (they
        print too small for their features to be drawn anyway).
    """
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8, rgb.shape
    height, width = rgb.shape[:2]
    scale = min(1.0, DETECT_SIDE_PX / max(height, width))
    small_w, small_h = max(1, round(width * scale)), max(1, round(height * scale))
    small: NDArray[np.uint8] = np.ascontiguousarray(rgb)
    if scale < 1.0:
        resized = cv2.resize(small, (small_w, small_h), interpolation=cv2.INTER_AREA)
        small = np.asarray(resized, dtype=np.uint8)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    side_min = max(CASCADE_WINDOW_PX, round(min_share * max(small_w, small_h)))
    if side_min > min(small_w, small_h):
        return ()
    found = _cascade().detectMultiScale(
        grey, scaleFactor=SCALE_STEP, minNeighbors=NEIGHBOURS_MIN, minSize=(side_min, side_min)
    )
    boxes = sorted((tuple(int(v) for v in box) for box in found), key=lambda b: (-b[2] * b[3], b[0], b[1]))
    return tuple(Face(x / small_w, y / small_h, w / small_w, h / small_h) for x, y, w, h in boxes)


def features_mask(faces: tuple[Face, ...], *, width: int, height: int) -> NDArray[np.bool_]:
    """(height, width) bool: where every face's brows, eyes, nose and mouth lie, at this size."""
    mask = np.zeros((height, width), dtype=np.uint8)
    for face in faces:
        centre = (
            round((face.left + face.width / 2) * width),
            round((face.top + face.height * FEATURES_CENTRE_Y) * height),
        )
        axes = (
            round(face.width * width * FEATURES_HALF_WIDTH),
            round(face.height * height * FEATURES_HALF_HEIGHT),
        )
        cv2.ellipse(mask, centre, axes, 0, 0, 360, 1, thickness=-1)
    return mask.astype(bool)


_CASCADES: Final[str] = str(Path(cv2.__file__).parent / "data")  # cv2.data.haarcascades, typed
_local = threading.local()  # a classifier is not safe to share between threads: one each


def _cascade() -> cv2.CascadeClassifier:
    cascade: cv2.CascadeClassifier | None = getattr(_local, "cascade", None)
    if cascade is None:
        path = f"{_CASCADES}/{CASCADE_FILE}"
        cascade = cv2.CascadeClassifier(path)
        if cascade.empty():  # OpenCV 5 wheels no longer ship the cascades: pyproject pins OpenCV 4
            raise RuntimeError(f"OpenCV's face cascade is missing: {path}")
        _local.cascade = cascade
    return cascade
