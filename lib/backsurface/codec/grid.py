"""The output grid of the network: cells of ``stride`` input pixels, and where their centres lie.

Pixel centres sit at integer coordinates (as everywhere in the library).  Output cell ``(i, j)`` (row ``i``,
column ``j``) covers input pixels ``j*stride .. j*stride + stride - 1``, so its centre is at input
coordinates ``x = j*stride + (stride - 1)/2``: :func:`cell_offset` is that ``(stride - 1)/2``, the one
place it is derived.  Encoding, decoding, the affinity ridge and the figures all go through this module.
"""

from __future__ import annotations

import numpy as np

STRIDE = 8
"""The backbones' output stride (every backbone is cut at a stride-8 layer)."""


def cell_offset(stride: int = STRIDE) -> float:
    """Input-pixel coordinate of the centre of cell 0: ``(stride - 1) / 2``."""
    return (stride - 1) / 2.0


def output_size(input_size: int, stride: int = STRIDE) -> int:
    """Cells per side of the output grid: ``ceil(input_size / stride)``."""
    if int(input_size) != input_size or input_size <= 0:
        raise ValueError(f"input_size must be a positive whole number, got {input_size}")
    if int(stride) != stride or stride <= 0:
        raise ValueError(f"stride must be a positive whole number, got {stride}")
    return -(-int(input_size) // int(stride))


def cell_centres(n: int, stride: int = STRIDE) -> np.ndarray:
    """Input-pixel coordinate of the centres of output cells ``0..n-1``: ``j*stride + (stride-1)/2``."""
    return np.arange(n, dtype=np.float64) * stride + cell_offset(stride)


def input_to_output(pts: np.ndarray, stride: int = STRIDE) -> np.ndarray:
    """Input-pixel coordinates ``(..., 2)`` → output-grid coordinates (cell centres at integers)."""
    return (np.asarray(pts, dtype=np.float64) - cell_offset(stride)) / stride


def output_to_input(pts: np.ndarray, stride: int = STRIDE) -> np.ndarray:
    """Output-grid coordinates ``(..., 2)`` → input-pixel coordinates."""
    return np.asarray(pts, dtype=np.float64) * stride + cell_offset(stride)
