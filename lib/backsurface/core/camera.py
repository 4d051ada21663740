"""Kinect v2 depth camera: frame geometry, intrinsics, projection, noise model and the paper's background threshold.

Camera frame (millimetres, OpenCV convention): X to the image's right, Y down,
Z away from the sensor along the optical axis.  Pixel ``(u, v)`` has its centre
at integer coordinates; ``u`` is the column, ``v`` the row.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WIDTH = 512
HEIGHT = 424
MIN_RANGE_MM = 500.0
MAX_RANGE_MM = 4500.0
PAPER_BACKGROUND_MM = 1700.0
"""The paper's background threshold (Sec. 5): depth beyond 1.7 m is not the subject."""


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of the depth camera (pixels)."""

    fx: float = 365.456
    fy: float = 365.456
    cx: float = 254.878
    cy: float = 205.395
    width: int = WIDTH
    height: int = HEIGHT

    def project(self, points_mm: np.ndarray) -> np.ndarray:
        """Camera-frame points ``(..., 3)`` in mm → pixel coordinates ``(..., 2)``."""
        p = np.asarray(points_mm, dtype=float)
        z = p[..., 2]
        if np.any(z <= 0):
            raise ValueError("cannot project points at or behind the sensor (Z <= 0)")
        u = self.cx + self.fx * p[..., 0] / z
        v = self.cy + self.fy * p[..., 1] / z
        return np.stack([u, v], axis=-1)

    def back_project(self, uv: np.ndarray, depth_mm: np.ndarray) -> np.ndarray:
        """Pixel coordinates ``(..., 2)`` with depth ``(...)`` in mm → camera points ``(..., 3)``."""
        uv = np.asarray(uv, dtype=float)
        z = np.asarray(depth_mm, dtype=float)
        x = (uv[..., 0] - self.cx) * z / self.fx
        y = (uv[..., 1] - self.cy) * z / self.fy
        return np.stack([x, y, z], axis=-1)

    def pixel_rays(self) -> np.ndarray:
        """Unit-depth rays ``(H, W, 3)``: the camera point at Z = 1 for each pixel centre."""
        v, u = np.mgrid[0 : self.height, 0 : self.width].astype(float)
        return np.stack([(u - self.cx) / self.fx, (v - self.cy) / self.fy, np.ones_like(u)], axis=-1)


KINECT_V2 = Intrinsics()


def axial_noise_sigma_mm(depth_mm: np.ndarray, incidence_cos: np.ndarray | float = 1.0) -> np.ndarray:
    """Standard deviation of Kinect v2 axial (depth) noise in mm.

    A quadratic model in range (Nguyen et al., 3DIMPVT 2012, refitted for the
    time-of-flight Kinect v2: ~1.3 mm at 1.5 m, ~4.5 mm at 4 m) inflated at grazing
    incidence, where the reflected signal is weak: ``sigma / cos(theta)`` with
    ``cos(theta)`` floored at 0.1.
    """
    z_m = np.asarray(depth_mm, dtype=float) / 1000.0
    base = 1.0 + 0.285 * (z_m - 0.5) ** 2
    cos = np.clip(np.asarray(incidence_cos, dtype=float), 0.1, 1.0)
    return base / cos
