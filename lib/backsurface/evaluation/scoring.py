"""Evaluation of one model on one split: decode → raw frame → 3D → metrics → table rows (NumPy/pandas).

:func:`localise` turns final-stage heatmaps into landmarks in raw-frame pixels and in the camera
frame (mm), reading each image's raw depth; :func:`score` computes every metric of
:mod:`metrics` with bootstrap intervals over subjects; the ``*_table`` helpers lay the results out
as the paper's Tables 1-2 (rows: backbone × split, columns: landmarks + Total); :mod:`paper` sets them
beside the paper's published numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from backsurface.codec.label_codec import LabelCodec
from backsurface.core import arrayfile, contract
from backsurface.core.camera import KINECT_V2
from backsurface.core.landmarks import KEYS
from backsurface.data.surface import SILHOUETTE_WINDOW, points_3d
from backsurface.evaluation import metrics

FLOOR = "labels (floor)"
"""Row name for the ground-truth heatmaps decoded like a prediction: the protocol's measurement floor."""


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
    off_body: np.ndarray  # (N, 10) no body depth under the prediction: placed at the true depth
    pred_surface_mm: np.ndarray  # (N, 10, 3) predicted pixel lifted like the true one (see metrics)
    true_surface_mm: np.ndarray  # (N, 10, 3) true pixel lifted through the depth lookup

    @property
    def errors_mm(self) -> np.ndarray:
        """3D error against the annotated (mesh) point."""
        return metrics.errors_mm(self.pred_mm, self.true_mm)

    @property
    def inplane_errors_mm(self) -> np.ndarray:
        """In-plane error: the raw-pixel offset scaled at the true landmark's depth (the headline); where the truth
        has no 3D point (a pixel-only annotation on the silhouette), at its surface point's depth."""
        return metrics.inplane_errors_mm(self.pred_raw, self.true_raw, self._inplane_depth_mm)

    @property
    def relative_inplane_errors_mm(self) -> np.ndarray:
        """In-plane error once each image's common offset is removed (:func:`metrics.relative_inplane_errors_mm`),
        at the same depths as :attr:`inplane_errors_mm`."""
        return metrics.relative_inplane_errors_mm(self.pred_raw, self.true_raw, self._inplane_depth_mm)

    @property
    def _inplane_depth_mm(self) -> np.ndarray:
        """The depth the in-plane errors are scaled at: the true landmark's, else its surface point's."""
        z = self.true_mm[..., 2]
        return np.where(np.isnan(z), self.true_surface_mm[..., 2], z)

    @property
    def surface_errors_mm(self) -> np.ndarray:
        """Surface error: both pixels lifted through the same depth lookup (0 for a perfect prediction)."""
        return metrics.errors_mm(self.pred_surface_mm, self.true_surface_mm)

    @property
    def errors_px(self) -> np.ndarray:
        """Raw-frame pixel distance (NaN where the truth is missing)."""
        return np.linalg.norm(self.pred_raw - self.true_raw, axis=-1)


class SchemeMismatch(ValueError):
    """A model scored on data labelled with another scheme (crop, input size, background cut, grid...)."""


def require_same_scheme(model_codec: LabelCodec, data_codec: LabelCodec, source: str) -> None:
    """A model decodes with its own codec but is scored on the study's images and transforms: both must be the
    same scheme, else (a model of another crop or input size) its points would be mapped through the wrong frame.
    The decoding is the model's own affair (it reads the model's outputs, not the data): it may differ."""
    differ = replace(model_codec, decoding=data_codec.decoding).differences(data_codec, "data")
    if differ:
        raise SchemeMismatch(f"{source}: the model was trained with {', '.join(differ)}: retrain it "
                             f"(dvc repro train) or score it on its own data")


