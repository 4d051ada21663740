"""Evaluation of one model on one split: decode → raw frame → 3D → metrics → table rows (NumPy/pandas).

:func:`localise` turns final-stage heatmaps into landmarks in raw-frame pixels and in the camera
frame (mm), reading each image's raw depth; :func:`score` computes every metric of
:mod:`metrics` with bootstrap intervals over subjects; the ``*_table`` helpers lay the results out
as the paper's Tables 1-2 (rows: backbone × split, columns: landmarks + Total).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import contract, decode, metrics
from .landmarks import KEYS


@dataclass
class Localised:
    """Predicted and true landmarks of one split (one row per image)."""

    ids: np.ndarray
    subject_ids: np.ndarray
    pred_input: np.ndarray  # (N, 10, 2) input px
    pred_raw: np.ndarray  # (N, 10, 2) raw-frame px
    confidence: np.ndarray  # (N, 10) heatmap peak
    pred_mm: np.ndarray  # (N, 10, 3)
    true_raw: np.ndarray
    true_mm: np.ndarray
    link_scores: np.ndarray  # (N, 5)

    @property
    def errors_mm(self) -> np.ndarray:
        return metrics.errors_mm(self.pred_mm, self.true_mm)

    @property
    def errors_px(self) -> np.ndarray:
        """Raw-frame pixel distance (NaN where the truth is missing)."""
        return np.linalg.norm(self.pred_raw - self.true_raw, axis=-1)


def raw_depths(raw_dir: str | Path, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Raw depth frame (mm) of every distinct id, read through the data contract."""
    raw_dir = Path(raw_dir)
    annotations, _ = contract.read_cohort(raw_dir)
    by_id = {a.id: a for a in annotations}
    missing = sorted(set(map(str, ids)) - set(by_id))
    if missing:
        raise contract.ContractError(f"{raw_dir}: no raw frame for ids {missing[:5]}")
    return {i: contract.read_depth(raw_dir / by_id[i].image).astype(np.float64) for i in sorted(set(map(str, ids)))}


def localise(heatmaps: np.ndarray, pafs: np.ndarray, data: dict[str, np.ndarray], depths: dict[str, np.ndarray],
             threshold_mm: float, stride: int) -> Localised:
    """Decode final-stage outputs of one split and place the landmarks in 3D on the raw depth."""
    pred_in, conf = decode.heatmap_peaks(heatmaps, stride)
    pred_raw = decode.to_raw(pred_in, data["transforms"])
    ids = np.asarray(data["ids"]).astype(str)
    pred_mm = np.stack([metrics.points_3d(depths[i], p, threshold_mm) for i, p in zip(ids, pred_raw)])
    true_raw = np.asarray(data["points_raw"], dtype=np.float64)
    true_mm = np.asarray(data["points_mm"], dtype=np.float64).copy()
    no_3d = np.isnan(true_mm).any(axis=-1) & ~np.isnan(true_raw).any(axis=-1)
    if no_3d.any():  # recordings annotated in pixels only: back-project the annotation the same way
        for n in np.flatnonzero(no_3d.any(axis=1)):
            true_mm[n, no_3d[n]] = metrics.points_3d(depths[ids[n]], true_raw[n, no_3d[n]], threshold_mm)
    links = np.stack([decode.link_scores(p, q, stride) for p, q in zip(pafs, pred_in)])
    return Localised(ids, np.asarray(data["subject_ids"]).astype(str), pred_in, pred_raw, conf, pred_mm,
                     true_raw, true_mm, links)


def score(loc: Localised, pck_mm: float, pdj_fraction: float, n_boot: int, seed: int) -> dict:
    """Every metric of one model on one split, headline numbers with bootstrap 95% CIs over subjects."""
    e = loc.errors_mm
    pck = metrics.pck_correct(e, pck_mm)
    pdj = metrics.pdj_correct(e, loc.true_mm, pdj_fraction)
    groups = loc.subject_ids
    out = {
        "pck": metrics.per_landmark(pck),
        "pdj": metrics.per_landmark(pdj),
        "pck_ci": metrics.bootstrap_ci(pck, groups, n_boot, seed=seed),
        "pdj_ci": metrics.bootstrap_ci(pdj, groups, n_boot, seed=seed),
        "mean_error_mm_ci": metrics.bootstrap_mean(e, groups, n_boot, seed=seed),
        "errors": metrics.error_summary(e),
        "n_images": int(len(e)),
        "n_subjects": int(len(np.unique(groups))),
        "n_missing_truth": int(np.isnan(loc.true_mm).any(axis=-1).sum()),
        "n_no_depth_under_prediction": int((np.isnan(loc.pred_mm).any(axis=-1) & ~np.isnan(loc.true_mm).any(
            axis=-1)).sum()),
        "n_pdj_not_evaluable": int((np.isnan(pdj) & ~np.isnan(e)).sum()),
        "link_score_mean": dict(zip(["PSIS", "waist", "scapulae", "shoulders", "VP-NC"],
                                    np.nanmean(loc.link_scores, axis=0).round(4).tolist())),
    }
    return out


