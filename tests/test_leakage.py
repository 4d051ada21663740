"""The split-leakage experiment's two protocols."""

import numpy as np

from backsurface.evaluation import leakage


def _frames(n=10, size=32):
    rng = np.random.default_rng(0)
    return {"ids": np.array([f"S{i:03d}" for i in range(n)]), "subject_ids": np.array([f"S{i:03d}" for i in range(n)]),
            "images": rng.random((n, size, size)).astype(np.float32),
            "points": rng.uniform(8, size - 8, (n, 10, 2)), "transforms": np.tile([0.1, 0.1, 0, 0, size, size], (n, 1)),
            "augmentation": np.full(n, "original")}


def test_both_protocols_have_the_same_test_size_and_only_the_image_split_leaks():
    splits = leakage.make_splits(_frames(), n_test_subjects=3, shift_px=2, seed=1)
    (s_tr, s_te), (i_tr, i_te) = splits["subject"], splits["image"]
    assert len(s_te["ids"]) == len(i_te["ids"]) == 15 and len(s_tr["ids"]) == len(i_tr["ids"]) == 35
    assert leakage.overlap(s_tr, s_te)["test_images_whose_frame_is_in_training"] == 0
    o = leakage.overlap(i_tr, i_te)
    assert o["test_images_whose_frame_is_in_training"] > 0 and o["subjects_on_both_sides"] > 0
    # every image of the 50 (10 frames x 5 translations) is on exactly one side of the image split
    pairs = {(a, b) for a, b in zip(np.r_[i_tr["ids"], i_te["ids"]], np.r_[i_tr["augmentation"], i_te["augmentation"]])}
    assert len(pairs) == 50
