"""Training health: did every branch of every stage learn something from the image?

A branch that learns nothing still has a loss, and the total can fall while it sits still (in one run both ResNets'
stage-3 affinity branch stayed at 30.63 from the second epoch on, and ResNet-152's stage-1 heatmap branch at 44.6).
The yardstick is the best prediction that ignores the image: the per-pixel mean of the training labels.  Its loss
(:func:`baseline_losses`) is what a branch scores if its output no longer depends on the input, and a branch that
ends above ``max_share`` of it has not learnt the landmarks.  :func:`check` turns that into one error naming the
branch, so such a model fails its stage instead of landing.

Pure NumPy: the history is the training loop's per-epoch records (``loss/stage{t}/{heatmaps,pafs}``).
"""

from __future__ import annotations

import numpy as np

BRANCHES = ("heatmaps", "pafs")
BRANCH_NAMES = {"heatmaps": "heatmap", "pafs": "affinity"}


class TrainingHealthError(RuntimeError):
    """A trained model with a branch that learnt nothing; the message names the branch and the remedy."""


def _masked_sse_of_mean(labels: np.ndarray, mask: np.ndarray, chunk: int = 64) -> float:
    """Mean over examples of Σ_p Σ_c mask_c (label − mean label)², the mean taken per pixel and channel over the
    examples that count in that channel (the loss-minimising input-independent prediction under the mask)."""
    labels = np.asarray(labels)
    w = np.asarray(mask, dtype=np.float64)  # (n, c)
    count = np.maximum(w.sum(axis=0), 1.0)  # (c,)
    total = np.zeros(labels.shape[1:], dtype=np.float64)
    for i in range(0, len(labels), chunk):
        total += np.einsum("nc,nhwc->hwc", w[i:i + chunk], labels[i:i + chunk], dtype=np.float64)
    mean = total / count
    sse = 0.0
    for i in range(0, len(labels), chunk):
        diff = labels[i:i + chunk].astype(np.float64) - mean
        sse += float(np.einsum("nc,nhwc->", w[i:i + chunk], diff * diff))
    return sse / len(labels)


def baseline_losses(heatmaps: np.ndarray, pafs: np.ndarray, masks: np.ndarray) -> dict[str, float]:
    """Per branch, the loss (the training loop's masked L2, per example) of the best input-independent prediction.

    ``heatmaps`` (n, g, g, J), ``pafs`` (n, g, g, C), ``masks`` (n, J + C) as in the labels file."""
    heatmaps, pafs, masks = np.asarray(heatmaps), np.asarray(pafs), np.asarray(masks)
    j = heatmaps.shape[-1]
    if masks.shape != (len(heatmaps), j + pafs.shape[-1]) or len(pafs) != len(heatmaps) or len(heatmaps) == 0:
        raise ValueError(f"labels disagree: heatmaps {heatmaps.shape}, pafs {pafs.shape}, masks {masks.shape}")
    return {"heatmaps": _masked_sse_of_mean(heatmaps, masks[:, :j]),
            "pafs": _masked_sse_of_mean(pafs, masks[:, j:])}


def _share(loss: float, baseline: float) -> float:
    """loss / baseline; a branch whose labels carry nothing to learn (baseline 0) is healthy at loss 0 and infinitely
    sick above it; a NaN loss (a diverged run) stays NaN, which :func:`check` counts as sick."""
    if baseline > 0:
        return loss / baseline
    return 0.0 if loss == 0 else float("inf") if loss > 0 else float("nan")


def worst(rows: list[dict]) -> dict:
    """The sickest branch of :func:`branch_shares` (a NaN share first)."""
    return max(rows, key=lambda r: np.inf if np.isnan(r["share"]) else r["share"])


def branch_shares(history: list[dict[str, float]], baseline: dict[str, float]) -> list[dict]:
    """Every stage and branch at the last epoch: its loss, the baseline's, and the share of it (loss / baseline)."""
    if not history:
        raise ValueError("no epoch in the training history")
    last = history[-1]
    rows = []
    for key in sorted(k for k in last if k.startswith("loss/stage")):
        stage, branch = key.split("/")[1:]
        loss, base = float(last[key]), float(baseline[branch])
        rows.append({"stage": int(stage.removeprefix("stage")), "branch": branch, "loss": loss, "baseline": base,
                     "share": _share(loss, base)})
    if not rows:
        raise ValueError("the training history holds no per-stage loss (loss/stage{t}/{heatmaps,pafs})")
    return sorted(rows, key=lambda r: (r["stage"], BRANCHES.index(r["branch"])))


def check(history: list[dict[str, float]], baseline: dict[str, float], max_share: float | None,
          what: str = "the model", remedy: str = "lower the learning rate") -> list[dict]:
    """:func:`branch_shares`, raising :class:`TrainingHealthError` if a branch ends above ``max_share`` of its
    input-independent baseline (``None``: report only)."""
    rows = branch_shares(history, baseline)
    if max_share is None:
        return rows
    if not 0.0 < max_share <= 1.0:
        raise ValueError(f"max_share must be in (0, 1], got {max_share}")
    sick = [r for r in rows if not r["share"] <= max_share]  # NaN (a diverged run) is sick too
    if sick:
        worst = ", ".join(f"stage {r['stage']} {BRANCH_NAMES[r['branch']]} branch {r['loss']:.2f} "
                          f"({r['share']:.2f}× the {r['baseline']:.2f} of an image-independent prediction)"
                          for r in sick)
        raise TrainingHealthError(
            f"{what} learnt nothing in {len(sick)} branch{'es' if len(sick) > 1 else ''} after {len(history)} "
            f"epochs: {worst}; the limit is {max_share}× (train.max_baseline_share); {remedy}")
    return rows
