"""Perceptual color: sRGB ↔ CIELAB (D65), CIEDE2000, and a seeded k-means palette.

We work in CIELAB rather than OKLab because the yardstick of the whole imaging engine is CIEDE2000
(color fidelity in the benchmark, the just-noticeable difference between palette colors), and
CIEDE2000 is defined on CIELAB: clustering, separating and measuring in the same space means the
numbers we print are the numbers we optimised. Clustering itself uses the Euclidean distance in
CIELAB (ΔE76), which is what k-means needs (a mean minimises it); ΔE00 then judges the result.
"""

from __future__ import annotations

from typing import Any, Final

import cv2
import numpy as np
from numpy.typing import NDArray
from scipy.spatial.distance import cdist

KMEANS_SAMPLES_MAX: Final = 20_000  # a deterministic subsample bounds the cost of any photo
KMEANS_ITERATIONS_MAX: Final = 40
KMEANS_RESTARTS: Final = 3  # k-means++ seeds tried; the lowest weighted inertia wins
PALETTE_COLORS_MAX: Final = 64
JND_DELTA_E: Final = 2.3  # a just-noticeable difference in CIEDE2000
SPREAD_DELTA_E_MIN: Final = 3 * JND_DELTA_E  # invented extra colors are at least this distinct
PALETTE_REPAIR_ROUNDS_MAX: Final = 8  # merge-and-reseed rounds before seeding without refining
NEAREST_CHUNK_PIXELS: Final = 1 << 18  # bounds the (pixels × colors) distance matrix

_WHITE_D65_XYZ: Final = np.array([0.95047, 1.0, 1.08883], dtype=np.float64)
_XYZ_FROM_LINEAR_RGB: Final = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ],
    dtype=np.float64,
)
_LINEAR_RGB_FROM_XYZ: Final = np.linalg.inv(_XYZ_FROM_LINEAR_RGB)
_EPSILON: Final = 216.0 / 24389.0
_KAPPA: Final = 24389.0 / 27.0


