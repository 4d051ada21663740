"""Masked L2 loss with intermediate supervision (paper eq. 7-9).

    f_H^t = Σ_j Σ_p W(p) · ||H_j^t(p) − H_j^*(p)||²,   f_L^t = Σ_c Σ_p W(p) · ||L_c^t(p) − L_c^*(p)||²
    f = Σ_t (f_H^t + f_L^t)

W is the per-image, per-channel validity mask of the labels stage (a missing landmark, or a link
with a missing end, does not count).  Sums run over pixels and channels; the batch is averaged.
"""

from __future__ import annotations

import tensorflow as tf

from backsurface.codec.encode import N_HEATMAP_CHANNELS


def masked_l2(y_true, y_pred, mask):
    """Per-example Σ_p Σ_c mask_c · (pred − true)²; ``mask`` is (batch, channels)."""
    w = tf.cast(mask, y_pred.dtype)[:, None, None, :]
    return tf.reduce_sum(w * tf.square(y_pred - tf.cast(y_true, y_pred.dtype)), axis=(1, 2, 3))


def stage_losses(outputs, heatmaps, pafs, masks):
    """Per-example losses, shape (batch, T, 2): [..., 0] heatmap branch, [..., 1] affinity branch."""
    mh, ml = masks[:, :N_HEATMAP_CHANNELS], masks[:, N_HEATMAP_CHANNELS:]
    per_stage = [
        tf.stack([masked_l2(heatmaps, outputs[2 * t], mh), masked_l2(pafs, outputs[2 * t + 1], ml)], axis=-1)
        for t in range(len(outputs) // 2)
    ]
    return tf.stack(per_stage, axis=1)


def total_loss(outputs, heatmaps, pafs, masks):
    """Eq. 9 averaged over the batch: Σ_t (f_H^t + f_L^t)."""
    return tf.reduce_mean(tf.reduce_sum(stage_losses(outputs, heatmaps, pafs, masks), axis=(1, 2)))
