"""Train/test splits over annotation records.

The study splits by subject, before augmentation, so that no subject (and none of its translated
copies) is on both sides (80 train / 25 test subjects in the paper's counts).  The paper's
image-level split, which lets translated copies of one frame leak across the split, is available
as :func:`split_by_image` so that its effect can be measured.  Both are deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _check_n_test(n_test: int, n_units: int, unit: str) -> int:
    if int(n_test) != n_test:
        raise ValueError(f"n_test must be a whole number, got {n_test}")
    if not 0 < n_test < n_units:
        raise ValueError(f"n_test must be between 1 and {n_units - 1} (there are {n_units} {unit}), got {n_test}")
    return int(n_test)


def split_by_subject(subject_ids: Sequence | np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Subject-wise split: ``n_test`` whole subjects go to the test side.

    Args:
        subject_ids: one subject id per record (any hashable, sortable values: str or int).
        n_test: number of test *subjects* (``1 <= n_test < number of subjects``).
        seed: seed of the permutation; subjects are sorted first so the result does not depend
            on record order.

    Returns:
        ``(train_mask, test_mask)``: boolean arrays over records, complementary.
    """
    ids = np.asarray(subject_ids)
    if ids.ndim != 1 or ids.size == 0:
        raise ValueError(f"subject_ids must be a non-empty 1-D sequence, got shape {ids.shape}")
    subjects = np.unique(ids)
    n_test = _check_n_test(n_test, subjects.size, "subjects")
    rng = np.random.default_rng(seed)
    test_subjects = subjects[rng.permutation(subjects.size)[:n_test]]
    test = np.isin(ids, test_subjects)
    return ~test, test


def split_by_image(n_records: int, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The paper's image-level split: ``n_test`` records drawn at random, regardless of subject (leaky)."""
    if int(n_records) != n_records or n_records < 2:
        raise ValueError(f"n_records must be a whole number >= 2, got {n_records}")
    n_test = _check_n_test(n_test, int(n_records), "records")
    rng = np.random.default_rng(seed)
    test = np.zeros(int(n_records), dtype=bool)
    test[rng.permutation(int(n_records))[:n_test]] = True
    return ~test, test
