"""Training labels (paper Sec. 7-1 to 7-3): landmark heatmaps, landmark affinity fields, validity mask.

All labels live on the network's output grid: a square input of ``S`` pixels at output stride
``stride`` gives ``n = ceil(S / stride)`` cells per side.

Conventions
-----------
* Pixel centres sit at integer coordinates (as everywhere in the library).  Output cell ``(i, j)``
  (row ``i``, column ``j``) covers input pixels ``j*stride .. j*stride + stride - 1``, so its centre
  is at input coordinates ``x = j*stride + (stride - 1)/2``, ``y = i*stride + (stride - 1)/2``
  (:mod:`backsurface.codec.grid`).
* Heatmaps (eq. 2 and the paper's algorithm): ``exp(-d^2 / 2 sigma^2)`` with ``d`` in input pixels
  from the cell centre to the landmark, set to 0 where ``d^2 / 2 sigma^2 > th`` (paper: sigma = 8,
  th = 4.6, i.e. values below exp(-4.6) ~ 0.01 are cut).  Channels 0..9 follow
  :data:`~backsurface.core.landmarks.KEYS`; channel 10 is the background, ``max(0, 1 - max_k H_k)``
  (the OpenPose convention).  A missing landmark (NaN) has an all-zero channel.
* Affinity fields (eq. 3-4): for link ``c`` of :data:`~backsurface.core.landmarks.LINKS` (in order),
  channels ``2c`` (x) and ``2c + 1`` (y) hold the unit vector from the link's first landmark to its
  second on every cell whose centre lies within ``limb_width`` input pixels of the segment
  (perpendicular distance ``<= limb_width`` and projection in ``[0, length]``), 0 elsewhere.
* Validity mask ``W`` (eq. 7-8): one weight per label channel, in the order of
  ``concatenate([heatmaps, affinity_fields], axis=-1)``: 21 channels = 10 landmarks, background,
  5 links x 2.  Landmark channel: 1 if the landmark is present.  Background: 1 only if *all*
  landmarks are present (otherwise ``1 - max`` claims background where a missing landmark really
  is).  Link channels: 1 only if both ends are present and distinct.

Points outside the input image are not dropped here (their Gaussian is simply cut by the image
edge); :mod:`backsurface.data.augment` turns points that leave the frame into NaN.
"""

from __future__ import annotations

import math

import numpy as np

from backsurface.codec.grid import STRIDE, cell_centres, cell_offset, output_size
from backsurface.core.landmarks import LINKS, N_LANDMARKS, N_LINKS

SIGMA = 8.0
TH = 4.6
LIMB_WIDTH = 8.0
N_HEATMAP_CHANNELS = N_LANDMARKS + 1
N_PAF_CHANNELS = 2 * N_LINKS
N_CHANNELS = N_HEATMAP_CHANNELS + N_PAF_CHANNELS
_EPS_LENGTH = 1e-6  # links shorter than this (input px) have no direction: masked
_MAX_COORD = 1e7  # larger |coordinates| are corrupt input, not landmarks
_START, _END = LINKS[:, 0].copy(), LINKS[:, 1].copy()


