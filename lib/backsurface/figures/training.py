"""Training-curve figure (its own module: the train stage depends on it, not on the evaluation figures)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def training_curves(history: list[dict[str, float]], title: str = ""):
    """Loss per epoch: total (eq. 9) and each stage's heatmap and affinity branch (eq. 7-8), log scale."""
    df = pd.DataFrame(history)
    stages = sorted({int(k.split("/")[1][5:]) for k in df.columns if k.startswith("loss/stage")})
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    axes[0].plot(df["epoch"], df["loss/total"], "k-o", ms=3)
    axes[0].set_title("total loss (all stages, both branches)", fontsize=9)
    cmap = plt.get_cmap("viridis")
    for ax, branch in zip(axes[1:], ("heatmaps", "pafs")):
        for t in stages:
            ax.plot(df["epoch"], df[f"loss/stage{t}/{branch}"], "-o", ms=2, color=cmap(t / (len(stages) + 1)),
                    label=f"stage {t}")
        ax.set_title(f"{'heatmap' if branch == 'heatmaps' else 'affinity field'} branch per stage", fontsize=9)
        ax.legend(fontsize=7)
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("masked L2 per image")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
