"""Landmark accuracy (paper Sec. 6), in plain NumPy.

Definitions (written out again in the evaluation report).  Four millimetre errors, each against its own truth:

* **in-plane error (mm)** — the headline: the raw-pixel distance between predicted and true landmark scaled to
  millimetres in the plane of the true landmark's depth (``Δu·z/fx``, ``Δv·z/fy``).  It measures localisation in
  the image alone, as landmark-detection studies do, and is what the network controls.
* **relative in-plane error (mm)** — the in-plane error once each image's common offset is taken away: the
  in-plane displacements (mm) of an image's landmarks minus their mean over the landmarks present, then their
  length: the part of the error that is not shared by the image's landmarks.  A shift shared by every landmark
  leaves it at 0, as it leaves every translation-invariant clinical index (curve angle, trunk asymmetries)
  unchanged.  It is not bounded by the in-plane error (one landmark off by 10 mm and nine exact: in-plane mean 1 mm,
  relative mean 1.8 mm); well below the in-plane error, it says that most of the error moves the whole back.
* **surface error (mm)** — predicted and true pixel both lifted to 3D through the *same* depth lookup
  (:func:`backsurface.data.surface.points_3d`, with the silhouette fallback window), then their distance: a perfect
  prediction scores exactly 0.  It adds the depth surface's relief to the in-plane error.
* **3D error (mm)** — distance between the predicted and the true landmark in the sensor's
  camera frame.  The prediction is back-projected through the intrinsics at the depth *measured
  under it* (median of the valid body pixels in a small window), the truth is the annotated 3D
  point (or, for recordings without one, the annotation back-projected the same way).
  This one has a floor above zero: a silhouette landmark's mesh point is seen edge-on, so even its true pixel's
  depth is not the annotated point.
* **PCK@τ** — share of landmarks whose 3D error is *below* τ mm (strictly: an error equal to τ is
  not correct); the paper's options include τ = 150 mm.  Also as a curve over τ with its area
  (AUC, the curve's mean over [0, τ_max], in %).
* **PDJ** — share of landmarks whose 3D error is below 0.2 × the torso diameter of that image; the
  paper's "left shoulder to right thigh" becomes LSH → RPSIS here (the nearest landmarks this
  study has), measured in 3D on the true points.  Images without LSH or RPSIS have no diameter:
  their landmarks are excluded from PDJ and counted.
* Landmarks missing in the ground truth are excluded from every metric and counted.
* 95% confidence intervals: percentile bootstrap over *subjects* (all images of a drawn subject
  go together, since the five translated copies of a frame are not independent).
"""

from __future__ import annotations

import numpy as np

from backsurface.core.camera import KINECT_V2, Intrinsics
from backsurface.core.landmarks import KEYS, index

TORSO = (index("LSH"), index("RPSIS"))
PDJ_FRACTION = 0.2
PCK_MM = 150.0
WITHIN_MM = (2.0, 5.0, 10.0, 20.0)
"""Success-detection radii (mm): the landmark-detection convention's 2, 5, 10 and 20 mm."""


def errors_mm(pred_mm: np.ndarray, true_mm: np.ndarray) -> np.ndarray:
    """Euclidean distance per landmark; NaN where either point is missing."""
    return np.linalg.norm(np.asarray(pred_mm, float) - np.asarray(true_mm, float), axis=-1)


def inplane_errors_mm(pred_raw: np.ndarray, true_raw: np.ndarray, true_depth_mm: np.ndarray,
                      intrinsics: Intrinsics = KINECT_V2) -> np.ndarray:
    """In-plane error (mm): the raw-pixel offset (..., 2) scaled by the true landmark's depth (...,) over the focal
    lengths, ``hypot(Δu·z/fx, Δv·z/fy)``; NaN where a point or the depth is missing."""
    d = inplane_displacements_mm(pred_raw, true_raw, true_depth_mm, intrinsics)
    return np.hypot(d[..., 0], d[..., 1])


def inplane_displacements_mm(pred_raw: np.ndarray, true_raw: np.ndarray, true_depth_mm: np.ndarray,
                             intrinsics: Intrinsics = KINECT_V2) -> np.ndarray:
    """The in-plane displacement (..., 2) in mm, ``(Δu·z/fx, Δv·z/fy)`` (its length is :func:`inplane_errors_mm`)."""
    d = np.asarray(pred_raw, dtype=np.float64) - np.asarray(true_raw, dtype=np.float64)
    z = np.asarray(true_depth_mm, dtype=np.float64)[..., None]
    return d * z / np.array([intrinsics.fx, intrinsics.fy])


def relative_inplane_errors_mm(pred_raw: np.ndarray, true_raw: np.ndarray, true_depth_mm: np.ndarray,
                               intrinsics: Intrinsics = KINECT_V2) -> np.ndarray:
    """Relative in-plane error (N, K): each image's in-plane displacements minus their mean over its landmarks
    present (a landmark without truth takes no part and stays NaN), then their length.  An image with one
    landmark present scores 0 there."""
    d = inplane_displacements_mm(pred_raw, true_raw, true_depth_mm, intrinsics)
    present = np.isfinite(d).all(axis=-1, keepdims=True)
    n = present.sum(axis=-2, keepdims=True)
    common = np.where(present, d, 0.0).sum(axis=-2, keepdims=True) / np.maximum(n, 1)
    return np.where(present[..., 0], np.linalg.norm(np.where(present, d - common, 0.0), axis=-1), np.nan)