def _points(points_input: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate ``(10, 2)`` points; return them with NaN rows zeroed, and the ``present`` flags."""
    pts = np.asarray(points_input, dtype=np.float64)
    if pts.shape != (N_LANDMARKS, 2):
        raise ValueError(f"points must be ({N_LANDMARKS}, 2) input-pixel coordinates, got shape {pts.shape}")
    nan = np.isnan(pts)
    if (~np.isfinite(pts) != nan).any():
        raise ValueError("points hold inf; use NaN for a missing landmark")
    if (np.abs(pts) > _MAX_COORD).any():
        raise ValueError(f"points hold coordinates beyond +-{_MAX_COORD:g} px; use NaN for a missing landmark")
    if (nan[:, 0] != nan[:, 1]).any():
        partial = np.flatnonzero(nan[:, 0] != nan[:, 1]).tolist()
        raise ValueError(f"landmarks {partial} have one NaN coordinate; use NaN for both")
    return np.where(nan, 0.0, pts), ~nan[:, 0]


def _check_positive(**kw: float) -> None:
    for k, v in kw.items():
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"{k} must be a finite number > 0, got {v}")


# ------------------------------------------------------------------------ heatmaps


def heatmaps(
    points_input: np.ndarray, input_size: int, stride: int = STRIDE, sigma: float = SIGMA, th: float = TH
) -> np.ndarray:
    """Gaussian landmark heatmaps plus background, ``float32 (n, n, 11)`` with values in ``[0, 1]``.

    See the module docstring for the cell-centre convention, the cut-off and the background channel.
    """
    n = output_size(input_size, stride)
    _check_positive(sigma=sigma, th=th)
    pts, present = _points(points_input)
    return _heatmaps(pts, present, n, stride, sigma, th)


def _heatmaps(pts: np.ndarray, present: np.ndarray, n: int, stride: int, sigma: float, th: float) -> np.ndarray:
    half = cell_offset(stride)
    radius = sigma * math.sqrt(2.0 * th)
    # Only cells within the cut-off radius can be non-zero: evaluate a K x K window of cells per
    # landmark (all landmarks at once) and scatter it into the flattened grid; window cells that
    # fall off the grid go to one spare "trash" cell at index n*n, dropped at the end.
    k_win = int(math.floor(2.0 * radius / stride)) + 2
    start = np.clip(np.floor((pts - radius - half) / stride), -2 * k_win, n).astype(np.int64)  # (10, 2) x, y
    start[~present] = -2 * k_win  # a missing (or far-away) landmark's window lies wholly off the grid
    idx = start[:, :, None] + np.arange(k_win)  # (10, 2, K) cell indices along x and y
    sq = (idx * stride + half - pts[:, :, None]) ** 2  # (10, 2, K) squared offsets along x and y
    e = (sq[:, 1, :, None] + sq[:, 0, None, :]) / (2.0 * sigma**2)  # (10, K, K): d^2 / 2 sigma^2, as the loop
    g = np.exp(-np.minimum(e, th))  # the clamp only avoids slow denormals; those cells are cut next
    g[e > th] = 0.0
    inside = (idx >= 0) & (idx < n)
    cell = np.where(inside[:, 1, :, None] & inside[:, 0, None, :], idx[:, 1, :, None] * n + idx[:, 0, None, :], n * n)
    channel = np.arange(N_LANDMARKS)[:, None, None]
    out = np.zeros((n * n + 1, N_HEATMAP_CHANNELS), dtype=np.float32)
    out[cell, channel] = g
    peak = np.zeros((N_LANDMARKS, n * n + 1), dtype=np.float32)  # channel-first copy: fast max
    peak[channel, cell] = g
    out[:, N_LANDMARKS] = 1.0 - peak.max(axis=0)  # g <= 1, so this is max(0, 1 - max_k H_k)
    return out[:-1].reshape(n, n, N_HEATMAP_CHANNELS)


def reference_heatmap_loop(
    points_input: np.ndarray, input_size: int, stride: int = STRIDE, sigma: float = SIGMA, th: float = TH
) -> np.ndarray:
    """The paper's heatmap algorithm transcribed loop for loop (Sec. 7-2), at output resolution.

    Reference for tests only (slow: pure Python per cell).  For each landmark a window of
    ``sigma * sqrt(2 th)`` input pixels around it is scanned; cells (centres as in the module
    docstring) with ``d^2 / 2 sigma^2 > th`` are skipped; otherwise
    ``heatmap = min(max(heatmap, exp(-d^2 / 2 sigma^2)), 1)``.  Background as in :func:`heatmaps`.
    """
    n = output_size(input_size, stride)
    pts = np.asarray(points_input, dtype=np.float64)
    heat = np.zeros((n, n, N_HEATMAP_CHANNELS), dtype=np.float64)
    half = cell_offset(stride)
    radius = sigma * math.sqrt(2.0 * th)
    for k in range(N_LANDMARKS):
        cx, cy = float(pts[k, 0]), float(pts[k, 1])
        if math.isnan(cx) or math.isnan(cy):
            continue
        # window in cells (one cell of slack each side; the th test below does the exact cut)
        x0 = max(0, math.floor((cx - radius - half) / stride) - 1)
        y0 = max(0, math.floor((cy - radius - half) / stride) - 1)
        x1 = min(n - 1, math.ceil((cx + radius - half) / stride) + 1)
        y1 = min(n - 1, math.ceil((cy + radius - half) / stride) + 1)
        for yi in range(y0, y1 + 1):
            y = yi * stride + half
            for xj in range(x0, x1 + 1):
                x = xj * stride + half
                d = (x - cx) ** 2 + (y - cy) ** 2
                exponent = d / (2.0 * sigma**2)
                if exponent > th:
                    continue
                heat[yi, xj, k] = max(heat[yi, xj, k], math.exp(-exponent))
                heat[yi, xj, k] = min(heat[yi, xj, k], 1.0)
    for yi in range(n):
        for xj in range(n):
            peak = 0.0
            for k in range(N_LANDMARKS):
                peak = max(peak, heat[yi, xj, k])
            heat[yi, xj, N_LANDMARKS] = max(0.0, 1.0 - peak)
    return heat.astype(np.float32)


# ----------------------------------------------------------------- affinity fields


def _links(pts: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per link: start point (5, 2), unit vector (5, 2), length (5,), valid flag (5,)."""
    a, d = pts[_START], pts[_END] - pts[_START]
    length = np.sqrt(d[:, 0] * d[:, 0] + d[:, 1] * d[:, 1])  # the reference loop's arithmetic, op for op
    ok = present[_START] & present[_END] & (length > _EPS_LENGTH)
    v = d / np.where(ok, length, 1.0)[:, None] * ok[:, None]
    return a, v, length, ok


def affinity_fields(
    points_input: np.ndarray, input_size: int, stride: int = STRIDE, limb_width: float = LIMB_WIDTH
) -> np.ndarray:
    """Landmark affinity fields (eq. 3-4), ``float32 (n, n, 10)``: unit link vectors on the limbs, 0 elsewhere.

    ``limb_width`` is in input pixels (default 8 = one output cell at stride 8, OpenPose's width).
    A link with a missing or coincident end is all zero (and masked by :func:`validity_mask`).
    """
    n = output_size(input_size, stride)
    _check_positive(limb_width=limb_width)
    return _affinity_fields(_links(*_points(points_input)), n, stride, limb_width)


def _affinity_fields(links: tuple, n: int, stride: int, limb_width: float) -> np.ndarray:
    a, v, length, ok = links  # v is 0 for an invalid link, so its field is 0
    out = np.zeros((n, n, N_PAF_CHANNELS), dtype=np.float32)
    if not ok.any():
        return out
    # A cell on a limb lies within limb_width of the segment, hence inside the union of the links'
    # bounding boxes grown by limb_width (plus a hair for rounding): evaluate only that block.
    b = a + v * length[:, None]
    ends = np.concatenate([a[ok], b[ok]])
    half = cell_offset(stride)
    grow = limb_width + 1e-6
    (x_lo, y_lo), (x_hi, y_hi) = ends.min(axis=0) - grow, ends.max(axis=0) + grow
    x0, y0 = max(0, math.ceil((x_lo - half) / stride)), max(0, math.ceil((y_lo - half) / stride))
    x1, y1 = min(n - 1, math.floor((x_hi - half) / stride)), min(n - 1, math.floor((y_hi - half) / stride))
    if x0 > x1 or y0 > y1:
        return out
    c = cell_centres(n, stride)
    dx = c[None, None, x0 : x1 + 1] - a[:, 0, None, None]  # (5, 1, bw)
    dy = c[None, y0 : y1 + 1, None] - a[:, 1, None, None]  # (5, bh, 1)
    vx, vy = v[:, 0, None, None], v[:, 1, None, None]
    along = dx * vx + dy * vy  # (5, bh, bw)
    across = np.abs(dx * vy - dy * vx)
    on = (along >= 0) & (along <= length[:, None, None]) & (across <= limb_width)
    field = on[:, None] * v.astype(np.float32)[:, :, None, None]  # (5, 2, bh, bw), channel-first
    out[y0 : y1 + 1, x0 : x1 + 1] = field.reshape(N_PAF_CHANNELS, y1 - y0 + 1, x1 - x0 + 1).transpose(1, 2, 0)
    return out


def reference_affinity_loop(
    points_input: np.ndarray, input_size: int, stride: int = STRIDE, limb_width: float = LIMB_WIDTH
) -> np.ndarray:
    """Per-cell Python-loop transcription of eq. 3-4 (reference for tests and the benchmark only)."""
    n = output_size(input_size, stride)
    pts = np.asarray(points_input, dtype=np.float64)
    out = np.zeros((n, n, N_PAF_CHANNELS), dtype=np.float64)
    half = cell_offset(stride)
    for ci, (j1, j2) in enumerate(LINKS.tolist()):
        ax, ay = float(pts[j1, 0]), float(pts[j1, 1])
        bx, by = float(pts[j2, 0]), float(pts[j2, 1])
        if any(math.isnan(t) for t in (ax, ay, bx, by)):
            continue
        length = math.sqrt((bx - ax) * (bx - ax) + (by - ay) * (by - ay))
        if length <= _EPS_LENGTH:
            continue
        vx, vy = (bx - ax) / length, (by - ay) / length
        for yi in range(n):
            for xj in range(n):
                px, py = xj * stride + half - ax, yi * stride + half - ay
                along = px * vx + py * vy
                across = abs(px * vy - py * vx)
                if 0 <= along <= length and across <= limb_width:
                    out[yi, xj, 2 * ci] = vx
                    out[yi, xj, 2 * ci + 1] = vy
    return out.astype(np.float32)


# ---------------------------------------------------------------------------- mask


def validity_mask(points_input: np.ndarray) -> np.ndarray:
    """Per-channel loss weights ``float32 (21,)``: 10 landmarks, background, 10 link channels.

    Landmark ``k``: 1 if present.  Background: 1 only if every landmark is present.  Link ``c``
    (channels ``11 + 2c`` and ``12 + 2c``): 1 if both ends are present and distinct.
    Broadcasts against ``concatenate([heatmaps, affinity_fields], -1)`` of shape ``(n, n, 21)``.
    """
    pts, present = _points(points_input)
    return _validity_mask(present, _links(pts, present)[3])


def _validity_mask(present: np.ndarray, ok: np.ndarray) -> np.ndarray:
    w = np.empty(N_CHANNELS, dtype=np.float32)
    w[:N_LANDMARKS] = present
    w[N_LANDMARKS] = present.all()
    w[N_HEATMAP_CHANNELS:] = np.repeat(ok, 2)
    return w


def render_labels(
    points_input: np.ndarray,
    input_size: int,
    stride: int = STRIDE,
    sigma: float = SIGMA,
    th: float = TH,
    limb_width: float = LIMB_WIDTH,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All labels of one sample: ``(heatmaps (n, n, 11), affinity_fields (n, n, 10), mask (21,))``."""
    n = output_size(input_size, stride)
    _check_positive(sigma=sigma, th=th, limb_width=limb_width)
    pts, present = _points(points_input)
    links = _links(pts, present)
    return (
        _heatmaps(pts, present, n, stride, sigma, th),
        _affinity_fields(links, n, stride, limb_width),
        _validity_mask(present, links[3]),
    )
