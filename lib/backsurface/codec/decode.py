"""From network outputs to landmarks (plain NumPy).

* :func:`heatmap_peaks` — each landmark's position is the maximum of its heatmap, refined to
  sub-cell precision by fitting a parabola to the *log* heatmap through the maximum and its two
  neighbours along x and along y (exact for a Gaussian peak: log of a Gaussian is a parabola;
  the DARK idea of Zhang et al. 2020 in its separable 3-point form: ``method="logparabola"``).  With
  ``method="dark"`` the refinement is DARK's whole scheme: the heatmap is first modulated (blurred with a
  Gaussian of the label σ, which turns a noisy, many-peaked prediction back into one smooth bump), and the
  offset is the Newton step of the log heatmap's second-order Taylor expansion at the maximum, with the mixed
  derivative (so a tilted, elongated peak is refined along its own axes).  Output-grid coordinates map
  to input pixels through the cell centres of :mod:`backsurface.codec.grid`; the confidence is the peak value.
* :func:`to_raw` — input pixels → raw 512×424 frame through each image's stored transform.
* :func:`link_scores` — OpenPose's association score: the mean, over points sampled on the
  segment between two predicted landmarks, of the affinity field projected on the segment's unit
  vector.  Near 1 for a pair the network believes in, near 0 (or negative) for an implausible one.
* :func:`affinity_ridge` — where one link's field runs, row by row, in raw pixels (the VP–NC ridge is the
  prior of the clinical spine line).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from backsurface.codec.grid import STRIDE, cell_centres, input_to_output, output_to_input
from backsurface.core.landmarks import LINKS, N_LANDMARKS
from backsurface.data.preprocess import InputTransform

_LOG_FLOOR = 1e-6  # heatmap values at or below this carry no shape information
METHODS = ("logparabola", "dark")


def _subcell_offset(left: np.ndarray, centre: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Vertex of the parabola through log values at -1, 0, +1, clipped to half a cell."""
    lf, cf, rf = (np.log(np.maximum(v, _LOG_FLOOR)) for v in (left, centre, right))
    curvature = lf - 2.0 * cf + rf
    ok = (curvature < 0) & (np.minimum(left, right) > _LOG_FLOOR)
    off = np.where(ok, 0.5 * (lf - rf) / np.where(ok, curvature, -1.0), 0.0)
    return np.clip(off, -0.5, 0.5)


def _dark_offsets(h: np.ndarray, iy: np.ndarray, ix: np.ndarray, sigma_cells: float) -> np.ndarray:
    """DARK's sub-cell offsets ``(B, 10, 2)`` (x, y) at the maxima ``(iy, ix)`` of ``h`` ``(B, 10, ny, nx)``.

    The heatmaps are blurred with a Gaussian of ``sigma_cells`` (zero beyond the border), their log taken, and
    the offset is −H⁻¹∇ from central differences at the maximum; where the log heatmap is not concave there
    (H not negative definite, a neighbour at the floor) the offset is 0.  Each component is clipped to one cell."""
    blurred = ndimage.gaussian_filter(h, sigma=(0, 0, sigma_cells, sigma_cells), mode="constant", truncate=3.0)
    pad = np.pad(blurred, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=0.0)
    b, k = np.meshgrid(np.arange(h.shape[0]), np.arange(h.shape[1]), indexing="ij")
    y, x = iy + 1, ix + 1
    window = np.stack([pad[b, k, y + dy, x + dx] for dy in (-1, 0, 1) for dx in (-1, 0, 1)], axis=-1)
    ok = window.min(axis=-1) > _LOG_FLOOR
    L = np.log(np.maximum(window, _LOG_FLOOR)).reshape(*window.shape[:-1], 3, 3)  # [..., row (y), column (x)]
    gx = 0.5 * (L[..., 1, 2] - L[..., 1, 0])
    gy = 0.5 * (L[..., 2, 1] - L[..., 0, 1])
    hxx = L[..., 1, 2] - 2.0 * L[..., 1, 1] + L[..., 1, 0]
    hyy = L[..., 2, 1] - 2.0 * L[..., 1, 1] + L[..., 0, 1]
    hxy = 0.25 * (L[..., 2, 2] - L[..., 2, 0] - L[..., 0, 2] + L[..., 0, 0])
    det = hxx * hyy - hxy * hxy
    ok &= (hxx < 0) & (det > 0)
    safe = np.where(ok, det, 1.0)
    dx = -(hyy * gx - hxy * gy) / safe
    dy = -(hxx * gy - hxy * gx) / safe
    return np.clip(np.where(ok[..., None], np.stack([dx, dy], axis=-1), 0.0), -1.0, 1.0)