def torso_diameter(true_mm: np.ndarray) -> np.ndarray:
    """LSH–RPSIS distance per image (N,), NaN where either is missing."""
    t = np.asarray(true_mm, dtype=np.float64)
    return np.linalg.norm(t[:, TORSO[0]] - t[:, TORSO[1]], axis=-1)


def pck_correct(errors: np.ndarray, threshold_mm: float = PCK_MM) -> np.ndarray:
    """1.0 where error < threshold, 0.0 where not, NaN where the landmark is not evaluable."""
    e = np.asarray(errors, dtype=np.float64)
    return np.where(np.isnan(e), np.nan, (e < threshold_mm).astype(float))


def pdj_correct(errors: np.ndarray, true_mm: np.ndarray, fraction: float = PDJ_FRACTION) -> np.ndarray:
    """1.0 where error < fraction × torso diameter of that image, NaN where not evaluable."""
    e = np.asarray(errors, dtype=np.float64)
    limit = fraction * torso_diameter(true_mm)[:, None]
    return np.where(np.isnan(e) | np.isnan(limit), np.nan, (e < limit).astype(float))


def rate(correct: np.ndarray, axis=None) -> np.ndarray:
    """Percentage correct over the evaluable entries (NaN ignored)."""
    c = np.asarray(correct, dtype=np.float64)
    n = np.sum(~np.isnan(c), axis=axis)
    return 100.0 * np.nansum(c, axis=axis) / np.where(n > 0, n, np.nan)


def per_landmark(correct: np.ndarray) -> dict[str, float]:
    """Per-landmark percentages and the pooled ``Total`` (all evaluable landmarks together)."""
    c = np.asarray(correct, dtype=np.float64)
    return {**{k: float(v) for k, v in zip(KEYS, rate(c, axis=0))}, "Total": float(rate(c))}


def pck_curve(errors: np.ndarray, thresholds_mm: np.ndarray) -> np.ndarray:
    """PCK (%) at each threshold, pooled over all evaluable entries of ``errors``."""
    e = np.asarray(errors, dtype=np.float64).reshape(-1)
    e = e[~np.isnan(e)]
    if e.size == 0:
        return np.full(len(thresholds_mm), np.nan)
    return 100.0 * (e[None, :] < np.asarray(thresholds_mm, dtype=np.float64)[:, None]).mean(axis=1)


def curve_auc(curve: np.ndarray, thresholds_mm: np.ndarray) -> float:
    """Area under a PCK curve divided by the threshold range: 100 for a perfect predictor."""
    t = np.asarray(thresholds_mm, dtype=np.float64)
    c = np.asarray(curve, dtype=np.float64)
    return float(np.sum((c[1:] + c[:-1]) / 2 * np.diff(t)) / (t[-1] - t[0]))


def error_summary(errors: np.ndarray) -> dict[str, dict[str, float]]:
    """Per landmark and overall: n, mean ± SD (mm), median, and % within 2/5/10/20 mm (strictly below)."""
    e = np.asarray(errors, dtype=np.float64)
    cols = {k: e[:, i] for i, k in enumerate(KEYS)} | {"Total": e.reshape(-1)}
    out = {}
    for k, col in cols.items():
        v = col[~np.isnan(col)]
        row = {"n": int(v.size), "mean_mm": float(v.mean()) if v.size else np.nan,
               "sd_mm": float(v.std(ddof=1)) if v.size > 1 else np.nan,
               "median_mm": float(np.median(v)) if v.size else np.nan}
        for w in WITHIN_MM:
            row[f"within_{w:g}mm"] = float(100.0 * (v < w).mean()) if v.size else np.nan
        out[k] = row
    return out


def bootstrap_ci(
    correct: np.ndarray, groups: np.ndarray, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Point estimate and percentile CI of the pooled percentage ``rate(correct)``, resampling groups.

    ``correct``: (N, ...) per image, NaN = not evaluable; ``groups``: (N,) subject of each image.
    Works for errors too: pass a 0/1 array, or use :func:`bootstrap_mean` for means.
    """
    return _bootstrap(correct, groups, n_boot, level, seed, percent=True)


def bootstrap_mean(values: np.ndarray, groups: np.ndarray, n_boot: int = 1000, level: float = 0.95,
                   seed: int = 0) -> tuple[float, float, float]:
    """Point estimate and percentile CI of the pooled mean of ``values`` (NaN ignored), resampling groups."""
    return _bootstrap(values, groups, n_boot, level, seed, percent=False)


def _bootstrap(values, groups, n_boot, level, seed, percent):
    v = np.asarray(values, dtype=np.float64).reshape(len(groups), -1)
    groups = np.asarray(groups)
    names, g = np.unique(groups, return_inverse=True)
    valid = ~np.isnan(v)
    sums = np.bincount(g, weights=np.where(valid, v, 0.0).sum(axis=1), minlength=len(names))
    counts = np.bincount(g, weights=valid.sum(axis=1).astype(float), minlength=len(names))
    scale = 100.0 if percent else 1.0
    point = scale * sums.sum() / counts.sum() if counts.sum() else np.nan
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(names), size=(n_boot, len(names)))
    with np.errstate(invalid="ignore", divide="ignore"):
        stats = scale * sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    alpha = (1.0 - level) / 2.0
    lo, hi = np.nanquantile(stats, [alpha, 1.0 - alpha])
    return float(point), float(lo), float(hi)
