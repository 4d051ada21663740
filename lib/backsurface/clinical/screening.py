"""Statistics of the clinical validation: agreement, association and screening accuracy.

Thin wrappers over scipy and scikit-learn that drop NaN pairs and say how many were dropped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score, roc_curve


def _pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok], int((~ok).sum())


def bland_altman(predicted: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Bias (mean of predicted − reference) and 95% limits of agreement (bias ± 1.96 SD)."""
    p, r, dropped = _pairs(predicted, reference)
    d = p - r
    if d.size < 2:
        return {"n": int(d.size), "dropped": dropped, "bias": np.nan, "sd": np.nan, "loa_low": np.nan,
                "loa_high": np.nan, "mae": np.nan}
    sd = float(d.std(ddof=1))
    bias = float(d.mean())
    return {"n": int(d.size), "dropped": dropped, "bias": bias, "sd": sd, "loa_low": bias - 1.96 * sd,
            "loa_high": bias + 1.96 * sd, "mae": float(np.abs(d).mean())}


def association(index: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Pearson r, Spearman ρ and the least-squares slope of an index against a true deformity parameter."""
    x, y, dropped = _pairs(truth, index)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"n": int(x.size), "dropped": dropped, "pearson_r": np.nan, "spearman_rho": np.nan, "slope": np.nan}
    return {"n": int(x.size), "dropped": dropped, "pearson_r": float(stats.pearsonr(x, y)[0]),
            "spearman_rho": float(stats.spearmanr(x, y)[0]), "slope": float(np.polyfit(x, y, 1)[0])}


def roc(score: np.ndarray, positive: np.ndarray) -> dict:
    """ROC curve and AUC of ``score`` (higher = more likely positive) for a boolean label."""
    s, lab, dropped = _pairs(score, np.asarray(positive, dtype=float))
    lab = lab.astype(bool)
    if lab.all() or not lab.any():
        return {"n": int(s.size), "dropped": dropped, "auc": np.nan, "fpr": np.array([]), "tpr": np.array([])}
    fpr, tpr, _ = roc_curve(lab, s)
    return {"n": int(s.size), "dropped": dropped, "auc": float(roc_auc_score(lab, s)), "fpr": fpr, "tpr": tpr}


def _boot(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def angle_agreement(estimate: np.ndarray, truth: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict:
    """How an angle estimate agrees with the true angle (one value per subject): MAE with its subject-bootstrap 95%
    CI, RMSE, Pearson r, and Bland–Altman bias and limits of agreement (degrees)."""
    e, t, dropped = _pairs(estimate, truth)
    if e.size < 3:
        return {"n": int(e.size), "dropped": dropped, "mae": np.nan, "mae_ci": [np.nan, np.nan], "rmse": np.nan,
                "pearson_r": np.nan, "bias": np.nan, "loa_low": np.nan, "loa_high": np.nan}
    err = e - t
    boot = np.abs(err)[_boot(e.size, n_boot, seed)].mean(axis=1)
    ba = bland_altman(e, t)
    r = float(stats.pearsonr(e, t)[0]) if np.ptp(e) > 0 and np.ptp(t) > 0 else np.nan
    return {"n": int(e.size), "dropped": dropped, "mae": float(np.abs(err).mean()),
            "mae_ci": [float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5))],
            "rmse": float(np.sqrt(np.mean(err ** 2))), "pearson_r": r, "bias": ba["bias"],
            "loa_low": ba["loa_low"], "loa_high": ba["loa_high"]}


def auc_ci(score: np.ndarray, positive: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict:
    """ROC AUC of ``score`` with a subject-bootstrap 95% CI (resamples with one class only are skipped)."""
    s, lab, dropped = _pairs(score, np.asarray(positive, dtype=float))
    lab = lab.astype(bool)
    if lab.all() or not lab.any():
        return {"n": int(s.size), "dropped": dropped, "auc": np.nan, "auc_ci": [np.nan, np.nan]}
    aucs = [roc_auc_score(lab[i], s[i]) for i in _boot(s.size, n_boot, seed) if 0 < lab[i].sum() < len(i)]
    return {"n": int(s.size), "dropped": dropped, "auc": float(roc_auc_score(lab, s)),
            "auc_ci": [float(np.percentile(aucs, 2.5)), float(np.percentile(aucs, 97.5))]}


def youden_cutoff(score: np.ndarray, positive: np.ndarray) -> float:
    """The cut-off (score ≥ cut-off is positive) that maximises sensitivity + specificity − 1 (Youden's J) on the
    cohort given: choose it on a tuning cohort, report it on another."""
    s, lab, _ = _pairs(score, np.asarray(positive, dtype=float))
    lab = lab.astype(bool)
    if lab.all() or not lab.any():
        raise ValueError("a cut-off needs positive and negative subjects")
    fpr, tpr, thresholds = roc_curve(lab, s)
    ok = np.isfinite(thresholds)
    best = np.argmax((tpr - fpr)[ok])
    return float(thresholds[ok][best])


def sensitivity_specificity(score: np.ndarray, positive: np.ndarray, cutoff: float) -> dict[str, float]:
    """Sensitivity and specificity (%) of ``score ≥ cutoff`` as the test for ``positive``."""
    s, lab, dropped = _pairs(score, np.asarray(positive, dtype=float))
    lab, call = lab.astype(bool), s >= cutoff
    return {"n": int(s.size), "dropped": dropped,
            "sensitivity": float(100 * call[lab].mean()) if lab.any() else np.nan,
            "specificity": float(100 * (~call[~lab]).mean()) if (~lab).any() else np.nan}


def tuned_screen(tune_score: np.ndarray, tune_positive: np.ndarray, score: np.ndarray, positive: np.ndarray,
                 n_boot: int = 1000, seed: int = 0) -> dict:
    """One screen, tuned on one cohort and reported on another: the AUC (with CI) on the reported cohort, the AUC
    on the tuning cohort, the Youden cut-off chosen on the tuning cohort and the sensitivity and specificity it
    gives on the reported cohort.  The reported cohort's labels never reach the cut-off."""
    tuned = roc(tune_score, tune_positive)
    try:
        cutoff = youden_cutoff(tune_score, tune_positive)
    except ValueError:
        cutoff = np.nan
    shown = auc_ci(score, positive, n_boot, seed)
    ss = (sensitivity_specificity(score, positive, cutoff) if np.isfinite(cutoff)
          else {"sensitivity": np.nan, "specificity": np.nan})
    return {"n": shown["n"], "auc": shown["auc"], "auc_ci_low": shown["auc_ci"][0], "auc_ci_high": shown["auc_ci"][1],
            "auc_tuning": tuned["auc"], "cutoff": cutoff, "sensitivity": ss["sensitivity"],
            "specificity": ss["specificity"]}


def screening_table(tuning: dict[tuple[str, str], np.ndarray], tuning_curve_deg: np.ndarray,
                    validation: dict[tuple[str, str], np.ndarray], validation_curve_deg: np.ndarray,
                    thresholds_deg, n_boot: int = 1000, seed: int = 0) -> tuple[pd.DataFrame, dict]:
    """Every screen: for each threshold (a curve above it is positive), each (score, landmarks) of ``validation``
    tuned on the same key of ``tuning`` (:func:`tuned_screen`); rows (threshold_deg, score, landmarks, positives,
    …) and the validation ROC of each (threshold, score, landmarks)."""
    if set(tuning) != set(validation):
        raise ValueError(f"the tuning and validation cohorts hold different scores: "
                         f"{sorted(set(tuning) ^ set(validation))}")
    rows, rocs = [], {}
    for threshold in thresholds_deg:
        positive = np.asarray(validation_curve_deg, float) > threshold
        tune_positive = np.asarray(tuning_curve_deg, float) > threshold
        for (name, kind), score in validation.items():
            s = tuned_screen(tuning[(name, kind)], tune_positive, score, positive, n_boot, seed)
            rows.append({"threshold_deg": float(threshold), "score": name, "landmarks": kind,
                         "positives": int(positive.sum()), **s})
            rocs[(float(threshold), name, kind)] = roc(score, positive)
    return pd.DataFrame(rows), rocs


def substitution_table(values: dict[str, np.ndarray], curve_deg: np.ndarray, thresholds_deg) -> pd.DataFrame:
    """AUC of an index at each screening threshold for each landmark set of
    :func:`~backsurface.clinical.cohort.substitution` (``none``: all true; a landmark key: that one predicted;
    ``all``: all predicted), with the AUC lost against ``none``."""
    curve = np.asarray(curve_deg, float)
    base = {t: roc(values["none"], curve > t)["auc"] for t in thresholds_deg}
    rows = []
    for which, v in values.items():
        row = {"predicted landmark": which}
        for t in thresholds_deg:
            auc = roc(v, curve > t)["auc"]
            row[f"auc_{t:g}deg"], row[f"auc_lost_{t:g}deg"] = auc, base[t] - auc
        rows.append(row)
    return pd.DataFrame(rows)
