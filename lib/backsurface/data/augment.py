"""Data augmentation (paper Sec. 5): the four translations, plus optional flips, rotation/scale, noise.

The paper shifts every image right, left, up and down (5 images per subject with the original).
Further augmentations are options, off in the paper profile.

Every function takes an image ``(H, W)`` or ``(H, W, C)`` and landmarks ``(N, 2)`` as ``(x, y)``
pixel coordinates with NaN for a missing landmark, and returns new arrays (inputs untouched).
Pixel centres sit at integer coordinates (see :mod:`backsurface.preprocess`).  A landmark that
leaves the frame becomes NaN -- missing, not clipped -- so its labels are masked.  A point is in
the frame when ``0 <= x <= W - 1`` and ``0 <= y <= H - 1`` (the data contract's rule).  Uncovered
image regions are filled with 0, the "no reading" value.  Random functions take an explicit
:class:`numpy.random.Generator`.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from backsurface.core.landmarks import FLIP_PERMUTATION, N_LANDMARKS


def _check(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    img = np.asarray(image)
    pts = np.asarray(points, dtype=np.float64)
    if img.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {img.shape}")
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"points must be (N, 2), got shape {pts.shape}")
    return img, pts


def drop_outside(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """Points outside ``[0, width-1] x [0, height-1]`` become NaN (both coordinates)."""
    pts = np.array(points, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        out = (pts[:, 0] < 0) | (pts[:, 0] > width - 1) | (pts[:, 1] < 0) | (pts[:, 1] > height - 1)
    pts[out] = np.nan
    return pts


def translate(image: np.ndarray, points: np.ndarray, dx: int, dy: int) -> tuple[np.ndarray, np.ndarray]:
    """Shift image content by ``(dx, dy)`` whole pixels (right/down positive), filling with 0.

    Landmarks move by exactly ``(dx, dy)``; those pushed out of the frame become NaN.
    """
    img, pts = _check(image, points)
    if int(dx) != dx or int(dy) != dy:
        raise ValueError(f"translation must be whole pixels, got ({dx}, {dy})")
    dx, dy = int(dx), int(dy)
    h, w = img.shape[:2]
    out = np.zeros_like(img)
    if abs(dx) < w and abs(dy) < h:
        src_y = slice(max(0, -dy), h - max(0, dy))
        src_x = slice(max(0, -dx), w - max(0, dx))
        dst_y = slice(max(0, dy), h - max(0, -dy))
        dst_x = slice(max(0, dx), w - max(0, -dx))
        out[dst_y, dst_x] = img[src_y, src_x]
    return out, drop_outside(pts + np.array([dx, dy], dtype=np.float64), w, h)


def paper_translations(shift: int) -> list[tuple[str, int, int]]:
    """The paper's five images per frame: ``[(name, dx, dy), ...]``.

    ``original (0, 0)``, ``right (+s, 0)``, ``left (-s, 0)``, ``up (0, -s)``, ``down (0, +s)``;
    image rows grow downwards, so "up" is a negative ``dy``.
    """
    if int(shift) != shift or shift <= 0:
        raise ValueError(f"translation shift must be a positive whole number of pixels, got {shift}")
    s = int(shift)
    return [("original", 0, 0), ("right", s, 0), ("left", -s, 0), ("up", 0, -s), ("down", 0, s)]


def hflip(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror left-right; landmark ``x → W - 1 - x`` and left/right identities swap.

    After a mirror the subject's left landmarks lie where the right ones were, so the rows are
    permuted with :data:`~backsurface.landmarks.FLIP_PERMUTATION`.  Applying it twice is the identity.
    """
    img, pts = _check(image, points)
    if pts.shape[0] != N_LANDMARKS:
        raise ValueError(f"hflip needs the {N_LANDMARKS} landmarks in order, got {pts.shape[0]} points")
    w = img.shape[1]
    flipped = pts.copy()
    flipped[:, 0] = (w - 1) - flipped[:, 0]
    return img[:, ::-1].copy(), flipped[FLIP_PERMUTATION]


def rotate_scale(
    image: np.ndarray, points: np.ndarray, angle_deg: float, scale: float, order: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by ``angle_deg`` (counter-clockwise as displayed, y down) and scale about the image centre.

    The centre is ``c = ((W - 1) / 2, (H - 1) / 2)``; a point moves to ``c + scale * R (p - c)`` with
    ``R = [[cos a, sin a], [-sin a, cos a]]`` acting on ``(x, y)``.  The image is resampled by
    inverse mapping every output pixel centre (``order=1`` bilinear, ``0`` nearest), 0 outside.
    Landmarks leaving the frame become NaN.
    """
    img, pts = _check(image, points)
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    h, w = img.shape[:2]
    a = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    c = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    new_pts = drop_outside((pts - c) @ (scale * rot).T + c, w, h)
    # inverse map: p = c + R^T (q - c) / scale, for each output pixel centre q
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    q = np.stack([xx - c[0], yy - c[1]], axis=-1)
    p = q @ rot / scale + c  # (q @ rot) == (rot.T @ q) per row
    coords = np.stack([p[..., 1], p[..., 0]])
    planes = [img] if img.ndim == 2 else [img[..., k] for k in range(img.shape[2])]
    out = [
        ndimage.map_coordinates(pl.astype(np.float64), coords, order=order, mode="constant", cval=0.0) for pl in planes
    ]
    res = out[0] if img.ndim == 2 else np.stack(out, axis=-1)
    return res.astype(img.dtype if img.dtype.kind == "f" else np.float32), new_pts


def depth_noise(image: np.ndarray, valid: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Add Gaussian noise of std ``sigma`` (image units) to the valid pixels; clip to ``[0, 1]``.

    For a 3-channel image the same noise goes into every channel (they are copies of one depth);
    invalid pixels keep their value.
    """
    img = np.asarray(image)
    valid = np.asarray(valid, dtype=bool)
    if img.shape[:2] != valid.shape:
        raise ValueError(f"image {img.shape} and valid mask {valid.shape} differ in size")
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    noise = rng.normal(0.0, sigma, size=valid.shape) * valid
    if img.ndim == 3:
        noise = noise[:, :, None]
    noisy = np.clip(img + noise, 0.0, 1.0)
    out = np.where(valid if img.ndim == 2 else valid[:, :, None], noisy, img)
    return out.astype(img.dtype if img.dtype.kind == "f" else np.float32)
