"""The paper's image-level split against this study's subject-level split, on the same frames.

The paper augments its 105 frames to 525 images (each frame and four translations) and then
trains on 400 and tests on "the rest" (Sec. 7-3): an image-level split *after* augmentation, so
a test image usually has shifted copies of itself in the training set.  :func:`make_splits`
builds both protocols from the preprocessed frames with the same test-set size; training the
same model on each and scoring each on its own test side shows how much the leak inflates the
numbers.
"""

from __future__ import annotations

import numpy as np

from . import pipeline, split

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
        train, test = pipeline.split_dataset(frames, "subject", n_test_subjects, seed)
        return pipeline.translated_copies(train, shift_px), pipeline.translated_copies(test, shift_px)
    every = pipeline.translated_copies(frames, shift_px)
    per_frame = len(every["ids"]) // len(frames["ids"])
    test_frames = int(np.isin(frames["subject_ids"], _held_out_subjects(frames, n_test_subjects, seed)).sum())
    tr, te = split.split_by_image(len(every["ids"]), per_frame * test_frames, seed)
    return pipeline.take(every, tr), pipeline.take(every, te)


def _held_out_subjects(frames: dict[str, np.ndarray], n_test_subjects: int, seed: int) -> np.ndarray:
    _, test = split.split_by_subject(frames["subject_ids"], n_test_subjects, seed)
    return np.unique(frames["subject_ids"][test])


def make_splits(frames: dict[str, np.ndarray], n_test_subjects: int, shift_px: int, seed: int) -> dict:
    """``{mode: (train, test)}`` for both protocols (:func:`split_protocol`)."""
    return {mode: split_protocol(frames, mode, n_test_subjects, shift_px, seed) for mode in MODES}


def overlap(train: dict[str, np.ndarray], test: dict[str, np.ndarray]) -> dict[str, float]:
    """How much of the test side the training side has seen: shared subjects and frames (copies of one frame)."""
    test_frames = np.asarray(test["ids"]).astype(str)
    seen = np.isin(test_frames, np.asarray(train["ids"]).astype(str))
    shared_subjects = set(map(str, train["subject_ids"])) & set(map(str, test["subject_ids"]))
    return {"test_images": int(len(test_frames)), "test_images_whose_frame_is_in_training": int(seen.sum()),
            "share_leaked_%": float(100.0 * seen.mean()), "subjects_on_both_sides": len(shared_subjects)}
