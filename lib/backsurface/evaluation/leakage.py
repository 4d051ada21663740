"""The paper's image-level split against this study's subject-level split, on the same frames.

The paper augments its 105 frames to 525 images (each frame and four translations) and then
trains on 400 and tests on "the rest" (Sec. 7-3): an image-level split *after* augmentation, so
a test image usually has shifted copies of itself in the training set.  :func:`make_splits`
builds both protocols (:func:`backsurface.data.split.split_protocol`) from the preprocessed frames with
the same test-set size; training the same model on each and scoring each on its own test side shows
how much the leak inflates the numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from backsurface.data.split import MODES, split_protocol


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


def protocol_row(mode: str, train: dict[str, np.ndarray], test: dict[str, np.ndarray], scores: dict[str, dict]) -> dict:
    """One row of the leakage table: the overlap of the two sides and the scores (``{"train": …, "test": …}``)."""
    row = {"protocol": mode, **overlap(train, test)}
    for side in ("train", "test"):
        s = scores[side]
        row |= {f"{side} in-plane error mm": s["inplane_mre_mm_ci"][0], f"{side} PCK %": s["pck"]["Total"],
                f"{side} PDJ %": s["pdj"]["Total"]}
    s = scores["test"]
    row |= {"test PDJ 95% CI": "{1:.1f}–{2:.1f}".format(*s["pdj_ci"]),
            "test in-plane 95% CI": "{1:.1f}–{2:.1f}".format(*s["inplane_mre_mm_ci"])}
    return row


def inflation(table: pd.DataFrame) -> dict[str, float]:
    """How the image split's test numbers compare with the subject split's (rows of :func:`protocol_row`)."""
    by = table.set_index("protocol")
    e = "test in-plane error mm"
    return {"test_inplane_mre_mm_subject": by.loc["subject", e], "test_inplane_mre_mm_image": by.loc["image", e],
            "test_pdj_subject": by.loc["subject", "test PDJ %"], "test_pdj_image": by.loc["image", "test PDJ %"],
            "error_ratio_subject_over_image": by.loc["subject", e] / by.loc["image", e],
            "image_split_test_images_leaked_%": by.loc["image", "share_leaked_%"]}


def leakage_headline(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """The headline rows of the protocol table (:func:`protocol_row`), one per split protocol: the small model's
    in-plane mean on its test and its training images, and the share of test images whose own frame (shifted) is
    in its training set."""
    by = table.set_index("protocol")
    return {f"{mode}_split": {"inplane_mm": by.loc[mode, "test in-plane error mm"],
                              "train_inplane_mm": by.loc[mode, "train in-plane error mm"],
                              "leaked_pct": by.loc[mode, "share_leaked_%"]} for mode in MODES if mode in by.index}


def inflation_paragraph(table: pd.DataFrame) -> str:
    """Markdown: what the leak does to the numbers, read from the table of the run."""
    by, f = table.set_index("protocol"), inflation(table)
    gap = {m: by.loc[m, "test in-plane error mm"] - by.loc[m, "train in-plane error mm"] for m in MODES}
    return (
        f"With the image-level split {f['image_split_test_images_leaked_%']:.0f}% of the test images have "
        f"their own frame (shifted) in the training set. The honest subject-level test error (in-plane) is "
        f"{f['test_inplane_mre_mm_subject']:.1f} mm against {f['test_inplane_mre_mm_image']:.1f} mm "
        f"under the leaky split (×{f['error_ratio_subject_over_image']:.2f}); PDJ "
        f"{f['test_pdj_subject']:.1f}% against {f['test_pdj_image']:.1f}%. "
        f"Train-to-test gap: {gap['subject']:+.1f} mm (subject split), {gap['image']:+.1f} mm (image split). "
        f"Where the gap is near zero under both protocols the small model underfits, and part of the "
        f"difference between the two test errors comes from the two training sets themselves (the image split trains "
        f"on frames of all subjects), not only from test frames seen in training.")
