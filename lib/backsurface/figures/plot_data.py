"""Data files for DVC plots: the curves behind the figures as CSV tables, so ``dvc plots show`` draws them and
``dvc plots diff`` compares two experiments (the plot definitions are in ``dvc.yaml``).  Pure functions → tables;
:func:`write_csv` writes one whole or not at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from backsurface.core.atomic import atomic_file
from backsurface.core.landmarks import KEYS


def pck_curve_table(curves: dict[str, tuple[np.ndarray, np.ndarray, float]]) -> pd.DataFrame:
    """PCK (%) against the threshold (mm), one column per backbone (``curves``: name → (thresholds, pck, auc), all
    on the same thresholds)."""
    if not curves:
        raise ValueError("no PCK curve to tabulate")
    thresholds = next(iter(curves.values()))[0]
    for name, (thr, _, _) in curves.items():
        if not np.array_equal(thr, thresholds):
            raise ValueError(f"PCK curve of {name}: thresholds differ from the others'")
    return pd.DataFrame({"threshold_mm": thresholds, **{name: c for name, (_, c, _) in curves.items()}})


def error_cdf_table(errors_mm: np.ndarray, max_mm: float, points: int = 101) -> pd.DataFrame:
    """Share (%) of each landmark's evaluable errors at or below each error (mm) in [0, ``max_mm``]:
    ``errors_mm`` (N, 10), NaN where not evaluable; one column per landmark and ``all`` pooled."""
    e = np.asarray(errors_mm, dtype=np.float64)
    if e.ndim != 2 or e.shape[1] != len(KEYS):
        raise ValueError(f"errors must be (N, {len(KEYS)}), got {e.shape}")
    grid = np.linspace(0.0, max_mm, points)

    def cdf(values: np.ndarray) -> np.ndarray:
        v = values[np.isfinite(values)]
        if v.size == 0:
            return np.full(points, np.nan)
        return 100.0 * np.searchsorted(np.sort(v), grid, side="right") / v.size

    return pd.DataFrame({"error_mm": grid, **{k: cdf(e[:, j]) for j, k in enumerate(KEYS)}, "all": cdf(e.ravel())})


def roc_table(fpr: np.ndarray, tpr: np.ndarray) -> pd.DataFrame:
    """One ROC curve as false- and true-positive rates (both in [0, 1], non-decreasing)."""
    fpr, tpr = np.asarray(fpr, dtype=np.float64), np.asarray(tpr, dtype=np.float64)
    if fpr.shape != tpr.shape or fpr.ndim != 1:
        raise ValueError(f"fpr and tpr must be 1-D of one length, got {fpr.shape} and {tpr.shape}")
    return pd.DataFrame({"fpr": fpr, "tpr": tpr})


def write_csv(table: pd.DataFrame, path: str | Path) -> Path:
    """``table`` as CSV (no index, 4 decimals), written whole or not at all."""
    with atomic_file(path) as fh:
        table.to_csv(fh, index=False, float_format="%.4f")
    return Path(path)
