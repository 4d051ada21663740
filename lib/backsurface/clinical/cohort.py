"""Clinical assessment of a cohort: the posture indices plus the spine line, per subject, and how they are validated.

Takes landmarks in raw pixels and millimetres with each subject's raw depth frame, so the same call
serves predicted and ground-truth landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from backsurface.clinical import curve as curve_angle
from backsurface.clinical import indices as clinical
from backsurface.clinical.angle_model import AngleModel
from backsurface.clinical.angle_model import features as features_of
from backsurface.clinical.spine import lateral_deviation_mm, spine_line
from backsurface.core.landmarks import KEYS, index
from backsurface.data.surface import SILHOUETTE_WINDOW, surface_depth

VP, NC = index("VP"), index("NC")
SPINE = "spine_max_deviation_mm"
UNITS = clinical.INDICES | {SPINE: "mm"}


@dataclass
class Assessment:
    indices: pd.DataFrame  # one row per subject, columns UNITS
    reasons: list[str]  # why an index is NaN, per subject ('' if none is)
    spines: list[tuple[np.ndarray, np.ndarray] | None]  # (rows, columns) of the spine line in raw px
    curves: pd.DataFrame  # surface curve angles of the spine line (:data:`CURVE_COLUMNS`), NaN without a line


CURVE_COLUMNS = [f"{kind}_{what}" for kind in curve_angle.KINDS for what in ("surface_deg", "convex", "apex_share")]


def _curve_row(ys, xs, z) -> dict:
    found = curve_angle.curve_angles(curve_angle.line_mm(ys, xs, curve_angle.smooth_depth(ys, z)))
    return {f"{kind}_{what}": getattr(c, attr) for kind, c in found.items()
            for what, attr in (("surface_deg", "angle_deg"), ("convex", "convex"), ("apex_share", "apex_share"))}


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
    try:
        curves, why = _curve_row(ys, xs, z), ""
    except ValueError as exc:  # the line stands; only its curve angle cannot be measured
        curves, why = {}, f"curve angle: {exc}"
    return (ys, xs, float(np.nanmax(np.abs(dev))) if np.isfinite(dev).any() else np.nan, curves), why


def back_depth_mm(surface_z: np.ndarray, points_mm: np.ndarray) -> np.ndarray:
    """One depth per subject for the frontal-plane indices: the median surface depth under its landmarks (the 3D
    points' median depth where no surface lies under any), NaN where neither is known."""
    z = np.asarray(surface_z, dtype=np.float64)
    fallback = np.asarray(points_mm, dtype=np.float64)[..., 2]
    z = np.where(np.isfinite(z).any(axis=1, keepdims=True), z, fallback)
    with np.errstate(all="ignore"):
        ok = np.isfinite(z).any(axis=1)
        return np.where(ok, np.nanmedian(np.where(ok[:, None], z, 0.0), axis=1), np.nan)


def _surface_z(depths: list[np.ndarray], px: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """(N, 10) surface depth under each landmark pixel (each point looked up on its own)."""
    return np.stack([surface_depth(d, p, cut, fallback_window=SILHOUETTE_WINDOW)
                     for d, p, cut in zip(depths, px, cuts)])


def _indices(px: np.ndarray, mm: np.ndarray, surface_z: np.ndarray) -> tuple[dict[str, np.ndarray], list[str]]:
    frontal = clinical.frontal_points(px, back_depth_mm(surface_z, mm))
    values = clinical.compute(mm, surface_z, frontal)
    return values, clinical.reasons(mm, values, surface_z)


def landmark_indices(depths: list[np.ndarray], points_px: np.ndarray, points_mm: np.ndarray,
                     max_mm: float | list[float] | np.ndarray) -> tuple[dict[str, np.ndarray], list[str]]:
    """The landmark indices of N subjects (:func:`backsurface.clinical.indices.compute`, the frontal-plane ones in
    the image plane) and, per subject, why an index could not be computed."""
    px = np.asarray(points_px, dtype=np.float64)
    cuts = np.broadcast_to(np.asarray(max_mm, dtype=np.float64), (len(depths),))
    return _indices(px, np.asarray(points_mm, dtype=np.float64), _surface_z(depths, px, cuts))


def substitution(depths: list[np.ndarray], true_px: np.ndarray, true_mm: np.ndarray, pred_px: np.ndarray,
                 pred_mm: np.ndarray, max_mm, name: str) -> dict[str, np.ndarray]:
    """Which landmark's error costs an index: ``name`` of every subject from the true landmarks (``none``), with one
    landmark at a time replaced by its prediction (the landmark's key), and from the predicted ones (``all``).
    The depth under each point is looked up once per source and swapped with its landmark."""
    cuts = np.broadcast_to(np.asarray(max_mm, dtype=np.float64), (len(depths),))
    true = [np.asarray(a, dtype=np.float64) for a in (true_px, true_mm)]
    pred = [np.asarray(a, dtype=np.float64) for a in (pred_px, pred_mm)]
    z_true, z_pred = _surface_z(depths, true[0], cuts), _surface_z(depths, pred[0], cuts)
    out = {"none": _indices(*true, z_true)[0][name]}
    for j, key in enumerate(KEYS):
        px, mm, z = true[0].copy(), true[1].copy(), z_true.copy()
        px[:, j], mm[:, j], z[:, j] = pred[0][:, j], pred[1][:, j], z_pred[:, j]
        out[key] = _indices(px, mm, z)[0][name]
    out["all"] = _indices(*pred, z_pred)[0][name]
    return out


def assess(depths: list[np.ndarray], points_px: np.ndarray, points_mm: np.ndarray, max_mm: float | list[float],
           priors: list[np.ndarray | None] | None = None) -> Assessment:
    """Indices and spine line of N subjects (depth frames in mm, landmarks (N, 10, 2) px and (N, 10, 3) mm).

    ``max_mm``: the background cut, one for all frames or one per frame (a model's ``codec.cut_mm`` of each)."""
    px = np.asarray(points_px, dtype=np.float64)
    cuts = np.broadcast_to(np.asarray(max_mm, dtype=np.float64), (len(depths),))
    values, why = landmark_indices(depths, px, points_mm, cuts)
    spines, deviation, curves = [], np.full(len(px), np.nan), []
    for n, (d, p) in enumerate(zip(depths, px)):
        result, err = _spine(d, p, None if priors is None else priors[n], cuts[n])
        if result is None:
            spines.append(None)
            curves.append({})
            why[n] = "; ".join(filter(None, [why[n], f"{SPINE}: {err}"]))
        else:
            spines.append(result[:2])
            deviation[n] = result[2]
            curves.append(result[3])
            why[n] = "; ".join(filter(None, [why[n], err]))
    df = pd.DataFrame(values)
    df[SPINE] = deviation
    return Assessment(df, why, spines, pd.DataFrame(curves, columns=CURVE_COLUMNS, index=range(len(px))))


def angle_estimates(assessed: Assessment, calibration: curve_angle.Calibration,
                    model: AngleModel | None = None) -> pd.DataFrame:
    """The calibrated curve angles of each subject: ``thoracic_deg``, ``lumbar_deg``, with the side each curve is
    convex to, and the major angle ``curve_deg``: the ``model``'s estimate from the surface signs
    (:mod:`backsurface.clinical.angle_model`), or without one the larger of the two (NaN where the subject has no
    spine line)."""
    c = assessed.curves
    out = pd.DataFrame(index=c.index)
    for kind in curve_angle.KINDS:
        surface = c[f"{kind}_surface_deg"].to_numpy(dtype=float)
        out[f"{kind}_deg"] = np.where(np.isfinite(surface), calibration.apply(kind, surface), np.nan)
        out[f"{kind}_convex"] = c[f"{kind}_convex"]
    out["curve_deg"] = (out[["thoracic_deg", "lumbar_deg"]].max(axis=1, skipna=False) if model is None
                        else model.predict(angle_features(assessed)))
    return out


def angle_features(assessed: Assessment) -> pd.DataFrame:
    """The surface signs the major-angle model reads (:func:`backsurface.clinical.angle_model.features`)."""
    return features_of(assessed.curves, assessed.indices)


def surface_angles(assessed: Assessment) -> dict[str, np.ndarray]:
    """Surface curve angles per curve type (the input of :meth:`~backsurface.clinical.curve.Calibration.fit`)."""
    return {kind: assessed.curves[f"{kind}_surface_deg"].to_numpy(dtype=float) for kind in curve_angle.KINDS}


def true_angles(cohort: pd.DataFrame) -> dict[str, np.ndarray]:
    """The synthetic truth per curve type: the bend of the rig's spine bones (magnitudes, degrees)."""
    return {"thoracic": cohort["thoracic_cobb_deg"].abs().to_numpy(dtype=float),
            "lumbar": cohort["lumbar_cobb_deg"].abs().to_numpy(dtype=float)}


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


def pelvis_tilt_deg(cohort: pd.DataFrame) -> np.ndarray:
    """The rig's tilt of the pelvis about the antero-posterior axis (°): the pelvic-obliquity knob plus the whole
    body's lateral lean, which turns the pelvis about the same axis (``acquisition/synthetic/body.py``,
    ``pose_deltas``).  A pelvic index sees this sum; the knob alone is a share of it."""
    return (cohort["pelvic_obliquity_deg"] + cohort["lean_lateral_deg"]).to_numpy(dtype=float)


# How each index is validated against the synthetic truth of the validation cohort: signed indices against the
# deformity knob they should follow, unsigned ones against the curve angle.
SIGNED_PAIRS = [("imbalance_mm", "thoracic_cobb_deg"), ("shoulder_obliquity_deg", "shoulder_tilt_deg"),
                ("pelvic_obliquity_deg", "pelvic_obliquity_deg"), ("pelvic_obliquity_deg", "pelvis_tilt_deg"),
                ("scapular_depth_asym_mm", "axial_rotation_deg")]
UNSIGNED_PAIRS = [("ppotsi", "curve_deg"), (SPINE, "curve_deg"), ("pdapi", "curve_deg")]
VALIDATION_PAIRS = SIGNED_PAIRS + UNSIGNED_PAIRS
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


def clinical_summary(backbone: str, n_subjects: int, n_tuning: int, angle: pd.DataFrame, screen: pd.DataFrame,
                     assoc: pd.DataFrame, shoulders: dict, ppotsi_costs: pd.DataFrame | None = None) -> dict:
    """The clinical stage's headline metrics (validation cohort), each key naming its unit.

    ``angle``: rows (curve, landmarks) of :func:`~backsurface.clinical.screening.angle_agreement`; ``screen``: rows
    (threshold_deg, score, landmarks) with the validation AUC and the AUC on the tuning cohort, from which the best
    score of each threshold is chosen (``auc_index``), never from the validation AUC itself."""
    def agree(curve, landmarks, key):
        return float(angle.query(f"curve == '{curve}' and landmarks == '{landmarks}'")[key].item())

    def r(index):
        return float(assoc.query(f"index == '{index}' and landmarks == 'predicted'")["pearson_r"].item())

    out = {"backbone": backbone, "n_subjects": n_subjects, "n_tuning_subjects": n_tuning,
           "angle_mae_deg": agree("major", "predicted", "mae"), "angle_rmse_deg": agree("major", "predicted", "rmse"),
           "angle_r": agree("major", "predicted", "pearson_r"),
           "angle_mae_deg_ci": [agree("major", "predicted", "mae_ci_low"), agree("major", "predicted", "mae_ci_high")],
           "angle_mae_deg_true_landmarks": agree("major", "true", "mae"),
           "screening_deg": sorted(float(t) for t in set(screen["threshold_deg"])), "auc_index": {}}
    pred = screen[screen["landmarks"] == "predicted"]
    for threshold, rows in pred.groupby("threshold_deg"):
        key = f"{threshold:g}deg"
        best = rows.sort_values("auc_tuning", ascending=False).iloc[0]
        out[f"auc_{key}"] = float(best["auc"])
        out[f"auc_{key}_ci"] = [float(best["auc_ci_low"]), float(best["auc_ci_high"])]
        out["auc_index"][key] = str(best["score"])
        out[f"positive_{key}_pct"] = 100.0 * float(best["positives"]) / float(best["n"]) if best["n"] else float("nan")
        out[f"sensitivity_{key}_pct"], out[f"specificity_{key}_pct"] = float(best["sensitivity"]), float(
            best["specificity"])
        ppotsi = rows[rows["score"] == "ppotsi"]
        if len(ppotsi):
            out[f"ppotsi_auc_predicted_{key}"] = float(ppotsi["auc"].item())
    first = f"{min(pred['threshold_deg']):g}deg" if len(pred) else None
    out["ppotsi_auc_predicted"] = out.get(f"ppotsi_auc_predicted_{first}", float("nan"))
    out["shoulder_obliquity_r_predicted"] = r("shoulder_obliquity_deg")
    out["shoulder_height_same_sign_pct"] = shoulders.get("same sign as truth (%)")
    if ppotsi_costs is not None and first is not None:  # the landmark whose error costs the partial POTSI most
        single = ppotsi_costs[~ppotsi_costs["predicted landmark"].isin(["none", "all"])]
        lost = single[f"auc_lost_{first}"].to_numpy(dtype=float)
        if np.isfinite(lost).any() and np.nanmax(lost) > 0:
            out["ppotsi_costliest_landmark"] = str(single["predicted landmark"].iloc[int(np.nanargmax(lost))])
            out[f"ppotsi_costliest_auc_lost_{first}"] = float(np.nanmax(lost))
            out[f"ppotsi_auc_true_landmarks_{first}"] = float(
                ppotsi_costs.loc[ppotsi_costs["predicted landmark"] == "none", f"auc_{first}"].item())
    return out


def clinical_headline(summary: dict) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """The headline of :func:`clinical_summary` for ``dvc metrics show``: the major curve angle from predicted
    landmarks against the truth (MAE, RMSE, r; the MAE from true landmarks beside it) and the shoulder obliquity's r
    with the truth; and one row per screening threshold (``<t>deg``): the chosen index's AUC, sensitivity and
    specificity at the tuning cohort's cut-off, and the partial POTSI's AUC, all from predicted landmarks.  Counts,
    confidence intervals and the index names stay in the summary."""
    angle = {"angle_mae_deg": summary["angle_mae_deg"], "angle_rmse_deg": summary["angle_rmse_deg"],
             "angle_r": summary["angle_r"], "angle_mae_true_deg": summary["angle_mae_deg_true_landmarks"],
             "shoulder_r": summary["shoulder_obliquity_r_predicted"]}
    rows = {}
    for t in summary["screening_deg"]:
        key = f"{t:g}deg"
        row = {"positive_pct": summary.get(f"positive_{key}_pct"), "auc": summary.get(f"auc_{key}"),
               "sensitivity_pct": summary.get(f"sensitivity_{key}_pct"),
               "specificity_pct": summary.get(f"specificity_{key}_pct"),
               "ppotsi_auc": summary.get(f"ppotsi_auc_predicted_{key}")}
        rows[key] = {k: v for k, v in row.items() if v is not None and np.isfinite(v)}
    return {k: v for k, v in angle.items() if v is not None and np.isfinite(v)}, rows
