"""Network outputs of a mirrored input, mapped back onto the original image (test-time flip).

A back seen in a mirror is a back: the network's heatmaps and affinity fields for the left–right mirrored
input, once mirrored back with every left landmark's channel swapped with its right one's, are a second
estimate of the original image's outputs.  Averaging the two (:func:`average`) is the test-time flip of the
pose-estimation literature (SimpleBaseline, HRNet).

The mapping is exact on this library's grid: input pixel ``x`` mirrors to ``S - 1 - x`` and output cell ``j``
to ``n - 1 - j`` when ``S = n·stride`` (cell centres at ``j·stride + (stride - 1)/2``,
:mod:`backsurface.codec.grid`), which every codec guarantees (its stride divides its input size).

Affinity fields: a link ``a → b`` whose mirrored ends are the same link (VP → NC) keeps its direction, so only
the field's x component changes sign; a link whose mirrored ends are the same link reversed (LSH → RSH becomes
RSH → LSH) also has its direction reversed, so the y component changes sign instead.
"""

from __future__ import annotations

import numpy as np

from backsurface.core.landmarks import FLIP_PERMUTATION, LINKS, N_LANDMARKS


def _paf_mapping() -> tuple[np.ndarray, np.ndarray]:
    """For each output channel of the affinity fields: the mirrored output's channel it comes from, and its sign."""
    source, sign = [], []
    mirrored = FLIP_PERMUTATION[LINKS]  # (links, 2): the ends of each link after the mirror
    for a, b in mirrored:
        same = np.flatnonzero((LINKS[:, 0] == a) & (LINKS[:, 1] == b))
        reversed_ = np.flatnonzero((LINKS[:, 0] == b) & (LINKS[:, 1] == a))
        if len(same):
            j, sx, sy = same[0], -1.0, 1.0
        elif len(reversed_):
            j, sx, sy = reversed_[0], 1.0, -1.0
        else:  # pragma: no cover - the link set is closed under the mirror (tested)
            raise ValueError(f"link {a}->{b} has no mirror image among the links")
        source += [2 * j, 2 * j + 1]
        sign += [sx, sy]
    return np.asarray(source), np.asarray(sign)


PAF_SOURCE, PAF_SIGN = _paf_mapping()


def unmirror(heatmaps: np.ndarray, pafs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Outputs ``(..., n, n, C)`` of the mirrored input → outputs in the original image's frame.

    Heatmaps: columns reversed, the 10 landmark channels permuted left ↔ right (a background channel after them
    stays); affinity fields: columns reversed, each link's pair of channels taken from its mirror link with the
    sign of :data:`PAF_SIGN`."""
    h = np.asarray(heatmaps)
    p = np.asarray(pafs)
    if h.ndim < 3 or h.shape[-1] < N_LANDMARKS or p.ndim != h.ndim or p.shape[-1] != 2 * len(LINKS):
        raise ValueError(f"expected heatmaps (..., n, n, >= {N_LANDMARKS}) and pafs (..., n, n, {2 * len(LINKS)}), "
                         f"got {h.shape} and {p.shape}")
    order = np.concatenate([FLIP_PERMUTATION, np.arange(N_LANDMARKS, h.shape[-1])])
    h = h[..., ::-1, :][..., order]
    p = p[..., ::-1, :][..., PAF_SOURCE] * PAF_SIGN.astype(p.dtype)
    return h, p


def mirror_images(images: np.ndarray) -> np.ndarray:
    """Network inputs ``(N, S, S)`` (or ``(N, S, S, 1)``) mirrored left–right."""
    return np.ascontiguousarray(np.flip(np.asarray(images), axis=2))


def average(outputs: tuple[np.ndarray, np.ndarray],
            mirrored_outputs: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The mean of an image's outputs and its mirrored image's outputs mapped back (:func:`unmirror`)."""
    h, p = outputs
    hm, pm = unmirror(*mirrored_outputs)
    if hm.shape != np.shape(h) or pm.shape != np.shape(p):
        raise ValueError(f"outputs {np.shape(h)}, {np.shape(p)} and mirrored outputs {hm.shape}, {pm.shape} differ")
    return 0.5 * (np.asarray(h) + hm), 0.5 * (np.asarray(p) + pm)
