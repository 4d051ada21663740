"""One subject's clinical read-out from its landmarks: indices against the healthy ranges, the curve-angle
estimate with its uncertainty, and the screening calls (what a one-page report shows)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backsurface.clinical import cohort as assessment
from backsurface.clinical.curve import KINDS
from backsurface.clinical.reference import Reference

Z95 = 1.96


@dataclass
class SubjectResult:
    indices: pd.DataFrame  # index, value, unit, low, high, flag ("", "normal", "outside")
    angles: pd.DataFrame  # curve (thoracic, lumbar), angle_deg, ± (95%), convex, apex_share
    calls: pd.DataFrame  # screen (e.g. "curve > 10°"), estimate, cut-off, call
    spine: tuple[np.ndarray, np.ndarray] | None
    reasons: str  # why an index could not be computed ('' if every one could)
    cut_mm: float  # the frame's background cut (codec.cut_mm): its figures show the body within it
    major_deg: float = float("nan")  # the major curve angle the screens call on
    major_plus_minus_deg: float = float("nan")  # its 95% uncertainty
    major_method: str = ""  # how it was estimated


def assess_subject(depth: np.ndarray, points_px: np.ndarray, points_mm: np.ndarray, cut_mm: float,
                   prior: np.ndarray | None, reference: Reference) -> SubjectResult:
    """The read-out of one frame's landmarks (raw px (10, 2), camera mm (10, 3)) on its depth frame."""
    a = assessment.assess([depth], points_px[None], points_mm[None], [cut_mm], [prior])
    values = a.indices.iloc[0]
    rows = []
    for name, unit in assessment.UNITS.items():
        v = float(values.get(name, np.nan))
        low, high = reference.ranges.get(name, (np.nan, np.nan))
        flag = "" if not (np.isfinite(v) and np.isfinite(low)) else ("normal" if low <= v <= high else "outside")
        rows.append({"index": name, "value": v, "unit": unit, "low": low, "high": high, "flag": flag})
    est = assessment.angle_estimates(a, reference.calibration, reference.angle_model).iloc[0]
    curves = a.curves.iloc[0]
    rows_a = []
    for kind in KINDS:
        convex = est[f"{kind}_convex"] if isinstance(est[f"{kind}_convex"], str) else ""
        # no curve found: no angle (the calibration's intercept is not a measurement)
        rows_a.append({"curve": kind, "angle_deg": float(est[f"{kind}_deg"]) if convex else np.nan,
                       "plus_minus_deg": Z95 * reference.calibration.sd(kind), "convex": convex,
                       "apex_share": float(curves[f"{kind}_apex_share"])})
    angles = pd.DataFrame(rows_a)
    major = float(est["curve_deg"])
    calls = []
    for key, cutoff in sorted(reference.cutoffs.items()):
        if key.startswith("curve_deg>"):
            threshold = key.split(">", 1)[1]
            known = np.isfinite(major) and np.isfinite(cutoff)
            call = "" if not known else ("positive" if major >= cutoff else "negative")
            calls.append({"screen": f"curve > {threshold}°", "estimate_deg": major, "cutoff_deg": cutoff,
                          "call": call})
    m = reference.angle_model
    method = (f"{m.name}, fitted on the tuning cohort" if m is not None else "the larger calibrated curve")
    spread = Z95 * (m.residual_sd if m is not None else max(reference.calibration.sd(k) for k in KINDS))
    return SubjectResult(pd.DataFrame(rows), angles, pd.DataFrame(calls, columns=["screen", "estimate_deg",
                                                                                  "cutoff_deg", "call"]),
                         a.spines[0], a.reasons[0], float(cut_mm), major, spread, method)
