"""Train/test splits over annotation records.

The study splits by subject, before augmentation, so that no subject (and none of its translated
copies) is on both sides (80 train / 25 test subjects in the paper's counts).  The paper's
image-level split, which lets translated copies of one frame leak across the split, is available
as :func:`split_by_image` so that its effect can be measured.  Both are deterministic for a seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from backsurface.data import datasets


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
        n_test: number of test *subjects* (``1 <= n_test <= half the number of subjects``).
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
    if n_test > subjects.size // 2:  # the rule params check applies to a synthetic cohort, for imported ones too
        raise ValueError(f"n_test ({n_test}) leaves {subjects.size - n_test} of the {subjects.size} subjects for "
                         f"training; at most half the subjects ({subjects.size // 2}) can be test subjects")
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


def split_dataset(data: dict[str, np.ndarray], n_test_subjects: int, seed: int) -> tuple[dict, dict]:
    """Train/test arrays split by subject before augmentation (:func:`split_by_subject`)."""
    train, test = split_by_subject(data["subject_ids"], n_test_subjects, seed)
    return datasets.take(data, train), datasets.take(data, test)


MODES = ("subject", "image")


def split_protocol(frames: dict[str, np.ndarray], mode: str, n_test_subjects: int, shift_px: int,
                   seed: int) -> tuple[dict, dict]:
    """Augmented (train, test) under one protocol; both give the same number of test images.

    * ``subject`` — ``n_test_subjects`` whole subjects held out before augmentation (no subject on both sides);
    * ``image`` — all frames augmented first, then as many images as the subject protocol would test drawn at
      random for the test side (the paper's split: shifted copies of one frame on both sides).
    """
    if mode not in MODES:
        raise ValueError(f"split mode must be one of {MODES}, got {mode!r}")
    if mode == "subject":
        train, test = split_dataset(frames, n_test_subjects, seed)
        return datasets.translated_copies(train, shift_px), datasets.translated_copies(test, shift_px)
    every = datasets.translated_copies(frames, shift_px)
    per_frame = len(every["ids"]) // len(frames["ids"])
    test_frames = int(np.isin(frames["subject_ids"], _held_out_subjects(frames, n_test_subjects, seed)).sum())
    tr, te = split_by_image(len(every["ids"]), per_frame * test_frames, seed)
    return datasets.take(every, tr), datasets.take(every, te)


def _held_out_subjects(frames: dict[str, np.ndarray], n_test_subjects: int, seed: int) -> np.ndarray:
    _, test = split_by_subject(frames["subject_ids"], n_test_subjects, seed)
    return np.unique(frames["subject_ids"][test])


def split_subjects(train: dict[str, np.ndarray], test: dict[str, np.ndarray]) -> dict[str, list[str]]:
    """The subjects of each side, sorted."""
    return {"train": sorted(set(train["subject_ids"])), "test": sorted(set(test["subject_ids"]))}


def split_summary(train: dict[str, np.ndarray], test: dict[str, np.ndarray], mode: str) -> dict:
    """Counts of a split: images and subjects per side, subjects on both sides, landmarks pushed out of frame."""
    sides = split_subjects(train, test)
    return {
        "split_mode": mode, "n_train_images": len(train["ids"]), "n_test_images": len(test["ids"]),
        "n_train_subjects": len(sides["train"]), "n_test_subjects": len(sides["test"]),
        "subjects_on_both_sides": len(set(sides["train"]) & set(sides["test"])),
        "landmarks_pushed_out": int(np.isnan(train["points"][..., 0]).sum() + np.isnan(test["points"][..., 0]).sum()),
    }
