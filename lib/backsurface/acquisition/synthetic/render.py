"""Vectorised z-buffer rasterisation of a triangle mesh into a depth frame, plus the scene.

Pure NumPy: triangles are grouped by the size of their pixel bounding box, every
candidate pixel of a group is tested at once with barycentric coordinates, and
the nearest surface per pixel wins through one ``np.minimum.at``.  No Python
loop runs per triangle or per pixel.
"""

from __future__ import annotations

import numpy as np

from backsurface.core.camera import Intrinsics


def rasterize_depth(vertices_mm: np.ndarray, faces: np.ndarray, intr: Intrinsics) -> np.ndarray:
    """Depth (mm, float, ``inf`` where empty) of a mesh in camera coordinates, pixel-centre sampled."""
    v = np.asarray(vertices_mm, dtype=float)
    uv = intr.project(v)
    z = v[:, 2]
    tri_uv = uv[faces]  # (F, 3, 2)
    tri_z = z[faces]  # (F, 3)
    lo = np.ceil(tri_uv.min(axis=1)).astype(np.int64)  # first pixel centre inside the bbox
    hi = np.floor(tri_uv.max(axis=1)).astype(np.int64)
    lo = np.maximum(lo, 0)
    hi[:, 0] = np.minimum(hi[:, 0], intr.width - 1)
    hi[:, 1] = np.minimum(hi[:, 1], intr.height - 1)
    size = hi - lo + 1
    keep = (size > 0).all(axis=1)
    depth = np.full(intr.height * intr.width, np.inf)
    if not keep.any():
        return depth.reshape(intr.height, intr.width)
    tri_uv, tri_z, lo, size = tri_uv[keep], tri_z[keep], lo[keep], size[keep]
    # signed area; degenerate triangles are dropped
    e1 = tri_uv[:, 1] - tri_uv[:, 0]
    e2 = tri_uv[:, 2] - tri_uv[:, 0]
    area = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    ok = np.abs(area) > 1e-12
    tri_uv, tri_z, lo, size, area = tri_uv[ok], tri_z[ok], lo[ok], size[ok], area[ok]
    # groups of triangles by bbox extent (powers of two keep the padding waste small)
    extent = np.maximum(size[:, 0], size[:, 1])
    bucket = np.ceil(np.log2(np.maximum(extent, 1))).astype(int)
    for b in np.unique(bucket):
        idx = np.flatnonzero(bucket == b)
        n = 1 << int(b)
        oy, ox = np.mgrid[0:n, 0:n]
        px = lo[idx, 0, None] + ox.reshape(1, -1)  # (T, n*n)
        py = lo[idx, 1, None] + oy.reshape(1, -1)
        inside_box = (px - lo[idx, 0, None] < size[idx, 0, None]) & (py - lo[idx, 1, None] < size[idx, 1, None])
        t_uv = tri_uv[idx]
        d0x = px - t_uv[:, 0, 0, None]
        d0y = py - t_uv[:, 0, 1, None]
        ex1, ey1 = (t_uv[:, 1, 0] - t_uv[:, 0, 0])[:, None], (t_uv[:, 1, 1] - t_uv[:, 0, 1])[:, None]
        ex2, ey2 = (t_uv[:, 2, 0] - t_uv[:, 0, 0])[:, None], (t_uv[:, 2, 1] - t_uv[:, 0, 1])[:, None]
        a = area[idx, None]
        w1 = (d0x * ey2 - d0y * ex2) / a
        w2 = (ex1 * d0y - ey1 * d0x) / a
        w0 = 1.0 - w1 - w2
        eps = -1e-9
        inside = inside_box & (w0 >= eps) & (w1 >= eps) & (w2 >= eps)
        if not inside.any():
            continue
        # perspective-correct depth: interpolate 1/z linearly in screen space
        tz = tri_z[idx]
        inv_z = w0 / tz[:, 0, None] + w1 / tz[:, 1, None] + w2 / tz[:, 2, None]
        zz = 1.0 / inv_z[inside]
        flat = (py[inside] * intr.width + px[inside]).astype(np.int64)
        np.minimum.at(depth, flat, zz)
    return depth.reshape(intr.height, intr.width)


def background_depth(intr: Intrinsics, sensor_height_mm: float, wall_mm: float) -> np.ndarray:
    """Depth (mm) of the room behind the subject: a wall at ``wall_mm`` and a floor below the sensor.

    The floor is the plane ``Y = sensor_height_mm`` of the camera frame (Y down), seen
    only by rays that point downwards and meet it before the wall.
    """
    rays = intr.pixel_rays()
    down = rays[..., 1]
    with np.errstate(divide="ignore"):
        floor = np.where(down > 0, sensor_height_mm / np.where(down > 0, down, 1.0), np.inf)
    return np.minimum(floor, wall_mm)