def heatmap_peaks(heatmaps: np.ndarray, stride: int = STRIDE, method: str = "logparabola",
                  sigma_cells: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks from heatmaps ``(..., n, n, C)`` (C ≥ 10; a background channel is ignored).

    ``method``: ``logparabola`` (the separable 3-point fit) or ``dark`` (modulation with a Gaussian of
    ``sigma_cells`` output cells, the label σ, then the 2-D Taylor step).
    Returns ``points`` ``(..., 10, 2)`` in input pixels (x, y) and ``confidence`` ``(..., 10)``.
    """
    if method not in METHODS:
        raise ValueError(f"decoding method must be one of {METHODS}, got {method!r}")
    h = np.asarray(heatmaps, dtype=np.float64)
    if h.ndim < 3 or h.shape[-1] < N_LANDMARKS or h.shape[-3] < 1:
        raise ValueError(f"heatmaps must be (..., n, n, >= {N_LANDMARKS}), got {h.shape}")
    lead, (ny, nx) = h.shape[:-3], h.shape[-3:-1]
    h = h[..., :N_LANDMARKS].reshape(-1, ny, nx, N_LANDMARKS).transpose(0, 3, 1, 2)  # (B, 10, ny, nx)
    flat = h.reshape(h.shape[0], N_LANDMARKS, -1)
    best = flat.argmax(axis=-1)
    iy, ix = np.divmod(best, nx)
    b, k = np.meshgrid(np.arange(h.shape[0]), np.arange(N_LANDMARKS), indexing="ij")
    peak = h[b, k, iy, ix]
    if method == "dark":
        off = _dark_offsets(h, iy, ix, sigma_cells)
        dx, dy = off[..., 0], off[..., 1]
    else:
        pad = np.pad(h, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=0.0)
        py, px = iy + 1, ix + 1
        dx = _subcell_offset(pad[b, k, py, px - 1], peak, pad[b, k, py, px + 1])
        dy = _subcell_offset(pad[b, k, py - 1, px], peak, pad[b, k, py + 1, px])
        # no refinement into the padding: at a border the missing neighbour is 0, which the floor rejects
    grid = np.stack([ix + dx, iy + dy], axis=-1)
    points = output_to_input(grid, stride)
    return points.reshape(*lead, N_LANDMARKS, 2), peak.reshape(*lead, N_LANDMARKS)


def to_raw(points_input: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Input-pixel points ``(N, 10, 2)`` → raw-frame pixels, through each row of ``transforms`` (N, 6)."""
    pts = np.asarray(points_input, dtype=np.float64)
    rows = np.asarray(transforms, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != 6 or len(rows) != len(pts):
        raise ValueError(f"need one transform row (6 values) per image: points {pts.shape}, transforms {rows.shape}")
    if np.isnan(rows).any():
        raise ValueError("a transform is NaN: randomly augmented copies have no raw frame to map back to")
    return np.stack([InputTransform.from_row(r).input_to_raw(p) for r, p in zip(rows, pts)])


def _bilinear(field: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample ``field`` (ny, nx, c) at float grid coordinates, clamped to the grid."""
    ny, nx = field.shape[:2]
    x = np.clip(x, 0, nx - 1)
    y = np.clip(y, 0, ny - 1)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    x1, y1 = np.minimum(x0 + 1, nx - 1), np.minimum(y0 + 1, ny - 1)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    top = field[y0, x0] * (1 - fx) + field[y0, x1] * fx
    bottom = field[y1, x0] * (1 - fx) + field[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def link_scores(pafs: np.ndarray, points_input: np.ndarray, stride: int = STRIDE, samples: int = 10) -> np.ndarray:
    """Affinity score of each of the 5 links for one image: pafs (n, n, 10), points (10, 2) → (5,).

    NaN for a link whose ends coincide or are missing.
    """
    pafs = np.asarray(pafs, dtype=np.float64)
    pts = input_to_output(points_input, stride)  # output-grid coords
    a, b = pts[LINKS[:, 0]], pts[LINKS[:, 1]]
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    t = (np.arange(samples) + 0.5) / samples  # midpoints of equal pieces of the segment
    scores = np.full(len(LINKS), np.nan)
    for k in range(len(LINKS)):  # five links, each vectorised over its samples
        if not np.isfinite(length[k]) or length[k] < 1e-9:
            continue
        s = a[k] + t[:, None] * d[k]
        vec = _bilinear(pafs[..., 2 * k : 2 * k + 2], s[:, 0], s[:, 1])
        scores[k] = float(np.mean(vec @ (d[k] / length[k])))
    return scores


def affinity_ridge(paf_link: np.ndarray, transform: InputTransform, ys_raw: np.ndarray, stride: int = STRIDE,
                   min_magnitude: float = 0.3) -> np.ndarray:
    """Column (raw px) of one link's affinity-field ridge at each raw row ``ys_raw``.

    ``paf_link`` (n, n, 2) is the link's field; per raw row, the output row nearest to it gives the
    magnitude-weighted mean column of the cells where the field is at least ``min_magnitude``; NaN
    where none is."""
    mag = np.hypot(paf_link[..., 0], paf_link[..., 1])
    n = mag.shape[0]
    centres = cell_centres(n, stride)  # input px of output cells
    y_in = transform.raw_to_input(np.stack([np.zeros_like(ys_raw), ys_raw], axis=1))[:, 1]
    rows = np.clip(np.rint(input_to_output(y_in, stride)).astype(int), 0, n - 1)
    wts = np.where(mag[rows] >= min_magnitude, mag[rows], 0.0)
    total = wts.sum(axis=1)
    x_in = np.where(total > 0, (wts * centres).sum(axis=1) / np.where(total > 0, total, 1), np.nan)
    return transform.input_to_raw(np.stack([x_in, y_in], axis=1))[:, 0]
