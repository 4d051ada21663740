"""Statistics of the clinical validation: agreement, association and screening accuracy.

Thin wrappers over scipy and scikit-learn that drop NaN pairs and say how many were dropped.
"""

from __future__ import annotations

import numpy as np
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
