"""The lateral curve angle of the spine line, thoracic and lumbar apart (NumPy).

A Cobb angle is the angle between the end plates of the most tilted vertebrae above and below a curve's apex.
Its surface analogue, used here, is the angle between the most tilted **tangents of the spine line** (the back's
symmetry line, :func:`backsurface.clinical.spine.spine_line`) on either side of the apex: along the line from VP
down to NC, the tangent's lateral tilt θ(s) rises and falls; each stretch between two consecutive extrema of θ is
one curve, its angle is the change of θ across it, and its apex is the point of the stretch farthest from the
chord joining its ends.  A curve whose apex lies in the upper :data:`THORACIC_SHARE` of the VP–NC line is
thoracic, below it lumbar; the larger of each kind is reported, with the side it is convex to.

The surface line bends less than the spine itself (the spinous processes turn towards the concavity and the soft
tissue smooths the curve), so the raw surface angle underestimates the curve.  :class:`Calibration` maps it onto
the curve angle by a straight line per curve type, fitted on a tuning cohort and applied to new subjects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from backsurface.core.camera import KINECT_V2, Intrinsics

THORACIC_SHARE = 0.5
"""Share of the VP–NC line (from VP) above which a curve's apex is thoracic: C7–T12 is about half of the
distance from C7 to the natal cleft."""
KINDS = ("thoracic", "lumbar")
MIN_ROWS = 8
MIN_FIT = 5
FLAT_DEG = 1e-6
"""A change of the tangent tilt below this between two points of the line is no change (rounding, not a curve)."""


@dataclass(frozen=True)
class Curve:
    """One curve of a spine line: its angle (°, ≥ 0), the side it is convex to and where its apex is."""

    angle_deg: float
    convex: str  # "left" | "right" (the subject's) | "" (no curve)
    apex_share: float  # apex position along VP (0) → NC (1); NaN without a curve


NO_CURVE = Curve(0.0, "", float("nan"))


def line_mm(ys_px: np.ndarray, xs_px: np.ndarray, z_mm: np.ndarray, intrinsics: Intrinsics = KINECT_V2) -> np.ndarray:
    """A spine line in raw pixels (rows ``ys``, columns ``xs``) on the surface depth ``z`` under it → ``(R, 2)``
    lateral and vertical position in mm in the camera frame (X: + = the subject's right; Y: + = down)."""
    uv = np.stack([np.asarray(xs_px, float), np.asarray(ys_px, float)], axis=-1)
    z = np.asarray(z_mm, dtype=np.float64)
    return np.stack([(uv[:, 0] - intrinsics.cx) * z / intrinsics.fx, (uv[:, 1] - intrinsics.cy) * z / intrinsics.fy],
                    axis=-1)


def smooth_depth(ys_px: np.ndarray, z_mm: np.ndarray, degree: int = 4) -> np.ndarray:
    """The surface depth under a spine line smoothed like its columns (a polynomial of ``degree`` in the row), so
    that sensor noise in the depth makes no turning points of the tangent; NaN rows stay NaN."""
    y, z = np.asarray(ys_px, dtype=np.float64), np.asarray(z_mm, dtype=np.float64)
    ok = np.isfinite(z)
    if ok.sum() <= degree + 1:
        return z
    return np.where(ok, np.polyval(np.polyfit(y[ok], z[ok], degree), y), np.nan)


def tangent_tilt_deg(points_mm: np.ndarray) -> np.ndarray:
    """Lateral tilt (°) of the line's tangent at each point, from the vertical: + where the line runs towards the
    subject's right going down."""
    p = np.asarray(points_mm, dtype=np.float64)
    dx, dy = np.gradient(p[:, 0]), np.gradient(p[:, 1])
    return np.degrees(np.arctan2(dx, dy))


def _extrema(theta: np.ndarray) -> np.ndarray:
    """Indices of the ends and of every interior local extremum of θ (a flat step keeps the direction before it)."""
    step = np.diff(theta)
    d = np.where(np.abs(step) > FLAT_DEG, np.sign(step), 0.0)
    last = np.maximum.accumulate(np.where(d != 0, np.arange(len(d)), 0))
    d = d[last]
    turns = np.flatnonzero(d[1:] * d[:-1] < 0) + 1
    return np.unique(np.concatenate([[0], turns, [len(theta) - 1]]))


def curves(points_mm: np.ndarray) -> list[Curve]:
    """Every curve of a spine line (``(R, 2)`` mm from VP down to NC, :func:`line_mm`), top to bottom."""
    p = np.asarray(points_mm, dtype=np.float64)
    ok = np.isfinite(p).all(axis=1)
    if ok.sum() < MIN_ROWS:
        raise ValueError(f"a spine line needs at least {MIN_ROWS} points with a depth, got {int(ok.sum())}")
    p = p[ok]
    theta = tangent_tilt_deg(p)
    ends = _extrema(theta)
    s = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
    out = []
    for a, b in zip(ends[:-1], ends[1:]):
        chord = p[b] - p[a]
        rel = p[a:b + 1] - p[a]
        offset = (chord[1] * rel[:, 0] - chord[0] * rel[:, 1]) / max(np.hypot(*chord), 1e-9)  # + : towards +X
        k = int(np.argmax(np.abs(offset)))
        convex = "right" if offset[k] > 0 else "left"
        out.append(Curve(float(abs(theta[b] - theta[a])), convex, float(s[a + k] / s[-1])))
    return out


def curve_angles(points_mm: np.ndarray, thoracic_share: float = THORACIC_SHARE) -> dict[str, Curve]:
    """The largest thoracic and the largest lumbar curve of a spine line (:data:`NO_CURVE` where there is none)."""
    found = {kind: NO_CURVE for kind in KINDS}
    for c in curves(points_mm):
        kind = "thoracic" if c.apex_share < thoracic_share else "lumbar"
        if c.angle_deg > max(found[kind].angle_deg, FLAT_DEG):
            found[kind] = c
    return found


FOLDS = 5


def _cv_residual_sd(x: np.ndarray, y: np.ndarray) -> float:
    fold = np.arange(len(x)) % FOLDS
    resid = np.empty(len(x))
    for f in range(FOLDS):
        test = fold == f
        if not test.any():
            continue
        slope, intercept = np.polyfit(x[~test], y[~test], 1)
        resid[test] = y[test] - np.maximum(intercept + slope * x[test], 0.0)
    return float(np.sqrt(np.mean(resid ** 2)))


@dataclass(frozen=True)
class Calibration:
    """Curve angle = intercept + slope × surface angle, per curve type (never below 0), and the SD of the fit's
    residuals on the cohort it was fitted on (the estimate's uncertainty)."""

    thoracic: tuple[float, float, float]  # (intercept, slope, residual SD °)
    lumbar: tuple[float, float, float]
    n_subjects: int

    @classmethod
    def identity(cls) -> Calibration:
        return cls((0.0, 1.0, 0.0), (0.0, 1.0, 0.0), 0)

    @classmethod
    def fit(cls, surface: dict[str, np.ndarray], truth: dict[str, np.ndarray]) -> Calibration:
        """Least squares per curve type over the subjects where both angles are finite (surface angles of
        :func:`curve_angles`, true angles as magnitudes).  A curve type with fewer than :data:`MIN_FIT` such
        subjects keeps the surface angle uncalibrated (slope 1, intercept 0) and an unknown (NaN) residual SD.  The
        residual SD is cross-validated (:data:`FOLDS` folds: each subject predicted by a line fitted without it), so
        the uncertainty it gives holds for new subjects, not only for those it was fitted on."""
        coef, used = {}, set()
        for kind in KINDS:
            x, y = np.asarray(surface[kind], float), np.abs(np.asarray(truth[kind], float))
            ok = np.isfinite(x) & np.isfinite(y)
            if ok.sum() < MIN_FIT or np.ptp(x[ok]) == 0:  # too few to fit: the surface angle as it is
                coef[kind] = (0.0, 1.0, float("nan"))
                continue
            slope, intercept = np.polyfit(x[ok], y[ok], 1)
            coef[kind] = (float(intercept), float(slope), _cv_residual_sd(x[ok], y[ok]))
            used |= set(np.flatnonzero(ok))
        return cls(coef["thoracic"], coef["lumbar"], len(used))

    def apply(self, kind: str, surface_deg: np.ndarray) -> np.ndarray:
        intercept, slope, _ = getattr(self, kind)
        return np.maximum(intercept + slope * np.asarray(surface_deg, dtype=np.float64), 0.0)

    def sd(self, kind: str) -> float:
        return getattr(self, kind)[2]

    def to_dict(self) -> dict:
        """JSON-ready: an unknown residual SD is ``null``."""
        return {k: ([None if isinstance(x, float) and not np.isfinite(x) else x for x in v] if isinstance(v, tuple)
                    else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict, source: str = "calibration") -> Calibration:
        def number(x, may_be_none=False):
            if x is None and may_be_none:
                return float("nan")
            if isinstance(x, bool) or not isinstance(x, int | float) or not np.isfinite(x):
                raise ValueError(f"{source}: a calibration holds finite numbers, got {x!r}")
            return float(x)

        def coef(kind):
            v = d.get(kind) if isinstance(d, dict) else None
            if not isinstance(v, list | tuple) or len(v) != 3:
                raise ValueError(f"{source}: a calibration holds [intercept, slope, residual SD] for {kind}, "
                                 f"got {v!r}")
            sd = number(v[2], may_be_none=True)
            if sd < 0:
                raise ValueError(f"{source}: the {kind} residual SD must be >= 0, got {sd}")
            return number(v[0]), number(v[1]), sd

        n = d.get("n_subjects") if isinstance(d, dict) else None
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"{source}: n_subjects must be a whole number >= 0, got {n!r}")
        return cls(coef("thoracic"), coef("lumbar"), n)
