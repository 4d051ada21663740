"""Figures of the clinical validation: indices against the true deformity, ROC, Bland–Altman, the curve angle
(the one-page subject report is :mod:`backsurface.figures.report`)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def index_vs_truth(pairs: list[tuple[str, str]], predicted: pd.DataFrame, truth_idx: pd.DataFrame,
                   cohort: pd.DataFrame, stats: pd.DataFrame):
    """One panel per (index, true parameter): from predicted landmarks (dots) and true landmarks (crosses)."""
    cols = 3
    rows = int(np.ceil(len(pairs) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.5 * rows), squeeze=False)
    for ax in axes.ravel()[len(pairs):]:
        ax.axis("off")
    for ax, (idx, knob) in zip(axes.ravel(), pairs):
        x = cohort[knob]
        ax.scatter(x, truth_idx[idx], marker="x", s=22, color="tab:red", label="true landmarks")
        ax.scatter(x, predicted[idx], s=14, color="tab:blue", alpha=0.8, label="predicted landmarks")
        s = stats[(stats["index"] == idx) & (stats["parameter"] == knob)].set_index("landmarks")
        ax.set_title(f"{idx}\nr = {s.loc['predicted', 'pearson_r']:.2f} (predicted), "
                     f"{s.loc['true', 'pearson_r']:.2f} (true)", fontsize=8)
        ax.set_xlabel(knob, fontsize=8)
        ax.grid(alpha=0.3)
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def roc_curves(curves: dict[str, dict], title: str):
    """ROC per index: solid from predicted landmarks, dashed from true landmarks."""
    fig, ax = plt.subplots(figsize=(5.6, 5))
    colors = plt.get_cmap("tab10")
    for i, name in enumerate(sorted({k[0] for k in curves})):
        for kind, style in (("predicted", "-"), ("true", "--")):
            r = curves.get((name, kind))
            if r is None or not len(r["fpr"]):
                continue
            ax.plot(r["fpr"], r["tpr"], style, color=colors(i), label=f"{name} {kind} (AUC {r['auc']:.2f})")
    ax.plot([0, 1], [0, 1], ":", color="grey")
    ax.set_xlabel("1 − specificity")
    ax.set_ylabel("sensitivity")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6.5, loc="lower right")
    fig.tight_layout()
    return fig


def bland_altman(names: list[str], predicted: pd.DataFrame, truth_idx: pd.DataFrame, stats: pd.DataFrame):
    """Difference (predicted − true landmarks) against the mean, with bias and 95% limits of agreement."""
    cols = 3
    rows = int(np.ceil(len(names) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.3 * rows), squeeze=False)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    for ax, name in zip(axes.ravel(), names):
        p, t = predicted[name], truth_idx[name]
        ax.scatter((p + t) / 2, p - t, s=12)
        s = stats.set_index("index").loc[name]
        for y, style in ((s["bias"], "-"), (s["loa_low"], "--"), (s["loa_high"], "--")):
            ax.axhline(y, color="tab:red", ls=style, lw=1)
        ax.set_title(f"{name}\nbias {s['bias']:.2f}, LoA {s['loa_low']:.2f} to {s['loa_high']:.2f}", fontsize=8)
        ax.set_xlabel("mean of the two", fontsize=8)
        ax.set_ylabel("predicted − true", fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def angle_agreement(estimates: dict[str, np.ndarray], truth: np.ndarray, stats: dict[str, dict], title: str):
    """Estimated against true curve angle (left) and Bland–Altman (right), one colour per landmark source."""
    fig, (ax, ba) = plt.subplots(1, 2, figsize=(11, 4.6))
    colors = {"predicted": "tab:blue", "true": "tab:red"}
    top = max(np.nanmax(truth), *(np.nanmax(e) for e in estimates.values()), 1.0) * 1.05
    ax.plot([0, top], [0, top], ":", color="grey")
    for kind, est in estimates.items():
        s = stats[kind]
        ax.scatter(truth, est, s=14, alpha=0.8, color=colors.get(kind), label=f"{kind} landmarks: MAE {s['mae']:.1f}°,"
                   f" r {s['pearson_r']:.2f}")
        ba.scatter((est + truth) / 2, est - truth, s=14, alpha=0.8, color=colors.get(kind))
        for y, style in ((s["bias"], "-"), (s["loa_low"], "--"), (s["loa_high"], "--")):
            ba.axhline(y, color=colors.get(kind), ls=style, lw=1)
    ax.set_xlabel("true curve angle (°, the rig's spine bend)")
    ax.set_ylabel("estimated curve angle (°)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ba.set_xlabel("mean of estimate and truth (°)")
    ba.set_ylabel("estimate − truth (°)")
    ba.set_title("Bland–Altman: bias (solid) and 95% limits of agreement (dashed)", fontsize=9)
    for a in (ax, ba):
        a.grid(alpha=0.3)
    fig.tight_layout()
    return fig
