"""Clinical assessment of a cohort: the indices of :mod:`clinical` plus the spine line, per subject.

Takes landmarks in raw pixels and millimetres with each subject's raw depth frame, so the same call
serves predicted and ground-truth landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import clinical, metrics
from .landmarks import index

VP, NC = index("VP"), index("NC")
SILHOUETTE_WINDOW = 8  # depth under a landmark just off the silhouette: body pixels within 8 px (see predict)
SPINE = "spine_max_deviation_mm"
UNITS = clinical.INDICES | {SPINE: "mm"}


@dataclass
class Assessment:
    indices: pd.DataFrame  # one row per subject, columns UNITS
    reasons: list[str]  # why an index is NaN, per subject ('' if none is)
    spines: list[tuple[np.ndarray, np.ndarray] | None]  # (rows, columns) of the spine line in raw px


def _spine(depth, px, prior, max_mm):
    try:
        if prior is not None:
            ys0 = np.arange(np.ceil(px[VP, 1]), np.floor(px[NC, 1]) + 1)
            straight = px[VP, 0] + (ys0 - px[VP, 1]) / (px[NC, 1] - px[VP, 1]) * (px[NC, 0] - px[VP, 0])
            prior = np.where(np.isfinite(prior), prior, straight) if len(prior) == len(ys0) else None
        ys, xs = clinical.spine_line(depth, px[VP], px[NC], max_mm, prior_x=prior)
    except ValueError as exc:
        return None, str(exc)
    z = metrics.surface_depth(depth, np.stack([xs, ys], axis=1), max_mm)
    dev = clinical.lateral_deviation_mm(ys, xs, px[VP], px[NC], z)
    return (ys, xs, float(np.nanmax(np.abs(dev))) if np.isfinite(dev).any() else np.nan), ""


def assess(depths: list[np.ndarray], points_px: np.ndarray, points_mm: np.ndarray, max_mm: float,
           priors: list[np.ndarray | None] | None = None) -> Assessment:
    """Indices and spine line of N subjects (depth frames in mm, landmarks (N, 10, 2) px and (N, 10, 3) mm)."""
    px = np.asarray(points_px, dtype=np.float64)
    mm = np.asarray(points_mm, dtype=np.float64)
    surface_z = np.stack([metrics.surface_depth(d, p, max_mm, fallback_window=SILHOUETTE_WINDOW)
                          for d, p in zip(depths, px)])
    values = clinical.compute(mm, surface_z)
    why = clinical.reasons(mm, values, surface_z)
    spines, deviation = [], np.full(len(px), np.nan)
    for n, (d, p) in enumerate(zip(depths, px)):
        result, err = _spine(d, p, None if priors is None else priors[n], max_mm)
        if result is None:
            spines.append(None)
            why[n] = "; ".join(filter(None, [why[n], f"{SPINE}: {err}"]))
        else:
            spines.append(result[:2])
            deviation[n] = result[2]
    df = pd.DataFrame(values)
    df[SPINE] = deviation
    return Assessment(df, why, spines)


def normal_ranges(indices: pd.DataFrame, low: float = 2.5, high: float = 97.5) -> pd.DataFrame:
    """Reference interval of each index (percentiles ``low``–``high``) in a healthy group."""
    q = indices.quantile([low / 100, high / 100]).T
    q.columns = ["low", "high"]
    q["n"] = indices.notna().sum()
    q["unit"] = [UNITS.get(k, "") for k in q.index]
    return q


def validation_params(params):
    """Params of the clinical validation cohort: the study's sensor and ages, ``clinical``'s size and deformity
    share, and seed + 1 so that its subjects are new people, never the training cohort."""
    from .params import validate  # noqa: PLC0415

    c = params.clinical
    data = params.model_dump()
    data["seed"] = params.seed + 1
    data["acquire"]["source"] = "synthetic"
    data["acquire"]["cohort"].update(n_subjects=c.n_subjects, n_female=c.n_subjects // 2,
                                     deformity_share=c.deformity_share, cobb_max_deg=c.cobb_max_deg)
    return validate(data, source="clinical validation cohort")


def curve_deg(cohort: pd.DataFrame) -> np.ndarray:
    """The larger of the thoracic and lumbar curve angles (synthetic truth, degrees)."""
    return np.maximum(cohort["thoracic_cobb_deg"].abs(), cohort["lumbar_cobb_deg"].abs()).to_numpy()
