"""Generalisation: the trained models' landmarks on new cohorts, scored like the test split (NumPy/pandas).

Each cohort of ``generalise.cohorts`` is drawn anew (new seed, shifted distribution: older, heavier, deformed,
standing elsewhere, swaying more) and rendered once per subject; the notebook runs each model over the raw
frames and passes the predicted pixels here.  A frame in which the study's preprocessing finds no subject at all
(the background cut in front of the whole body) is *not found*: it has no prediction, is counted, and is left out
of the error means, which the ``found %`` beside them qualifies; it counts as a miss in the share within 10 mm,
and a cohort with one is never "held".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backsurface.core.landmarks import KEYS
from backsurface.evaluation import metrics
from backsurface.evaluation.scoring import surface_pair

GROUPS = ("all", "healthy", "deformed")


def frame_errors(pred_raw: np.ndarray, true_raw: np.ndarray, true_mm: np.ndarray, depths: dict[str, np.ndarray],
                 ids: np.ndarray, codec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """In-plane, surface and relative in-plane error (N, 10) of predictions on raw frames (NaN where there is
    none; the relative one with each frame's common offset removed, :func:`metrics.relative_inplane_errors_mm`)."""
    depth = np.asarray(true_mm, dtype=np.float64)[..., 2]
    inplane = metrics.inplane_errors_mm(pred_raw, true_raw, depth)
    pred_surface, true_surface = surface_pair(depths, ids, pred_raw, true_raw, codec)
    relative = metrics.relative_inplane_errors_mm(pred_raw, true_raw, depth)
    return inplane, metrics.errors_mm(pred_surface, true_surface), relative


def score_on_cohort(predictor, records: list, n_boot: int, seed: int) -> tuple[dict[str, dict], np.ndarray, np.ndarray]:
    """One model on one rendered cohort: ``predictor`` (a :class:`~backsurface.net.predictor.Predictor`, or anything
    with its ``predict_found`` and ``codec``) over the raw frames of ``records`` (the synthetic source's renders:
    ``id``, ``depth``, ``landmarks``, ``landmarks_mm``, ``subject``), scored with :func:`score_cohort`.

    Returns the scores, the predicted raw pixels (N, 10, 2; NaN where the subject was not found) and the in-plane
    errors (N, 10).  The generalisation stage and ``tools/ablate.py --cohorts`` both score through here."""
    frames = {r.id: r.depth.astype(float) for r in records}
    predicted, missed = predictor.predict_found(frames)  # no subject in front of the background cut: missed
    found = np.array([r.id not in missed for r in records])
    pred_raw = np.stack([predicted[r.id].points_raw if ok else np.full((len(KEYS), 2), np.nan)
                         for r, ok in zip(records, found)])
    true_raw, true_mm = np.stack([r.landmarks for r in records]), np.stack([r.landmarks_mm for r in records])
    ids = np.array([r.id for r in records])
    inplane, surface, relative = frame_errors(pred_raw, true_raw, true_mm, frames, ids, predictor.codec)
    scores = score_cohort(inplane, surface, [r.subject["subject_id"] for r in records],
                          [bool(r.subject["deformed"]) for r in records], found, n_boot, seed, relative=relative)
    return scores, pred_raw, inplane


def _group_metrics(inplane: np.ndarray, surface: np.ndarray, subjects: np.ndarray, found: np.ndarray, n_boot: int,
                   seed: int, relative: np.ndarray | None) -> dict:
    n = len(inplane)
    if n == 0:
        return {"n_frames": 0}
    summary = metrics.error_summary(inplane)["Total"]
    missed = np.where(found[:, None], inplane, np.inf)  # a frame without a prediction misses every radius
    sdr_10 = float(100.0 * np.mean(missed[np.isfinite(inplane) | ~found[:, None]] < 10.0))
    mean, lo, hi = (metrics.bootstrap_mean(inplane, subjects, n_boot, seed=seed) if found.any()
                    else (np.nan, np.nan, np.nan))
    out = {} if relative is None else {
        "inplane_relative_mre_mm": float(np.nanmean(relative)) if np.isfinite(relative).any() else np.nan}
    return out | {"inplane_mre_mm": mean, "inplane_mre_mm_ci": [lo, hi], "inplane_median_mm": summary["median_mm"],
            "inplane_sdr_10mm_pct": sdr_10,
            "inplane_mre_mm_by_landmark": {k: float(np.nanmean(inplane[:, i])) if found.any() else np.nan
                                           for i, k in enumerate(KEYS)},
            "surface_mre_mm": float(np.nanmean(surface)) if np.isfinite(surface).any() else np.nan,
            "n_frames": int(n), "n_not_found": int((~found).sum()), "found_pct": float(100.0 * found.mean())}


def score_cohort(inplane: np.ndarray, surface: np.ndarray, subject_ids: np.ndarray, deformed: np.ndarray,
                 found: np.ndarray, n_boot: int, seed: int, relative: np.ndarray | None = None) -> dict[str, dict]:
    """Headline numbers of one model on one cohort, for all frames and for the healthy and deformed ones apart:
    in-plane mean (subject-bootstrap 95% CI), median, % within 10 mm, mean per landmark, surface mean, frames
    found; with ``relative`` (the relative in-plane errors, N × 10) their mean too."""
    deformed, found = np.asarray(deformed, dtype=bool), np.asarray(found, dtype=bool)
    subjects = np.asarray(subject_ids).astype(str)
    out = {}
    for group, keep in (("all", np.ones_like(deformed)), ("healthy", ~deformed), ("deformed", deformed)):
        out[group] = _group_metrics(inplane[keep], surface[keep], subjects[keep], found[keep], n_boot, seed,
                                    None if relative is None else np.asarray(relative, dtype=np.float64)[keep])
    return out


def deformed_by_subject(cohort: pd.DataFrame, source: str = "cohort.csv") -> dict[str, bool] | None:
    """Each subject's ``deformed`` flag from a cohort table (``contract.read_cohort_table``); ``None`` when the table
    has no such column (an imported cohort need not say).  A value that is not true/false is refused, naming it."""
    if "deformed" not in cohort.columns:
        return None
    words = {"true": True, "false": False, "1": True, "0": False}
    flags = {}
    for sid, value in zip(cohort["subject_id"].astype(str), cohort["deformed"]):
        if isinstance(value, bool | np.bool_):
            flags[sid] = bool(value)
        elif str(value).strip().lower() in words:
            flags[sid] = words[str(value).strip().lower()]
        else:
            raise ValueError(f"{source}: subject {sid!r}: deformed must be true or false, got {value!r}")
    return flags


def health_groups(loc, deformed_by_subject: dict[str, bool], n_boot: int, seed: int) -> dict[str, dict]:
    """:func:`score_cohort` of a split's :class:`~backsurface.evaluation.scoring.Localised` (every frame found), with
    each subject's ``deformed`` flag from the cohort table: the test split, healthy and deformed backs apart."""
    subjects = np.asarray(loc.subject_ids).astype(str)
    unknown = sorted(map(str, set(subjects) - set(deformed_by_subject)))
    if unknown:
        raise ValueError(f"no deformed flag for subjects {unknown[:5]} in the cohort table")
    deformed = np.array([bool(deformed_by_subject[s]) for s in subjects])
    return score_cohort(loc.inplane_errors_mm, loc.surface_errors_mm, subjects, deformed,
                        np.ones(len(subjects), dtype=bool), n_boot, seed, relative=loc.relative_inplane_errors_mm)


def cohort_table(scores: dict[str, dict[str, dict]], reference: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per (cohort, backbone, group): in-plane mean with CI, median, % within 10 mm, relative in-plane mean
    (where scored), surface mean, frames found; with ``reference`` (backbone → test-split in-plane mean) the ratio
    to the test split as well."""
    rows = []
    for cohort, by_backbone in scores.items():
        for backbone, groups in by_backbone.items():
            for group in GROUPS:
                g = groups[group]
                if not g.get("n_frames"):
                    continue
                row = {"cohort": cohort, "backbone": backbone, "group": group, "frames": g["n_frames"],
                       "found %": g["found_pct"], "in-plane mm": g["inplane_mre_mm"],
                       "95% CI": "{:.1f}–{:.1f}".format(*g["inplane_mre_mm_ci"]),
                       "median mm": g["inplane_median_mm"], "within 10 mm %": g["inplane_sdr_10mm_pct"],
                       **({"relative mm": g["inplane_relative_mre_mm"]} if "inplane_relative_mre_mm" in g else {}),
                       "surface mm": g["surface_mre_mm"]}
                if reference is not None:
                    row["× test split"] = g["inplane_mre_mm"] / reference[backbone]
                rows.append(row)
    return pd.DataFrame(rows)


def worst_frames(inplane: np.ndarray, n: int) -> list[int]:
    """Rows of the ``n`` frames with the largest mean in-plane error (frames without a prediction excluded)."""
    e = np.asarray(inplane, dtype=np.float64)
    n_valid = np.isfinite(e).sum(axis=1)
    per_frame = np.where(n_valid > 0, np.nansum(e, axis=1) / np.maximum(n_valid, 1), -np.inf)
    order = np.argsort(-per_frame, kind="stable")
    return [int(i) for i in order[:n] if np.isfinite(per_frame[i])]


def metrics_json(scores: dict[str, dict[str, dict]]) -> dict:
    """``generalise.json``: cohort → backbone → the evaluation's headline keys (all frames), with the healthy and
    the deformed frames apart under ``healthy`` and ``deformed`` (absent where a cohort has none)."""
    return {cohort: {bb: {**g["all"], **{k: g[k] for k in ("healthy", "deformed") if g[k].get("n_frames")}}
                     for bb, g in by_backbone.items()} for cohort, by_backbone in scores.items()}


def generalise_headline(summary: dict, best: str, reference_mm: float) -> dict[str, dict[str, float]]:
    """The headline rows of :func:`metrics_json`, one per cohort: the share of the cohort's frames where the best
    backbone found the subject, and over those its in-plane mean and the ratio to that backbone's test-split mean
    ``reference_mm`` (absent where it found none: the row still says 0 % found)."""
    rows = {}
    for cohort, by_backbone in summary.items():
        g = by_backbone.get(best, {})
        row = {"found_pct": g.get("found_pct", 0.0)}
        mm = g.get("inplane_mre_mm", float("nan"))
        if np.isfinite(mm):
            row |= {"inplane_mm": mm, "to_test_ratio": mm / reference_mm}
        rows[cohort] = row
    return rows


def generalise_paragraph(table: pd.DataFrame, best: str, limit: float = 1.5) -> str:
    """Markdown: how the best backbone holds on each cohort against its test split (read from the table)."""
    rows = table[(table["backbone"] == best) & (table["group"] == "all")].set_index("cohort")
    held = [c for c in rows.index if rows.loc[c, "× test split"] <= limit and rows.loc[c, "found %"] == 100]
    worst = rows["× test split"].idxmax()
    lost = rows[rows["found %"] < 100]
    found = (" In " + ", ".join(f"{c} ({100 - r['found %']:.0f}% of frames)" for c, r in lost.iterrows())
             + " no subject stood in front of the background cut: those frames have no prediction."
             if len(lost) else "")
    return (f"**{best}**: within {limit:g}× its test-split in-plane error, every frame found, on {len(held)} of "
            f"{len(rows)} new cohorts "
            f"({', '.join(held) if held else 'none'}); the largest shift is **{worst}**, "
            f"{rows.loc[worst, 'in-plane mm']:.1f} mm (×{rows.loc[worst, '× test split']:.2f}).{found}")