def with_raw_map(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The rows of a labelled split that map back to their raw frame: the frames and their translations.  The
    random training copies (``augment.copies``: flips, rotations) carry NaN transforms; they train, and are never
    scored."""
    keep = np.isfinite(np.asarray(data["transforms"], dtype=np.float64)).all(axis=1)
    return {k: v[keep] for k, v in data.items()}


def raw_depths(raw_dir: str | Path, ids: np.ndarray) -> dict[str, np.ndarray]:
    """Raw depth frame (mm) of every distinct id, read through the data contract."""
    raw_dir = Path(raw_dir)
    annotations, _ = contract.read_cohort(raw_dir)
    by_id = {a.id: a for a in annotations}
    missing = sorted(set(map(str, ids)) - set(by_id))
    if missing:
        raise contract.ContractError(f"{raw_dir}: no raw frame for ids {missing[:5]}")
    return {i: contract.read_depth(raw_dir / by_id[i].image).astype(np.float64) for i in sorted(set(map(str, ids)))}


def surface_points(depths: dict[str, np.ndarray], ids: np.ndarray, uv: np.ndarray, codec: LabelCodec) -> np.ndarray:
    """Raw-frame pixels (N, K, 2) of the images ``ids`` lifted to 3D through the one depth lookup both sides of the
    surface error use (median depth under the pixel, silhouette fallback window, the codec's background cut of
    each frame); NaN where no body is near."""
    cuts = {i: codec.cut_mm(depths[i]) for i in set(ids)}  # once per frame, however many copies it has
    return np.stack([points_3d(depths[i], p, cuts[i], fallback_window=SILHOUETTE_WINDOW) for i, p in zip(ids, uv)])


def surface_pair(depths: dict[str, np.ndarray], ids: np.ndarray, pred_raw: np.ndarray, true_raw: np.ndarray,
                 codec: LabelCodec) -> tuple[np.ndarray, np.ndarray]:
    """Predicted and true pixels lifted for the surface error (:func:`surface_points`); a predicted pixel with no
    body near it is placed in the plane of the true surface point's depth, so it counts instead of dropping out."""
    pred_surface, true_surface = (surface_points(depths, ids, uv, codec) for uv in (pred_raw, true_raw))
    no_surface = (np.isnan(pred_surface).any(axis=-1) & ~np.isnan(true_surface).any(axis=-1)
                  & np.isfinite(pred_raw).all(axis=-1))
    if no_surface.any():
        pred_surface[no_surface] = KINECT_V2.back_project(pred_raw[no_surface], true_surface[no_surface][:, 2])
    return pred_surface, true_surface


def localise(heatmaps: np.ndarray, pafs: np.ndarray, data: dict[str, np.ndarray], depths: dict[str, np.ndarray],
             codec: LabelCodec) -> Localised:
    """Decode final-stage outputs of one split and place the landmarks in 3D on the raw depth.

    A predicted point with no valid body depth under it (off the body) is placed at the true landmark's
    depth, so it still counts, as an error in that plane, instead of dropping out of the metrics.  For the surface
    error both pixels are lifted with the silhouette fallback window (:data:`SILHOUETTE_WINDOW`); a predicted
    pixel with no body within it is placed at the true surface point's depth the same way."""
    pred_in, conf = codec.decode(heatmaps)
    pred_raw = codec.to_raw(pred_in, data["transforms"])
    ids = np.asarray(data["ids"]).astype(str)
    cuts = {i: codec.cut_mm(depths[i]) for i in set(ids)}
    pred_mm = np.stack([points_3d(depths[i], p, cuts[i]) for i, p in zip(ids, pred_raw)])
    true_raw = np.asarray(data["points_raw"], dtype=np.float64)
    true_mm = np.asarray(data["points_mm"], dtype=np.float64).copy()
    no_3d = np.isnan(true_mm).any(axis=-1) & ~np.isnan(true_raw).any(axis=-1)
    if no_3d.any():  # recordings annotated in pixels only: back-project the annotation the same way
        for n in np.flatnonzero(no_3d.any(axis=1)):
            true_mm[n, no_3d[n]] = points_3d(depths[ids[n]], true_raw[n, no_3d[n]], cuts[ids[n]])
    # a prediction off the body has no depth under it: measure it in the plane of the true landmark's depth
    off_body = np.isnan(pred_mm).any(axis=-1) & ~np.isnan(true_mm).any(axis=-1)
    if off_body.any():
        pred_mm[off_body] = KINECT_V2.back_project(pred_raw[off_body], true_mm[off_body][:, 2])
    pred_surface, true_surface = surface_pair(depths, ids, pred_raw, true_raw, codec)
    links = np.stack([codec.link_scores(p, q) for p, q in zip(pafs, pred_in)])
    return Localised(ids, np.asarray(data["subject_ids"]).astype(str), pred_in, pred_raw, conf, pred_mm,
                     true_raw, true_mm, links, off_body, pred_surface, true_surface)


def evaluate_outputs(heatmaps: np.ndarray, pafs: np.ndarray, data: dict[str, np.ndarray],
                     depths: dict[str, np.ndarray], codec: LabelCodec, evaluate, seed: int) -> tuple[Localised, dict]:
    """:func:`localise` then :func:`score` with the ``evaluate`` section of the params (PCK, PDJ, bootstrap)."""
    loc = localise(heatmaps, pafs, data, depths, codec)
    return loc, score(loc, evaluate.pck_mm, evaluate.pdj_fraction, evaluate.bootstrap, seed)


def score(loc: Localised, pck_mm: float, pdj_fraction: float, n_boot: int, seed: int) -> dict:
    """Every metric of one model on one split, headline numbers with bootstrap 95% CIs over subjects.

    ``inplane``, ``surface`` and ``errors`` (3D against the mesh point) are :func:`metrics.error_summary` tables of the
    four millimetre errors (``inplane_relative``: the in-plane error with each image's common offset removed); PCK
    and PDJ are computed on the 3D error, as the paper's side-by-side needs."""
    e = loc.errors_mm
    inplane, surface, relative = loc.inplane_errors_mm, loc.surface_errors_mm, loc.relative_inplane_errors_mm
    pck = metrics.pck_correct(e, pck_mm)
    pdj = metrics.pdj_correct(e, loc.true_mm, pdj_fraction)
    groups = loc.subject_ids
    out = {
        "inplane": metrics.error_summary(inplane),
        "inplane_mre_mm_ci": metrics.bootstrap_mean(inplane, groups, n_boot, seed=seed),
        "inplane_sdr_10mm_ci": metrics.bootstrap_ci(metrics.pck_correct(inplane, 10.0), groups, n_boot, seed=seed),
        "inplane_relative": metrics.error_summary(relative),
        "inplane_relative_mre_mm_ci": metrics.bootstrap_mean(relative, groups, n_boot, seed=seed),
        "surface": metrics.error_summary(surface),
        "surface_mre_mm_ci": metrics.bootstrap_mean(surface, groups, n_boot, seed=seed),
        "pck": metrics.per_landmark(pck),
        "pdj": metrics.per_landmark(pdj),
        "pck_ci": metrics.bootstrap_ci(pck, groups, n_boot, seed=seed),
        "pdj_ci": metrics.bootstrap_ci(pdj, groups, n_boot, seed=seed),
        "mean_error_mm_ci": metrics.bootstrap_mean(e, groups, n_boot, seed=seed),
        "errors": metrics.error_summary(e),
        "n_images": int(len(e)),
        "n_subjects": int(len(np.unique(groups))),
        "n_missing_truth": int(np.isnan(loc.true_mm).any(axis=-1).sum()),
        "n_off_body_predictions": int(loc.off_body.sum()),
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
    """Per backbone and split: in-plane error (mean with bootstrap 95% CI, median, % within 10 mm), surface error,
    3D error against the mesh point, PCK and PDJ (on the 3D error) with their CIs."""
    rows = []
    for (backbone, split), s in scores.items():
        i, il, ih = s["inplane_mre_mm_ci"]
        p, pl, ph = s["pck_ci"]
        d, dl, dh = s["pdj_ci"]
        m, ml, mh = s["mean_error_mm_ci"]
        rows.append({"backbone": backbone, "split": split, "in-plane mm": i, "in-plane 95% CI": f"{il:.1f}–{ih:.1f}",
                     "in-plane median mm": s["inplane"]["Total"]["median_mm"],
                     "within 10 mm %": s["inplane"]["Total"]["within_10mm"],
                     "within 10 mm 95% CI": "{1:.0f}–{2:.0f}".format(*s["inplane_sdr_10mm_ci"]),
                     "surface mm": s["surface_mre_mm_ci"][0], "3D (mesh) mm": m, "3D 95% CI": f"{ml:.1f}–{mh:.1f}",
                     "PCK %": p, "PCK 95% CI": f"{pl:.1f}–{ph:.1f}", "PDJ %": d, "PDJ 95% CI": f"{dl:.1f}–{dh:.1f}",
                     "images": s["n_images"], "subjects": s["n_subjects"]})
    return pd.DataFrame(rows)


ERROR_KINDS = {"inplane": "in-plane", "inplane_relative": "relative in-plane (each image's common offset removed)",
               "surface": "surface", "errors": "3D (mesh point)"}
"""The four millimetre errors of :func:`score`, by their key, with the name the reports give them."""


def error_table(scores: dict[tuple[str, str], dict], split: str = "test", kind: str = "inplane") -> pd.DataFrame:
    """Mean ± SD error (mm) and % within 2/5/10/20 mm per landmark, one block per backbone; ``kind`` is a key of
    :data:`ERROR_KINDS`."""
    rows = []
    for (backbone, sp), s in scores.items():
        if sp != split:
            continue
        for k, r in s[kind].items():
            rows.append({"backbone": backbone, "landmark": k, **r})
    return pd.DataFrame(rows)


def error_long(locs: dict[str, Localised]) -> pd.DataFrame:
    """Long table of in-plane errors: one row per (backbone, image, landmark) with a true landmark."""
    frames = []
    for backbone, loc in locs.items():
        e = loc.inplane_errors_mm
        n, k = np.nonzero(~np.isnan(e))
        frames.append(pd.DataFrame({"backbone": backbone, "id": loc.ids[n], "landmark": np.asarray(KEYS)[k],
                                    "error_mm": e[n, k]}))
    return pd.concat(frames, ignore_index=True)


def per_image_error(loc: Localised) -> np.ndarray:
    """Mean in-plane error of each image over its true landmarks (NaN for an image without any)."""
    e = loc.inplane_errors_mm
    n = (~np.isnan(e)).sum(axis=1)
    return np.where(n > 0, np.nansum(e, axis=1) / np.maximum(n, 1), np.nan)


def pick_examples(loc: Localised, n_typical: int, n_worst: int) -> list[int]:
    """Rows to show: images nearest the median per-image mean error, then the worst ones (no repeats)."""
    per_image = per_image_error(loc)
    order = np.argsort(np.nan_to_num(per_image, nan=-1.0))
    worst = list(order[::-1][:n_worst])
    distance = np.abs(per_image - np.nanmedian(per_image)) if np.isfinite(per_image).any() else per_image
    typical = [int(i) for i in np.argsort(np.nan_to_num(distance, nan=np.inf)) if i not in worst][:n_typical]
    return typical + [int(i) for i in worst]


def pck_curve_of(loc: Localised, max_mm: float, points: int = 101) -> tuple[np.ndarray, np.ndarray, float]:
    thr = np.linspace(0.0, max_mm, points)
    curve = metrics.pck_curve(loc.errors_mm, thr)
    return thr, curve, metrics.curve_auc(curve, thr)


def link_table(scores: dict[tuple[str, str], dict], split: str = "test") -> pd.DataFrame:
    """Mean affinity score of each predicted link, per backbone (1 = the field agrees with the pair)."""
    return pd.DataFrame([{"backbone": bb, **s["link_score_mean"]} for (bb, sp), s in scores.items() if sp == split])


def save_predictions(path: str | Path, loc: Localised) -> Path:
    """Predicted landmarks of one split, kept for later analyses."""
    return arrayfile.save(path, ids=loc.ids, subject_ids=loc.subject_ids, pred_raw=loc.pred_raw, pred_mm=loc.pred_mm,
                       confidence=loc.confidence, true_raw=loc.true_raw, true_mm=loc.true_mm,
                       link_scores=loc.link_scores, off_body=loc.off_body)


def best_backbone(scores: dict[tuple[str, str], dict], backbones) -> str:
    """The backbone with the lowest mean in-plane error on the test split (the first of equals)."""
    return min(backbones, key=lambda bb: scores[(bb, "test")]["inplane_mre_mm_ci"][0])


def headline_metrics(s: dict) -> dict:
    """The headline numbers of one score (:func:`score`), each key naming its unit: in-plane error (mean, median,
    % within 10 mm, mean per landmark), relative in-plane error (mean, per landmark), surface and 3D error, PCK and
    PDJ."""
    return {"inplane_mre_mm": s["inplane_mre_mm_ci"][0], "inplane_median_mm": s["inplane"]["Total"]["median_mm"],
            "inplane_sdr_10mm_pct": s["inplane"]["Total"]["within_10mm"],
            "inplane_mre_mm_by_landmark": {k: s["inplane"][k]["mean_mm"] for k in KEYS},
            "inplane_relative_mre_mm": s["inplane_relative_mre_mm_ci"][0],
            "inplane_relative_mre_mm_by_landmark": {k: s["inplane_relative"][k]["mean_mm"] for k in KEYS},
            "surface_mre_mm": s["surface_mre_mm_ci"][0], "mean_error_mm": s["mean_error_mm_ci"][0],
            "pck": s["pck"]["Total"], "pdj": s["pdj"]["Total"]}


def metrics_summary(scores: dict[tuple[str, str], dict], curves: dict[str, tuple], backbones, best: str,
                    health: dict[str, dict] | None = None) -> dict:
    """The evaluation stage's metrics: backbone → split → :func:`headline_metrics`, the test PCK-curve AUC, and
    the measurement floor (the label heatmaps decoded like a prediction) under ``labels_floor``.  ``health``
    (backbone → :func:`~backsurface.evaluation.generalise.health_groups` of the test split) adds the test split's
    in-plane mean of the healthy and the deformed subjects (``inplane_mre_mm_healthy``/``_deformed``)."""
    summary = {bb: {split: headline_metrics(scores[(bb, split)]) for split in ("train", "test")} for bb in backbones}
    for bb, groups in (health or {}).items():
        for group in ("healthy", "deformed"):
            if groups[group].get("n_frames"):
                summary[bb]["test"][f"inplane_mre_mm_{group}"] = groups[group]["inplane_mre_mm"]
    for bb, (_, _, auc) in curves.items():
        summary[bb]["test"]["pck_auc"] = auc
    if (FLOOR, "test") in scores:
        summary["labels_floor"] = {split: {k: v for k, v in headline_metrics(scores[(FLOOR, split)]).items()
                                           if k in ("inplane_mre_mm", "surface_mre_mm", "mean_error_mm")}
                                   for split in ("train", "test")}
    summary["best_backbone"] = best
    return summary


def evaluation_headline(summary: dict, backbones) -> dict[str, dict[str, float]]:
    """The headline rows of :func:`metrics_summary`, test split: per backbone its in-plane mean, share within 10 mm,
    surface error, PCK and PDJ; under ``labels_floor`` the measurement floor's in-plane and surface error."""
    rows = {}
    for bb in backbones:
        t = summary[bb]["test"]
        rows[bb] = {"inplane_mm": t["inplane_mre_mm"], "sdr10mm_pct": t["inplane_sdr_10mm_pct"],
                    "surface_mm": t["surface_mre_mm"], "pck_pct": t["pck"], "pdj_pct": t["pdj"]}
    if "labels_floor" in summary:
        floor = summary["labels_floor"]["test"]
        rows["labels_floor"] = {"inplane_mm": floor["inplane_mre_mm"], "surface_mm": floor["surface_mre_mm"]}
    return rows