def accuracy_table(scores: dict[tuple[str, str], dict], metric: str) -> pd.DataFrame:
    """Paper layout: one row per (split, backbone), columns VP … RPSIS, Total (percent)."""
    rows = []
    for (backbone, split), s in scores.items():
        rows.append({"split": split, "backbone": backbone, **{k: s[metric][k] for k in (*KEYS, "Total")}})
    df = pd.DataFrame(rows)
    order = {"train": 0, "test": 1}
    return df.sort_values(["split", "backbone"], key=lambda c: c.map(order) if c.name == "split" else c).reset_index(
        drop=True)


def headline_table(scores: dict[tuple[str, str], dict]) -> pd.DataFrame:
    """Total PCK, PDJ and mean 3D error with their bootstrap 95% CIs, per backbone and split."""
    rows = []
    for (backbone, split), s in scores.items():
        p, pl, ph = s["pck_ci"]
        d, dl, dh = s["pdj_ci"]
        m, ml, mh = s["mean_error_mm_ci"]
        rows.append({"backbone": backbone, "split": split, "PCK %": p, "PCK 95% CI": f"{pl:.1f}–{ph:.1f}",
                     "PDJ %": d, "PDJ 95% CI": f"{dl:.1f}–{dh:.1f}", "mean error mm": m,
                     "error 95% CI": f"{ml:.1f}–{mh:.1f}", "images": s["n_images"], "subjects": s["n_subjects"]})
    return pd.DataFrame(rows)


def error_table(scores: dict[tuple[str, str], dict], split: str = "test") -> pd.DataFrame:
    """Mean ± SD error (mm) and % within 5/10/15/20 mm per landmark, one block per backbone."""
    rows = []
    for (backbone, sp), s in scores.items():
        if sp != split:
            continue
        for k, r in s["errors"].items():
            rows.append({"backbone": backbone, "landmark": k, **r})
    return pd.DataFrame(rows)


# The paper's published numbers (Tables 1-2), for the side-by-side comparison; VGG-19 had no row.
PAPER = {
    ("pck", "train", "resnet50"): [74, 97, 82, 72, 49, 68, 89, 73, 81, 76.8, 76.1],
    ("pck", "train", "resnet152"): [76, 97, 86, 80, 56, 74, 89, 79, 83, 80, 80],
    ("pck", "test", "resnet50"): [71, 89, 81, 66, 46, 60.9, 88.8, 71, 78, 65.7, 71.7],
    ("pck", "test", "resnet152"): [75, 90, 83.4, 75, 54, 72, 84, 75, 80, 73, 76.1],
    ("pdj", "train", "resnet50"): [90.6, 97, 86.7, 81, 61.2, 67, 89.1, 94, 91, 93.6, 85.1],
    ("pdj", "train", "resnet152"): [92, 97, 88, 85, 66, 69, 91, 96, 93, 92, 86.9],
    ("pdj", "test", "resnet50"): [86, 92, 82.7, 73, 57.8, 56, 87, 82, 85.6, 91.6, 79.4],
    ("pdj", "test", "resnet152"): [88, 93, 84, 74, 58, 61, 89, 84, 88, 90, 80.9],
}
"""Paper tables transcribed column by column in this study's key order (VP, IF=NC, LSH, RSH, LS, RS, LW, RW,
LPSIS, RPSIS, Total).  The only numbers in this study not produced by a run: they are the paper's."""


def comparison_table(ours: pd.DataFrame, metric: str) -> pd.DataFrame:
    """This study's rows next to the paper's published rows for the same metric."""
    paper_rows = [{"source": "paper", "split": sp, "backbone": bb, **dict(zip((*KEYS, "Total"), v))}
                  for (m, sp, bb), v in PAPER.items() if m == metric]
    mine = ours.assign(source="this study")
    df = pd.concat([pd.DataFrame(paper_rows), mine], ignore_index=True)
    cols = ["split", "backbone", "source", *KEYS, "Total"]
    return df[cols].sort_values(["split", "backbone", "source"], ascending=[False, True, True]).reset_index(drop=True)
