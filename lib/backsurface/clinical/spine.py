"""The spine line: the back's mirror-symmetry line between VP and NC, and its lateral deviation (NumPy).

The line is searched row by row around a prior (the VP–NC affinity ridge of the network,
:func:`backsurface.codec.decode.affinity_ridge`, or the straight VP–NC segment), then smoothed.
"""

from __future__ import annotations

import numpy as np

from backsurface.core.camera import KINECT_V2, PAPER_BACKGROUND_MM, Intrinsics


def spine_line(depth_mm: np.ndarray, vp_px: np.ndarray, nc_px: np.ndarray, max_mm: float = PAPER_BACKGROUND_MM,
               prior_x: np.ndarray | None = None, band_px: int = 25, half_width_px: int = 45,
               degree: int = 4, detrend: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The back's symmetry line between VP and NC in raw pixels: rows ``y`` and columns ``x``.

    For each image row from VP down to NC, the column within ``band_px`` of a prior line (``prior_x`` per
    row, e.g. the ridge of the VP–NC affinity field; else the straight VP–NC segment) whose depth profile
    is most mirror-symmetric: argmin over c of mean_k (d[c + k] − d[c − k] − g·k)², k = 1…``half_width_px``,
    over pixel pairs both on the body, where g·k is the least-squares tilt of those differences (``detrend``:
    a back turned about the vertical, yaw, is a symmetric profile plus a linear depth ramp, which the plain
    difference would take for asymmetry; without ``detrend``, g = 0).  The raw per-row minima are then smoothed
    by a polynomial of ``degree`` in y.  Vectorised over rows × candidates × offsets.
    """
    d = np.asarray(depth_mm, dtype=np.float64)
    vp, nc = np.asarray(vp_px, float), np.asarray(nc_px, float)
    if not (np.isfinite(vp).all() and np.isfinite(nc).all()):
        raise ValueError("spine line needs both VP and NC")
    y0, y1 = int(np.ceil(vp[1])), int(np.floor(nc[1]))
    if y1 - y0 < degree + 2:
        raise ValueError(f"VP (row {vp[1]:.1f}) must lie clearly above NC (row {nc[1]:.1f})")
    ys = np.arange(y0, y1 + 1)
    straight = vp[0] + (ys - vp[1]) / (nc[1] - vp[1]) * (nc[0] - vp[0])
    centre = straight if prior_x is None else np.asarray(prior_x, float)
    h, w = d.shape
    cand = np.rint(centre)[:, None].astype(int) + np.arange(-band_px, band_px + 1)[None, :]  # (R, C)
    k = np.arange(1, half_width_px + 1)
    right = np.clip(cand[..., None] + k, 0, w - 1)
    left = np.clip(cand[..., None] - k, 0, w - 1)
    rows = np.clip(ys, 0, h - 1)[:, None, None]
    dr, dl = d[rows, right], d[rows, left]
    ok = (dr > 0) & (dr <= max_mm) & (dl > 0) & (dl <= max_mm)
    n_ok = ok.sum(axis=2)
    diff = np.where(ok, dr - dl, 0.0)
    if detrend:  # a trunk turned about the vertical adds g·k to the k-th pair's difference: fit g, remove it
        kk = np.where(ok, k, 0.0)
        g = (diff * kk).sum(axis=2) / np.maximum((kk ** 2).sum(axis=2), 1e-9)
        diff = np.where(ok, diff - g[..., None] * k, 0.0)
    cost = (diff ** 2).sum(axis=2) / np.maximum(n_ok, 1)
    cost = np.where(n_ok >= half_width_px // 2, cost, np.inf)
    best = cand[np.arange(len(ys)), cost.argmin(axis=1)].astype(float)
    usable = np.isfinite(cost.min(axis=1))
    if usable.sum() < degree + 2:
        raise ValueError("too few body rows between VP and NC to find a symmetry line")
    coef = np.polyfit(ys[usable], best[usable], degree)
    return ys.astype(float), np.polyval(coef, ys)


def lateral_deviation_mm(ys: np.ndarray, xs: np.ndarray, vp_px: np.ndarray, nc_px: np.ndarray,
                         depth_at_rows_mm: np.ndarray, intrinsics: Intrinsics = KINECT_V2) -> np.ndarray:
    """Signed lateral distance (mm, + = subject's left) of a line from the straight VP–NC segment, per row."""
    vp, nc = np.asarray(vp_px, float), np.asarray(nc_px, float)
    straight = vp[0] + (ys - vp[1]) / (nc[1] - vp[1]) * (nc[0] - vp[0])
    return -(xs - straight) * np.asarray(depth_at_rows_mm, float) / intrinsics.fx
