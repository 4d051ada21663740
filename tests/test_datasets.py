"""The whole-dataset data functions: which random copies ``augment`` makes, and the crop in words."""

import numpy as np
import pytest

from backsurface.data import datasets
from backsurface.data.preprocess import BACK_SPAN_MM, CROPS, PreprocessError, describe_crop


@pytest.mark.parametrize("copies, kinds, makes", [
    (0, dict(hflip=True, rotate_deg=5, scale=0.1, noise=0.01), False),  # no copy asked
    (1, dict(hflip=False, rotate_deg=0, scale=0, noise=0), False),  # a copy of nothing
    (1, dict(hflip=True, rotate_deg=0, scale=0, noise=0), True),
    (2, dict(hflip=False, rotate_deg=5, scale=0, noise=0), True),
    (1, dict(hflip=False, rotate_deg=0, scale=0.1, noise=0), True),
    (1, dict(hflip=False, rotate_deg=0, scale=0, noise=0.01), True)])
def test_random_copies_are_made_only_when_asked_for_and_of_some_kind(copies, kinds, makes):
    assert datasets.makes_random_copies(copies, **kinds) is makes
    words = datasets.describe_random_copies(copies, **kinds)
    assert (words == "none") is (not makes)
    data = {"ids": np.array(["a", "b"]), "images": np.zeros((2, 16, 16), np.float32),
            "points": np.full((2, 10, 2), 8.0), "transforms": np.tile([1.0, 1, 0, 0, 16, 16], (2, 1)),
            "augmentation": np.array(["original"] * 2)}
    out = datasets.extra_augmentations(data, copies, kinds["hflip"], kinds["rotate_deg"], kinds["scale"],
                                       kinds["noise"], seed=0)
    assert len(out["ids"]) == 2 * (1 + (copies if makes else 0))
    # a copy has no exact map back to the raw frame: its transform is NaN, the originals' are kept
    assert np.isnan(out["transforms"]).all(axis=1).sum() == len(out["ids"]) - 2
    assert out["augmentation"][:2].tolist() == ["original"] * 2


def test_describe_random_copies_names_each_kind():
    assert datasets.describe_random_copies(1, True, 5, 0, 0) == (
        "1 per training image: mirrored (left/right swapped) half the time, rotated within ±5°")


def test_every_crop_has_words_and_a_typo_is_one_clear_error():
    assert describe_crop("none") == "the whole 512×424 frame"
    assert "{:g}–{:g} mm".format(*BACK_SPAN_MM) in describe_crop("back")
    assert len({describe_crop(c) for c in CROPS}) == len(CROPS)
    with pytest.raises(PreprocessError, match="'bak'"):
        describe_crop("bak")
