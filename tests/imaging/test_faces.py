from __future__ import annotations

import numpy as np
import pytest
from synthetic_artworks import ASTRONAUT_FEATURES, IMAGES

from mosaic.imaging.decode import decode_photo
from mosaic.imaging.faces import Face, features_mask, find_faces
from mosaic.imaging.lineoutlines import outline_borders

ASTRONAUT_HAIRLINE_Y = 78  # the hair meets the forehead here, above the eyes


def _photo(name: str) -> np.ndarray:
    return decode_photo((IMAGES / f"{name}.png").read_bytes())


def test_the_astronaut_has_one_face_and_its_features_lie_inside_it() -> None:
    photo = _photo("astronaut")
    faces = find_faces(photo, min_share=0.1)
    assert len(faces) == 1
    height, width = photo.shape[:2]
    mask = features_mask(faces, width=width, height=height)
    for feature, (x0, x1, y0, y1) in ASTRONAUT_FEATURES.items():
        assert mask[(y0 + y1) // 2, (x0 + x1) // 2] and mask[y0:y1, x0:x1].mean() > 0.75, feature
    assert not mask[: ASTRONAUT_HAIRLINE_Y + 1].any()  # the hairline stays an outline


@pytest.mark.parametrize("name", ["chelsea", "coffee", "color", "logo"])
def test_photos_without_a_person_have_no_face(name: str) -> None:
    assert find_faces(_photo(name), min_share=0.05) == ()


def test_faces_too_small_to_draw_are_not_looked_for() -> None:
    photo = _photo("astronaut")
    assert find_faces(photo, min_share=0.5) == ()
    assert find_faces(photo[:20, :20], min_share=0.01) == ()  # smaller than the smallest search window


def test_the_search_is_deterministic_and_scale_free() -> None:
    photo = _photo("astronaut")
    (face,) = find_faces(photo, min_share=0.1)
    assert find_faces(photo, min_share=0.1) == (face,)
    (larger,) = find_faces(np.repeat(np.repeat(photo, 2, axis=0), 2, axis=1), min_share=0.1)
    assert larger.left == pytest.approx(face.left, abs=0.02)
    assert larger.width == pytest.approx(face.width, abs=0.02)


def test_a_border_mostly_inside_the_left_out_zone_goes_whole_and_others_stay_whole() -> None:
    # Three bands: A | B | C. The A|B border at x=20 lies mostly in the zone; B|C at x=40 only
    # crosses its corner.
    segmented = np.zeros((60, 60), dtype=np.int32)
    segmented[:, 20:] = 1
    segmented[:, 40:] = 2
    zone = np.zeros((60, 60), dtype=bool)
    zone[5:55, 10:30] = True
    zone[5:15, 30:45] = True
    everything = outline_borders(segmented, width=60, height=60)
    kept = outline_borders(segmented, width=60, height=60, leave_out=zone)
    assert everything[:, 15:25].any() and everything[:, 35:45].any()
    assert not kept[:, 15:25].any()  # the A|B border is gone, even outside the zone
    assert np.array_equal(kept[:, 35:45], everything[:, 35:45])  # B|C kept, inside the zone too


def test_the_features_of_two_faces_are_both_marked() -> None:
    faces = (Face(0.1, 0.1, 0.2, 0.2), Face(0.6, 0.5, 0.3, 0.3))
    mask = features_mask(faces, width=100, height=100)
    assert mask[22, 20] and mask[68, 75]
    assert not mask[5:10].any() and not mask[:, 45:55].any()
