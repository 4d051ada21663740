"""Kinect v2 depth artefacts applied to an ideal depth image (pure NumPy, explicit RNG).

* axial noise, Gaussian with the range- and incidence-dependent sigma of
  :func:`backsurface.camera.axial_noise_sigma_mm`;
* flying pixels: at silhouettes (neighbour depth jump above ``edge_jump_mm``)
  a share of pixels reads a depth between the foreground and the background,
  the time-of-flight pixel mixing both returns;
* dropouts (0 = no reading) at grazing incidence, where too little light comes
  back, plus sparse random dropouts;
* the sensor's 0.5–4.5 m range: anything outside reads 0; then rounding to
  whole millimetres (``uint16``), as the sensor delivers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backsurface.core import camera


@dataclass(frozen=True)
class NoiseModel:
    enabled: bool = True
    flying_pixel_share: float = 0.5
    edge_jump_mm: float = 100.0
    grazing_cos: float = 0.2  # below this incidence cosine, readings drop out ...
    grazing_dropout: float = 0.7  # ... with this probability
    random_dropout: float = 0.002


def incidence_cos(depth_mm: np.ndarray, intr: camera.Intrinsics) -> np.ndarray:
    """|cos| of the angle between the viewing ray and the surface normal, from depth gradients."""
    pts = intr.back_project(np.stack(np.meshgrid(np.arange(intr.width), np.arange(intr.height)), -1), depth_mm)
    du = np.gradient(pts, axis=1)
    dv = np.gradient(pts, axis=0)
    n = np.cross(du, dv)
    norm = np.linalg.norm(n, axis=-1)
    rays = pts / np.maximum(np.linalg.norm(pts, axis=-1, keepdims=True), 1e-9)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.abs(np.einsum("hwc,hwc->hw", n, rays)) / norm
    return np.nan_to_num(cos, nan=1.0)


def _neighbour_extremes(depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pad = np.pad(depth, 1, mode="edge")
    stack = np.stack([pad[1 + dy : 1 + dy + depth.shape[0], 1 + dx : 1 + dx + depth.shape[1]]
                      for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    return stack.min(axis=0), stack.max(axis=0)


def apply_sensor_model(
    ideal_mm: np.ndarray, rng: np.random.Generator, model: NoiseModel = NoiseModel(),
    intr: camera.Intrinsics = camera.KINECT_V2,
) -> np.ndarray:
    """Ideal depth (mm, float; ``inf`` = nothing in range) → a raw Kinect v2 frame (``uint16``)."""
    depth = np.asarray(ideal_mm, dtype=float).copy()
    in_range = np.isfinite(depth) & (depth >= camera.MIN_RANGE_MM) & (depth <= camera.MAX_RANGE_MM)
    depth[~np.isfinite(depth)] = camera.MAX_RANGE_MM + 1.0
    if model.enabled:
        cos = incidence_cos(depth, intr)
        sigma = camera.axial_noise_sigma_mm(depth, cos)
        noisy = depth + rng.normal(size=depth.shape) * sigma
        lo, hi = _neighbour_extremes(depth)
        edge = ((hi - lo) > model.edge_jump_mm) & (hi <= camera.MAX_RANGE_MM)
        fly = edge & (rng.random(depth.shape) < model.flying_pixel_share)
        mix = rng.random(depth.shape)
        noisy = np.where(fly, lo + mix * (hi - lo), noisy)
        drop = (cos < model.grazing_cos) & (rng.random(depth.shape) < model.grazing_dropout)
        drop |= rng.random(depth.shape) < model.random_dropout
        depth = np.where(drop & ~fly, 0.0, noisy)
        in_range = (depth >= camera.MIN_RANGE_MM) & (depth <= camera.MAX_RANGE_MM) & (in_range | fly)
    return np.where(in_range, np.rint(depth), 0).astype(np.uint16)