def _linear_from_srgb(values: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.where(values <= 0.04045, values / 12.92, ((values + 0.055) / 1.055) ** 2.4)


def _srgb_from_linear(values: NDArray[np.float64]) -> NDArray[np.float64]:
    clipped = np.clip(values, 0.0, 1.0)
    return np.where(clipped <= 0.0031308, clipped * 12.92, 1.055 * clipped ** (1.0 / 2.4) - 0.055)


# Row vectors: xyz / white = linear_rgb @ this.
_WHITE_NORMALISED_XYZ_FROM_RGB_T: Final = (_XYZ_FROM_LINEAR_RGB.T / _WHITE_D65_XYZ[None, :]).astype(
    np.float32
)
_LINEAR_FROM_U8: Final = _linear_from_srgb(np.arange(256, dtype=np.float64) / 255.0).astype(np.float32)


def lab_from_rgb(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """CIELAB (D65, 2°) of 8-bit sRGB colors.

    Parameters
    ----------
    rgb
        (..., 3) uint8 sRGB; not modified.

    Returns
    -------
    NDArray[np.float32]
        (..., 3) float32: L in 0..100, a and b roughly -128..127.
    """
    assert rgb.dtype == np.uint8 and rgb.shape[-1] == 3
    linear = _LINEAR_FROM_U8[rgb]
    xyz = linear @ _WHITE_NORMALISED_XYZ_FROM_RGB_T
    f = np.where(xyz > _EPSILON, np.cbrt(xyz), (_KAPPA * xyz + 16.0) / 116.0).astype(np.float32)
    return _lab_from_f(f)


# Rows X, Y, Z over the white's: what `cv2.transform` applies to each linear RGB pixel.
_WHITE_NORMALISED_XYZ_FROM_RGB: Final = np.ascontiguousarray(_WHITE_NORMALISED_XYZ_FROM_RGB_T.T)


def quick_lab_from_rgb(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """`lab_from_rgb` to within float32 rounding (2e-4), four times faster, through OpenCV.

    A table lookup for the sRGB curve, one 3×3 transform per pixel and OpenCV's power for the cube
    root (five times numpy's float32 `cbrt`). `lab_from_rgb` stays the reference (cbn, mosaics and
    fidelity use it); line art, whose thresholds no 2e-4 moves, uses this.

    Parameters
    ----------
    rgb
        (..., 3) uint8 sRGB; not modified.

    Returns
    -------
    NDArray[np.float32]
        (..., 3) float32: L in 0..100, a and b roughly -128..127.
    """
    assert rgb.dtype == np.uint8 and rgb.shape[-1] == 3
    xyz = _xyz_of(rgb, _WHITE_NORMALISED_XYZ_FROM_RGB)
    f = _f_of(xyz)
    return _lab_from_f(f)


def lightness_from_rgb(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """CIELAB L (0..100) of 8-bit sRGB colors (..., 3): `quick_lab_from_rgb(rgb)[..., 0]`, computing
    only Y; ten times faster than `lab_from_rgb`.

    Returns
    -------
    NDArray[np.float32]
        (...) float32.
    """
    assert rgb.dtype == np.uint8 and rgb.shape[-1] == 3
    y = _xyz_of(rgb, _WHITE_NORMALISED_XYZ_FROM_RGB[1:2])[..., 0]
    out: NDArray[np.float32] = 116.0 * _f_of(y) - 16.0
    return out


def _lab_from_f(f: NDArray[np.float32]) -> NDArray[np.float32]:
    """CIELAB (..., 3) float32 from CIELAB's f of X, Y and Z over the white's (..., 3) float32."""
    lab = np.empty(f.shape, dtype=np.float32)
    lab[..., 0] = 116.0 * f[..., 1] - 16.0
    lab[..., 1] = 500.0 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200.0 * (f[..., 1] - f[..., 2])
    return lab


def _xyz_of(rgb: NDArray[np.uint8], rows: NDArray[np.float32]) -> NDArray[np.float32]:
    """(..., len(rows)) float32: `rows` applied to the linear RGB of every pixel of `rgb` (..., 3)."""
    pixels = np.ascontiguousarray(rgb).reshape(-1, 1, 3)
    linear = cv2.LUT(pixels, _LINEAR_FROM_U8)
    out = np.asarray(cv2.transform(linear, rows), dtype=np.float32)
    return out.reshape(*rgb.shape[:-1], len(rows))


def _f_of(xyz: NDArray[np.float32]) -> NDArray[np.float32]:
    """CIELAB's f: the cube root above `_EPSILON`, a line below it (float32, elementwise)."""
    f = np.asarray(cv2.pow(xyz.reshape(-1, 1), 1.0 / 3.0), dtype=np.float32).reshape(xyz.shape)
    dark = xyz <= _EPSILON
    if bool(dark.any()):
        f[dark] = (_KAPPA * xyz[dark] + 16.0) / 116.0
    return f


def rgb_from_lab(lab: NDArray[np.float32]) -> NDArray[np.float32]:
    """sRGB in 0..1 (float32, clipped to the gamut) of CIELAB colors (..., 3)."""
    assert lab.shape[-1] == 3
    lab64 = np.asarray(lab, dtype=np.float64)
    fy = (lab64[..., 0] + 16.0) / 116.0
    fx = fy + lab64[..., 1] / 500.0
    fz = fy - lab64[..., 2] / 200.0
    f = np.stack([fx, fy, fz], axis=-1)
    xyz = np.where(f**3 > _EPSILON, f**3, (116.0 * f - 16.0) / _KAPPA) * _WHITE_D65_XYZ
    linear = xyz @ _LINEAR_RGB_FROM_XYZ.T
    return _srgb_from_linear(linear).astype(np.float32)


def rgb_u8_from_lab(lab: NDArray[np.float32]) -> NDArray[np.uint8]:
    """8-bit sRGB (..., 3) uint8 of CIELAB colors (..., 3), rounded and clipped to the gamut."""
    out: NDArray[np.uint8] = np.clip(np.rint(rgb_from_lab(lab) * 255.0), 0, 255).astype(np.uint8)
    return out


def delta_e_2000(
    lab1: NDArray[np.float32], lab2: NDArray[np.float32], *, single: bool = False
) -> NDArray[np.float32]:
    """CIEDE2000 color difference (kL = kC = kH = 1), vectorised with broadcasting.

    Parameters
    ----------
    lab1, lab2
        (..., 3) CIELAB arrays that broadcast against each other; not modified.
    single
        Compute in float32 (about twice as fast, within 1e-4 of float64): for costs that only
        rank colors, not for a measurement.

    Returns
    -------
    NDArray[np.float32]
        (...) float32 differences, ≥ 0.
    """
    dtype = np.float32 if single else np.float64
    a: NDArray[np.floating[Any]] = np.asarray(lab1, dtype=dtype)
    b: NDArray[np.floating[Any]] = np.asarray(lab2, dtype=dtype)
    l1, a1, b1 = a[..., 0], a[..., 1], a[..., 2]
    l2, a2, b2 = b[..., 0], b[..., 1], b[..., 2]
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2.0
    g = 0.5 * (1.0 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1p, a2p = (1.0 + g) * a1, (1.0 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360.0
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360.0
    chroma_zero = (c1p * c2p) == 0.0
    dh = h2p - h1p
    dh = np.where(dh > 180.0, dh - 360.0, np.where(dh < -180.0, dh + 360.0, dh))
    dh = np.where(chroma_zero, 0.0, dh)
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2.0 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh / 2.0))
    l_mean, cp_mean = (l1 + l2) / 2.0, (c1p + c2p) / 2.0
    h_sum = h1p + h2p
    h_mean = np.where(
        np.abs(h1p - h2p) <= 180.0,
        h_sum / 2.0,
        np.where(h_sum < 360.0, (h_sum + 360.0) / 2.0, (h_sum - 360.0) / 2.0),
    )
    h_mean = np.where(chroma_zero, h_sum, h_mean)
    t = (
        1.0
        - 0.17 * np.cos(np.radians(h_mean - 30.0))
        + 0.24 * np.cos(np.radians(2.0 * h_mean))
        + 0.32 * np.cos(np.radians(3.0 * h_mean + 6.0))
        - 0.20 * np.cos(np.radians(4.0 * h_mean - 63.0))
    )
    s_l = 1.0 + 0.015 * (l_mean - 50.0) ** 2 / np.sqrt(20.0 + (l_mean - 50.0) ** 2)
    s_c = 1.0 + 0.045 * cp_mean
    s_h = 1.0 + 0.015 * cp_mean * t
    r_c = 2.0 * np.sqrt(cp_mean**7 / (cp_mean**7 + 25.0**7))
    r_t = -np.sin(np.radians(60.0 * np.exp(-(((h_mean - 275.0) / 25.0) ** 2)))) * r_c
    value = (d_l / s_l) ** 2 + (d_c / s_c) ** 2 + (d_h / s_h) ** 2 + r_t * (d_c / s_c) * (d_h / s_h)
    out: NDArray[np.float32] = np.sqrt(np.maximum(value, 0.0)).astype(np.float32)
    return out


def nearest_palette_index(lab: NDArray[np.float32], palette_lab: NDArray[np.float32]) -> NDArray[np.int32]:
    """Index of the nearest palette color (Euclidean in CIELAB) of every color in `lab`.

    Parameters
    ----------
    lab
        (..., 3) float32 CIELAB; not modified.
    palette_lab
        (N, 3) float32 CIELAB, N ≥ 1.

    Returns
    -------
    NDArray[np.int32]
        (...) int32 in 0..N-1; ties go to the lower index.
    """
    assert palette_lab.ndim == 2 and palette_lab.shape[1] == 3 and len(palette_lab) >= 1
    flat = np.asarray(lab, dtype=np.float32).reshape(-1, 3)
    centres = np.asarray(palette_lab, dtype=np.float32)
    centre_norms = np.einsum("ij,ij->i", centres, centres)
    out = np.empty(flat.shape[0], dtype=np.int32)
    for start in range(0, flat.shape[0], NEAREST_CHUNK_PIXELS):
        chunk = flat[start : start + NEAREST_CHUNK_PIXELS]
        # |x - c|² = |x|² - 2 x·c + |c|²; |x|² is the same for every c, so it is left out.
        distances = centre_norms[None, :] - 2.0 * (chunk @ centres.T)
        out[start : start + chunk.shape[0]] = np.argmin(distances, axis=1)
    return out.reshape(np.shape(lab)[:-1])


def palette_kmeans(
    samples_lab: NDArray[np.float32],
    *,
    colors: int,
    seed: int,
    weights: NDArray[np.float32] | None = None,
    samples_max: int = KMEANS_SAMPLES_MAX,
) -> NDArray[np.float32]:
    """A palette of exactly `colors` CIELAB colors for `samples_lab`, at least a JND apart.

    Seeded k-means++ (best of `KMEANS_RESTARTS`) with weighted Lloyd iterations on a deterministic
    subsample of at most `samples_max` samples. Centres closer than `JND_DELTA_E` (ΔE00)
    are merged and the freed slots re-seeded at the worst-served samples, then refined again.
    If the samples hold fewer distinct colors than asked, the extra colors are tints and shades of
    the picture's own colors, each as far as possible from every other palette color.

    Parameters
    ----------
    samples_lab
        (M, 3) float32 CIELAB samples, M ≥ 1; not modified.
    colors
        How many colors, 1..`PALETTE_COLORS_MAX`.
    seed
        Seeds the subsample and the k-means++ draws: same input and seed → same palette.
    weights
        (M,) non-negative sample weights (e.g. pixel counts), or None for equal weights.
    samples_max
        Size of the subsample (default `KMEANS_SAMPLES_MAX`); fewer for a coarse palette, faster.

    Returns
    -------
    NDArray[np.float32]
        (colors, 3) float32 CIELAB, pairwise ΔE00 ≥ `JND_DELTA_E`, ordered by L, then a, then b.
    """
    assert 1 <= colors <= PALETTE_COLORS_MAX and samples_max >= 1
    assert samples_lab.ndim == 2 and samples_lab.shape[1] == 3 and samples_lab.shape[0] >= 1
    rng = np.random.default_rng(seed)
    points, point_weights = _subsample(samples_lab, weights, rng, samples_max)
    best_centres, best_inertia = points[:1], np.inf
    for _ in range(KMEANS_RESTARTS):
        centres, inertia = _lloyd(points, point_weights, _kmeans_pp(points, point_weights, colors, rng))
        if inertia < best_inertia:
            best_centres, best_inertia = centres, inertia
    centres = best_centres
    for _ in range(PALETTE_REPAIR_ROUNDS_MAX):
        kept = _separated(centres, _cluster_weights(points, point_weights, centres))
        if len(kept) == colors:
            break
        refill = _worst_served(points, point_weights, kept, colors - len(kept))
        if len(kept) + len(refill) < colors:
            centres = np.concatenate([kept, refill]) if len(refill) else kept
            break
        centres, _ = _lloyd(points, point_weights, np.concatenate([kept, refill]))
    else:
        centres = kept
    centres = _separated(centres, _cluster_weights(points, point_weights, centres))[:colors]
    if len(centres) < colors:
        centres = _with_tints_and_shades(centres, colors)
    order = np.lexsort((centres[:, 2], centres[:, 1], centres[:, 0]))
    return np.ascontiguousarray(centres[order], dtype=np.float32)


def _subsample(
    samples: NDArray[np.float32],
    weights: NDArray[np.float32] | None,
    rng: np.random.Generator,
    samples_max: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """At most `samples_max` samples drawn without replacement, duplicates folded into weights."""
    count = samples.shape[0]
    w = np.ones(count) if weights is None else np.asarray(weights, dtype=np.float64)
    assert w.shape == (count,) and bool(np.all(w >= 0)) and float(w.sum()) > 0
    points = np.asarray(samples, dtype=np.float64)
    if count > samples_max:
        chosen = np.sort(rng.choice(count, size=samples_max, replace=False))
        points, w = points[chosen], w[chosen]
    unique, inverse = np.unique(points, axis=0, return_inverse=True)
    folded = np.bincount(inverse.reshape(-1), weights=w, minlength=len(unique)).astype(np.float64)
    present = folded > 0
    return unique[present], folded[present]


def _squared_distances(points: NDArray[np.float64], centres: NDArray[np.float64]) -> NDArray[np.float64]:
    """(M, K) squared Euclidean distances, summed channel by channel in C (no BLAS: exact, repeatable).

    scipy's `cdist` gives the same bits as the plain numpy sum over channels, four times faster.
    """
    out: NDArray[np.float64] = cdist(points, centres, "sqeuclidean")
    return out


def _kmeans_pp(
    points: NDArray[np.float64], w: NDArray[np.float64], k: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    centres = [points[rng.choice(len(points), p=w / w.sum())]]
    nearest = _squared_distances(points, np.array(centres))[:, 0]
    for _ in range(1, k):
        mass = w * nearest
        total = float(mass.sum())
        pick = int(rng.choice(len(points), p=mass / total)) if total > 0 else 0
        centres.append(points[pick])
        nearest = np.minimum(nearest, _squared_distances(points, points[pick : pick + 1])[:, 0])
    return np.array(centres)


def _lloyd(
    points: NDArray[np.float64], w: NDArray[np.float64], centres: NDArray[np.float64]
) -> tuple[NDArray[np.float64], float]:
    centres = centres.copy()
    assignment = np.full(len(points), -1)
    for _ in range(KMEANS_ITERATIONS_MAX):
        new_assignment = np.argmin(_squared_distances(points, centres), axis=1)
        if np.array_equal(new_assignment, assignment):
            break
        assignment = new_assignment
        mass = np.bincount(assignment, weights=w, minlength=len(centres))
        for channel in range(3):
            sums = np.bincount(assignment, weights=w * points[:, channel], minlength=len(centres))
            centres[:, channel] = np.where(mass > 0, sums / np.maximum(mass, 1e-12), centres[:, channel])
    distances = _squared_distances(points, centres)
    return centres, float(np.sum(w * distances.min(axis=1)))


def _cluster_weights(
    points: NDArray[np.float64], w: NDArray[np.float64], centres: NDArray[np.float64]
) -> NDArray[np.float64]:
    assignment = np.argmin(_squared_distances(points, centres), axis=1)
    return np.bincount(assignment, weights=w, minlength=len(centres)).astype(np.float64)


def _separated(centres: NDArray[np.float64], mass: NDArray[np.float64]) -> NDArray[np.float64]:
    """The centres, heaviest first, keeping each only if it is a JND from every kept one.

    Every pair's ΔE00 comes from one call (row: the candidate, column: a centre it may meet);
    the greedy pass then only reads that table.
    """
    ordered = centres[np.lexsort((np.arange(len(centres)), -mass))]
    lab = ordered.astype(np.float32)
    distance = delta_e_2000(lab[:, None, :], lab[None, :, :])
    kept: list[int] = []
    for index in range(len(ordered)):
        if not kept or float(distance[index, kept].min()) >= JND_DELTA_E:
            kept.append(index)
    return ordered[kept]


def _min_delta_e(candidates: NDArray[np.float64], palette: NDArray[np.float64]) -> NDArray[np.float32]:
    lab_c = candidates.astype(np.float32)[:, None, :]
    lab_p = palette.astype(np.float32)[None, :, :]
    out: NDArray[np.float32] = delta_e_2000(lab_c, lab_p).min(axis=1)
    return out


def _worst_served(
    points: NDArray[np.float64], w: NDArray[np.float64], kept: NDArray[np.float64], missing: int
) -> NDArray[np.float64]:
    """Up to `missing` samples, a JND from the palette and each other, where w·distance² is worst.

    Each sample's distances to the palette are kept up to date as picks join it (a minimum over
    one more color), not recomputed against the whole palette for every pick.
    """
    chosen: list[NDArray[np.float64]] = []
    nearest_delta_e = _min_delta_e(points, kept)
    nearest_squared = _squared_distances(points, kept).min(axis=1)
    for _ in range(missing):
        far_enough = nearest_delta_e >= JND_DELTA_E
        if not bool(far_enough.any()):
            break
        cost = np.where(far_enough, w * nearest_squared, -1.0)
        pick = points[int(np.argmax(cost))]
        chosen.append(pick)
        nearest_delta_e = np.minimum(nearest_delta_e, _min_delta_e(points, pick[None]))
        nearest_squared = np.minimum(nearest_squared, _squared_distances(points, pick[None])[:, 0])
    return np.array(chosen).reshape(-1, 3)


def _with_tints_and_shades(palette: NDArray[np.float64], colors: int) -> NDArray[np.float64]:
    """Add tints and shades of `palette`, each the farthest from the rest; then a sRGB grid."""
    steps = np.arange(-90.0, 91.0, 6.0)
    shades = [
        np.column_stack([np.clip(c[0] + steps, 0.0, 100.0), np.tile(c[1:], (len(steps), 1))]) for c in palette
    ]
    grid_axis = np.linspace(0, 255, 6).astype(np.uint8)
    grid = np.stack(np.meshgrid(grid_axis, grid_axis, grid_axis, indexing="ij"), axis=-1)
    tiers = [
        lab_from_rgb(rgb_u8_from_lab(np.concatenate(shades).astype(np.float32))),  # in gamut
        lab_from_rgb(grid.reshape(-1, 3)),
    ]
    out = palette
    while len(out) < colors:
        for tier in tiers:
            distance = _min_delta_e(tier.astype(np.float64), out)
            pick = int(np.argmax(distance))
            if float(distance[pick]) >= SPREAD_DELTA_E_MIN or tier is tiers[-1]:
                break
        assert float(distance[pick]) >= JND_DELTA_E, "the sRGB gamut ran out of distinct colors"
        out = np.concatenate([out, tier[pick : pick + 1].astype(np.float64)])
    return out
