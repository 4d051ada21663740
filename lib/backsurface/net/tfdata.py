"""tf.data input pipeline over the labels stage's NPZ files.

The whole split lives in memory (400 images at 184² are 54 MB); each epoch visits it in an order
drawn from (seed, epoch) alone, so an interrupted run that resumes at epoch k sees exactly the
batches an uninterrupted run would.  Batches are gathered in one vectorised op and prefetched.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from backsurface.codec.encode import N_HEATMAP_CHANNELS, N_PAF_CHANNELS
from backsurface.core import arrayfile

TRAINING_KEYS = ("images", "heatmaps", "pafs", "masks")


def load_split(path: str | Path) -> dict[str, np.ndarray]:
    """A labels-stage split with its arrays checked for the shapes training needs."""
    data = arrayfile.load(path, required=TRAINING_KEYS + ("ids", "subject_ids", "points", "transforms"))
    n, s = len(data["images"]), data["images"].shape[1]
    expect = {
        "images": (n, s, s),
        "heatmaps": (n, None, None, N_HEATMAP_CHANNELS),
        "pafs": (n, None, None, N_PAF_CHANNELS),
        "masks": (n, N_HEATMAP_CHANNELS + N_PAF_CHANNELS),
    }
    for key, shape in expect.items():
        got = data[key].shape
        if len(got) != len(shape) or any(e is not None and g != e for g, e in zip(got, shape)):
            raise arrayfile.ArrayFileError(f"{path}: array {key!r} has shape {got}, expected {shape} (None = any)")
    return data


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order of the n examples in ``epoch``: a function of (seed, epoch) only."""
    return np.random.default_rng([seed, epoch]).permutation(n)


class TrainingData:
    """In-memory tensors of one split; :meth:`epoch` gives that epoch's batched, prefetched dataset."""

    def __init__(self, data: dict[str, np.ndarray]):
        self.n = len(data["images"])
        self.input_size = int(data["images"].shape[1])
        self.output_size = int(data["heatmaps"].shape[1])
        self._tensors = (
            tf.constant(data["images"][..., None], tf.float32),
            tf.constant(data["heatmaps"], tf.float32),
            tf.constant(data["pafs"], tf.float32),
            tf.constant(data["masks"], tf.float32),
        )

    def _gather(self, idx):
        return tuple(tf.gather(t, idx) for t in self._tensors)

    def epoch(self, batch_size: int, seed: int, epoch: int, shuffle: bool = True) -> tf.data.Dataset:
        """(images, heatmaps, pafs, masks) batches; the last batch of an epoch may be smaller."""
        order = epoch_order(self.n, seed, epoch) if shuffle else np.arange(self.n)
        ds = tf.data.Dataset.from_tensor_slices(order.astype(np.int64)).batch(batch_size)
        return ds.map(self._gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).prefetch(
            tf.data.AUTOTUNE
        )

    def steps_per_epoch(self, batch_size: int) -> int:
        return -(-self.n // batch_size)
