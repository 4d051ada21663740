"""Figures of the evaluation: stage maps, predictions vs truth, accuracy bars, error distributions, PCK curves.

Every function returns a matplotlib Figure (save with :func:`backsurface.figures.save`).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from backsurface.codec import grid  # noqa: E402
from backsurface.core.landmarks import KEYS, LINKS, N_LANDMARKS, PAPER_LINKS  # noqa: E402
from backsurface.figures.common import draw_landmarks, show_body  # noqa: E402


def stage_maps(image: np.ndarray, outputs: list[np.ndarray], title: str = ""):
    """Paper Figures 7-10: per stage, all landmark heatmaps (max over channels) and the affinity magnitude."""
    t_max = len(outputs) // 2
    size = image.shape[0]
    extent = (-0.5, size - 0.5, size - 0.5, -0.5)
    fig, axes = plt.subplots(2, t_max + 1, figsize=(2.6 * (t_max + 1), 5.4), squeeze=False)
    for row, name in enumerate(("heatmaps", "affinity")):
        axes[row, 0].imshow(image, cmap="gray", vmin=0, vmax=1)
        axes[row, 0].set_title("input", fontsize=8)
        for t in range(t_max):
            out = outputs[2 * t + row]
            m = out[..., :N_LANDMARKS].max(axis=-1) if row == 0 else np.hypot(out[..., 0::2], out[..., 1::2]).max(-1)
            ax = axes[row, t + 1]
            ax.imshow(image, cmap="gray", vmin=0, vmax=1, extent=extent)
            ax.imshow(m, cmap="jet", alpha=0.55, vmin=0, vmax=1, extent=extent, interpolation="bilinear")
            ax.set_title(f"stage {t + 1} {name}", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def last_stage_maps(image: np.ndarray, heatmaps: np.ndarray, pafs: np.ndarray, title: str = ""):
    """Each landmark's last-stage heatmap and each link's affinity field (magnitude, arrows)."""
    size = image.shape[0]
    n = heatmaps.shape[0]
    stride = size // n
    extent = (-0.5, size - 0.5, size - 0.5, -0.5)
    centres = grid.cell_centres(n, stride)
    gx, gy = np.meshgrid(centres, centres)
    fig, axes = plt.subplots(2, 8, figsize=(18, 5.2))
    panels = [(k, heatmaps[..., i]) for i, k in enumerate(KEYS)]
    for ax, (name, hm) in zip(axes.ravel()[:N_LANDMARKS], panels):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1, extent=extent)
        ax.imshow(hm, cmap="jet", alpha=0.55, vmin=0, vmax=1, extent=extent, interpolation="bilinear")
        ax.set_title(name, fontsize=8)
    for c, ax in enumerate(axes.ravel()[N_LANDMARKS : N_LANDMARKS + len(LINKS)]):
        u, v = pafs[..., 2 * c], pafs[..., 2 * c + 1]
        mag = np.hypot(u, v)
        ax.imshow(image, cmap="gray", vmin=0, vmax=1, extent=extent)
        ax.imshow(mag, cmap="viridis", alpha=0.5, vmin=0, vmax=1, extent=extent)
        on = mag > 0.3
        ax.quiver(gx[on], gy[on], u[on], v[on], color="yellow", angles="xy", scale_units="xy", scale=1 / stride,
                  width=0.006)
        ax.set_title(f"link {list(PAPER_LINKS[c])}", fontsize=8)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def prediction_overlays(frames: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, float]], cols: int = 4):
    """Paper Figure 11: raw depth with true (red) and predicted (yellow) points and links, cropped to the body.

    Each frame is ``(title, depth_mm, true_raw, pred_raw, cut_mm)``; ``cut_mm`` is its background cut
    (``codec.cut_mm``), so a subject found by depth at 1.9 m is drawn, not masked at the paper's 1.7 m.
    """
    rows = int(np.ceil(len(frames) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.9 * rows), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, (title, depth, true_raw, pred_raw, cut_mm) in zip(axes.ravel(), frames):
        show_body(ax, depth, [true_raw, pred_raw], max_mm=cut_mm)
        draw_landmarks(ax, true_raw, color="red", labels=False, size=14)
        draw_landmarks(ax, pred_raw, color="yellow", labels=False, size=14)
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def accuracy_bars(table: pd.DataFrame, metric: str, split: str):
    """Paper Figures 12-15: per-landmark PCK or PDJ, one bar per backbone."""
    df = table[table["split"] == split].melt(id_vars=["split", "backbone"], value_vars=[*KEYS, "Total"],
                                             var_name="landmark", value_name=metric)
    fig, ax = plt.subplots(figsize=(10, 3.6))
    sns.barplot(data=df, x="landmark", y=metric, hue="backbone", ax=ax)
    ax.set_ylim(0, 105)
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(f"{metric} per landmark, {split} split", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig


def error_distributions(errors: pd.DataFrame, clip_mm: float = 60.0):
    """In-plane error per landmark (test split), one box per backbone; errors above ``clip_mm`` drawn at the edge."""
    df = errors.assign(error_mm=errors["error_mm"].clip(upper=clip_mm))
    fig, ax = plt.subplots(figsize=(11, 3.8))
    sns.boxplot(data=df, x="landmark", y="error_mm", hue="backbone", ax=ax, fliersize=1.5, linewidth=0.8)
    ax.set_ylabel(f"in-plane error (mm, clipped at {clip_mm:g})")
    ax.set_title("in-plane error per landmark, test split", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def pck_curves(curves: dict[str, tuple[np.ndarray, np.ndarray, float]], title: str = "PCK vs threshold, test split"):
    """PCK (%) against the 3D threshold per backbone, AUC in the legend."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for name, (thr, curve, auc) in curves.items():
        ax.plot(thr, curve, label=f"{name} (AUC {auc:.1f})")
    ax.set_xlabel("threshold (mm, 3D)")
    ax.set_ylabel("PCK (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def protocol_bars(table: pd.DataFrame):
    """Split-leakage experiment: train and test mean in-plane error and PDJ per protocol (subject vs image split)."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, (metric, unit) in zip(axes, (("in-plane error mm", "mm"), ("PDJ %", "%"))):
        df = table.melt(id_vars=["protocol"], value_vars=[f"train {metric}", f"test {metric}"], var_name="side",
                        value_name=metric)
        df["side"] = df["side"].str.split().str[0]
        sns.barplot(data=df, x="side", y=metric, hue="protocol", ax=ax)
        ax.set_ylabel(f"{metric.split(' mm')[0].split(' %')[0]} ({unit})")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_title("in-plane error: lower is better", fontsize=9)
    axes[1].set_title("PDJ: higher is better", fontsize=9)
    for ax in axes:
        ax.legend(title="protocol", fontsize=7, title_fontsize=7, loc="lower center", framealpha=0.9)
    fig.suptitle("subject-level split (this study) vs image-level split after augmentation (paper)", fontsize=10)
    fig.tight_layout()
    return fig


def cohort_errors(table: pd.DataFrame, reference: dict[str, float] | None = None, limit: float = 1.5):
    """Mean in-plane error per new cohort (all frames), one bar per backbone with its 95% CI; each backbone's
    test-split error (dotted) and ``limit`` × it (dashed) where ``reference`` is given."""
    df = table[table["group"] == "all"].reset_index(drop=True)
    cohorts, backbones = list(dict.fromkeys(df["cohort"])), list(dict.fromkeys(df["backbone"]))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(cohorts) + 2), 3.8))
    width = 0.8 / len(backbones)
    for b, (bb, colour) in enumerate(zip(backbones, sns.color_palette(n_colors=len(backbones)))):
        rows = df[df["backbone"] == bb].set_index("cohort").reindex(cohorts)
        lo_hi = np.array([[float(v) for v in ci.split("–")] for ci in rows["95% CI"]])
        x = np.arange(len(cohorts)) + (b - (len(backbones) - 1) / 2) * width
        mean = rows["in-plane mm"].to_numpy(float)
        ax.bar(x, mean, width, color=colour, label=bb,
               yerr=np.abs(np.stack([mean - lo_hi[:, 0], lo_hi[:, 1] - mean])), capsize=2, error_kw={"lw": 0.8})
        if reference is not None:
            ax.axhline(reference[bb], color=colour, ls=":", lw=1)
            ax.axhline(limit * reference[bb], color=colour, ls="--", lw=0.8)
    ax.set_xticks(np.arange(len(cohorts)), cohorts, fontsize=8)
    ax.set_ylabel("in-plane error (mm, mean, 95% CI)")
    title = "new cohorts" + (f": dotted = test split, dashed = {limit:g}× test split" if reference else "")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
