"""Clinical assessment of a cohort: the posture indices plus the spine line, per subject, and how they are validated.

Takes landmarks in raw pixels and millimetres with each subject's raw depth frame, so the same call
serves predicted and ground-truth landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backsurface.clinical import indices as clinical
from backsurface.clinical.spine import lateral_deviation_mm, spine_line
from backsurface.core.landmarks import index
from backsurface.data.surface import SILHOUETTE_WINDOW, surface_depth

VP, NC = index("VP"), index("NC")
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
        ys, xs = spine_line(depth, px[VP], px[NC], max_mm, prior_x=prior)
    except ValueError as exc:
        return None, str(exc)
    z = surface_depth(depth, np.stack([xs, ys], axis=1), max_mm)
    dev = lateral_deviation_mm(ys, xs, px[VP], px[NC], z)
    return (ys, xs, float(np.nanmax(np.abs(dev))) if np.isfinite(dev).any() else np.nan), ""


def assess(depths: list[np.ndarray], points_px: np.ndarray, points_mm: np.ndarray, max_mm: float | list[float],
           priors: list[np.ndarray | None] | None = None) -> Assessment:
    """Indices and spine line of N subjects (depth frames in mm, landmarks (N, 10, 2) px and (N, 10, 3) mm).

    ``max_mm``: the background cut, one for all frames or one per frame (a model's ``codec.cut_mm`` of each)."""
    px = np.asarray(points_px, dtype=np.float64)
    mm = np.asarray(points_mm, dtype=np.float64)
    cuts = np.broadcast_to(np.asarray(max_mm, dtype=np.float64), (len(depths),))
    surface_z = np.stack([surface_depth(d, p, cut, fallback_window=SILHOUETTE_WINDOW)
                          for d, p, cut in zip(depths, px, cuts)])
    values = clinical.compute(mm, surface_z)
    why = clinical.reasons(mm, values, surface_z)
    spines, deviation = [], np.full(len(px), np.nan)
    for n, (d, p) in enumerate(zip(depths, px)):
        result, err = _spine(d, p, None if priors is None else priors[n], cuts[n])
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


def curve_deg(cohort: pd.DataFrame) -> np.ndarray:
    """The larger of the thoracic and lumbar curve angles (synthetic truth, degrees)."""
    return np.maximum(cohort["thoracic_cobb_deg"].abs(), cohort["lumbar_cobb_deg"].abs()).to_numpy()


# How each index is validated against the synthetic truth of the validation cohort: signed indices against the
# deformity knob they should follow, unsigned ones against the curve angle.
SIGNED_PAIRS = {"imbalance_mm": "thoracic_cobb_deg", "shoulder_obliquity_deg": "shoulder_tilt_deg",
                "pelvic_obliquity_deg": "pelvic_obliquity_deg", "scapular_depth_asym_mm": "axial_rotation_deg"}
UNSIGNED_PAIRS = {"ppotsi": "curve_deg", SPINE: "curve_deg", "pdapi": "curve_deg"}
VALIDATION_PAIRS = list(SIGNED_PAIRS.items()) + list(UNSIGNED_PAIRS.items())
SCREENING_SCORES = ("ppotsi", SPINE, "pdapi", "|imbalance_mm|", "|scapular_depth_asym_mm|")
"""Scores screened for a curve: an index name, or ``|name|`` for the magnitude of a signed index."""


def screening_score(indices: pd.DataFrame, name: str) -> pd.Series:
    """The value screened for one name of :data:`SCREENING_SCORES` (``|x|`` is the magnitude of index x)."""
    if name.startswith("|") and name.endswith("|"):
        return indices[name[1:-1]].abs()
    return indices[name]


def shoulder_height_summary(true_px: np.ndarray, pred_px: np.ndarray, shoulder_tilt_deg: np.ndarray,
                            min_tilt_deg: float = 1.0) -> dict[str, float | int | None]:
    """How predicted shoulder heights follow the true ones on subjects with a shoulder tilt > ``min_tilt_deg``:
    median |RSH − LSH| row difference (raw px) of truth and prediction, and how often the signs agree."""
    rsh, lsh = index("RSH"), index("LSH")
    dv_true = true_px[:, rsh, 1] - true_px[:, lsh, 1]
    dv_pred = pred_px[:, rsh, 1] - pred_px[:, lsh, 1]
    tilted = np.abs(np.asarray(shoulder_tilt_deg, dtype=float)) > min_tilt_deg
    if not tilted.any():
        return {f"subjects with shoulder tilt > {min_tilt_deg:g}°": 0, "true |Δv| (px), median": None,
                "predicted |Δv| (px), median": None, "same sign as truth (%)": None}
    return {
        f"subjects with shoulder tilt > {min_tilt_deg:g}°": int(tilted.sum()),
        "true |Δv| (px), median": float(np.median(np.abs(dv_true[tilted]))),
        "predicted |Δv| (px), median": float(np.median(np.abs(dv_pred[tilted]))),
        "same sign as truth (%)": float(100 * np.mean(np.sign(dv_pred[tilted]) == np.sign(dv_true[tilted]))),
    }


def validation_summary(backbone: str, n_subjects: int, positive: np.ndarray, auc: pd.DataFrame, assoc: pd.DataFrame,
                       agreement: pd.DataFrame, shoulders: dict) -> dict:
    """The clinical stage's metrics from its tables: AUC per score, the best one, key associations, LoA."""
    by_auc = auc.set_index("index")["predicted"].dropna()
    best = by_auc.idxmax() if len(by_auc) else None  # None when the cohort has no negatives or no positives

    def r(index):
        return assoc.query(f"index == '{index}' and landmarks == 'predicted'")["pearson_r"].item()

    return {
        "backbone": backbone, "n_subjects": n_subjects, "n_positive": int(np.sum(positive)),
        "auc_predicted": auc.set_index("index")["predicted"].to_dict(),
        "auc_true": auc.set_index("index")["true"].to_dict(),
        "best_index": best,
        "ppotsi_vs_curve_r": r("ppotsi"),
        "spine_deviation_vs_curve_r": r(SPINE),
        "shoulder_height_px_true_vs_predicted": shoulders,
        "shoulder_obliquity_loa_deg": agreement.set_index("index").loc["shoulder_obliquity_deg",
                                                                       ["loa_low", "loa_high"]].tolist(),
    }
