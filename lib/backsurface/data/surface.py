"""The depth surface under raw-frame pixels, and 3D points lifted from it (plain NumPy).

A landmark in raw pixels becomes a camera-frame point through the depth *measured under it*: the median
of the valid pixels (``0 < d <= max_mm``) in a small window around the nearest pixel.  Predictions,
evaluation and the clinical indices all lift points this one way.
"""

from __future__ import annotations

import warnings

import numpy as np

from backsurface.core.camera import KINECT_V2, Intrinsics

SILHOUETTE_WINDOW = 8
"""A landmark on the silhouette (shoulder, waist) is often placed a few pixels off the body: its depth is then
the median of the body pixels within 8 px (about 35 mm at 1.5 m) instead of none (``fallback_window``)."""


def surface_depth(depth_mm: np.ndarray, uv: np.ndarray, max_mm: float, window: int = 2,
                  fallback_window: int | None = None) -> np.ndarray:
    """Depth (mm) under pixel positions ``uv`` (..., 2): median of valid pixels (0 < d ≤ max_mm)
    in the (2·window+1)² neighbourhood of the nearest pixel; NaN where none is valid or uv is NaN.

    With ``fallback_window``, points with no valid pixel in the small window (a landmark predicted just off
    the silhouette, say) take the median of the larger window instead."""
    if fallback_window is not None:
        z = surface_depth(depth_mm, uv, max_mm, window)
        miss = np.isnan(z) & np.isfinite(np.asarray(uv, dtype=np.float64)).all(axis=-1)
        if miss.any():
            z[miss] = surface_depth(depth_mm, np.asarray(uv, dtype=np.float64)[miss], max_mm, fallback_window)
        return z
    d = np.asarray(depth_mm, dtype=np.float64)
    uv = np.asarray(uv, dtype=np.float64)
    h, w = d.shape
    flat = uv.reshape(-1, 2)
    out = np.full(len(flat), np.nan)
    ok = np.isfinite(flat).all(axis=1)
    if ok.any():
        u = np.clip(np.rint(flat[ok, 0]).astype(int), 0, w - 1)
        v = np.clip(np.rint(flat[ok, 1]).astype(int), 0, h - 1)
        offs = np.arange(-window, window + 1)
        uu = np.clip(u[:, None, None] + offs[None, None, :], 0, w - 1)
        vv = np.clip(v[:, None, None] + offs[None, :, None], 0, h - 1)
        patch = d[vv, uu].reshape(len(u), -1)
        patch = np.where((patch > 0) & (patch <= max_mm), patch, np.nan)
        with warnings.catch_warnings():  # an all-NaN window is a NaN result, not a warning
            warnings.simplefilter("ignore", RuntimeWarning)
            out[ok] = np.nanmedian(patch, axis=1)
    return out.reshape(uv.shape[:-1])


def points_3d(depth_mm: np.ndarray, uv: np.ndarray, max_mm: float, intrinsics: Intrinsics = KINECT_V2,
              fallback_window: int | None = None) -> np.ndarray:
    """Raw-frame pixels (..., 2) on one depth frame → camera-frame points (..., 3) in mm (NaN if no depth)."""
    z = surface_depth(depth_mm, uv, max_mm, fallback_window=fallback_window)
    return intrinsics.back_project(uv, z)
