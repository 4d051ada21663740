"""Train/test splits: subject-wise (no subject on both sides) and the paper's leaky image-level split."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backsurface.data.split import split_by_image, split_by_subject


@settings(max_examples=60, deadline=None)
@given(
    subjects=st.lists(st.integers(0, 30), min_size=2, max_size=80).filter(lambda s: len(set(s)) >= 2),
    data=st.data(),
    seed=st.integers(0, 2**32 - 1),
)
def test_no_subject_on_both_sides(subjects, data, seed):
    n_subjects = len(set(subjects))
    n_test = data.draw(st.integers(1, n_subjects // 2))
    train, test = split_by_subject(subjects, n_test, seed)
    ids = np.asarray(subjects)
    assert train.dtype == bool and train.shape == test.shape == ids.shape
    assert (train ^ test).all()  # complementary
    assert not set(ids[train]) & set(ids[test])
    assert len(set(ids[test])) == n_test
    # deterministic, and independent of record order
    again = split_by_subject(subjects, n_test, seed)
    np.testing.assert_array_equal(again[1], test)
    perm = np.random.default_rng(0).permutation(len(ids))
    _, test_perm = split_by_subject(ids[perm], n_test, seed)
    assert set(ids[perm][test_perm]) == set(ids[test])


def test_paper_counts_with_string_ids():
    ids = np.repeat([f"S{i:03d}" for i in range(105)], 5)  # 5 augmented images per subject
    train, test = split_by_subject(ids, 25, seed=0)
    assert train.sum() == 400 and test.sum() == 125
    other = split_by_subject(ids, 25, seed=1)[1]
    assert not np.array_equal(other, test)


@pytest.mark.parametrize("n_test", [0, -1, 2, 3, 4])
def test_subject_split_refuses_impossible_sizes(n_test):
    with pytest.raises(ValueError, match="n_test"):
        split_by_subject(["a", "a", "b", "c"], n_test, seed=0)


def test_subject_split_refuses_empty_input():
    with pytest.raises(ValueError, match="non-empty"):
        split_by_subject([], 1, seed=0)


def test_image_split_is_leaky_but_deterministic():
    train, test = split_by_image(525, 125, seed=7)
    assert train.sum() == 400 and test.sum() == 125 and (train ^ test).all()
    np.testing.assert_array_equal(split_by_image(525, 125, seed=7)[1], test)
    # the leak the paper's split allows: some subject's images land on both sides
    ids = np.repeat(np.arange(105), 5)
    assert set(ids[train]) & set(ids[test])
    for bad in (0, 525, 600):
        with pytest.raises(ValueError, match="n_test"):
            split_by_image(525, bad, seed=0)


def test_at_most_half_the_subjects_are_test_subjects_whatever_the_cohort():
    ids = [f"S{i}" for i in range(7)]  # an imported cohort: params check cannot know its size
    assert split_by_subject(ids, 3, seed=0)[1].sum() == 3
    with pytest.raises(ValueError, match=r"n_test \(4\) leaves 3 of the 7 subjects .* at most half the subjects \(3\)"):
        split_by_subject(ids, 4, seed=0)
