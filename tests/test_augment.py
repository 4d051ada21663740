"""Augmentation: the paper's translations, and the optional flip, rotation/scale and depth noise."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backsurface.core.landmarks import KEYS, index
from backsurface.data import augment

PAPER_EXAMPLE = np.array(
    [267, 137, 261, 304, 214, 154, 313, 154, 239, 202, 294, 192, 227, 261, 295, 258, 247, 286, 273, 291], float
).reshape(10, 2)
H, W = 424, 512


def frame(rng, channels=None):
    shape = (H, W) if channels is None else (H, W, channels)
    return rng.random(shape).astype(np.float32) + 0.1  # strictly positive, so fill 0 is visible


@settings(max_examples=40, deadline=None)
@given(dx=st.integers(-600, 600), dy=st.integers(-500, 500), channels=st.sampled_from([None, 3]))
def test_translate_moves_content_and_points_exactly(dx, dy, channels):
    rng = np.random.default_rng(abs(dx) + abs(dy))
    img = frame(rng, channels)
    pts = PAPER_EXAMPLE + rng.uniform(-0.5, 0.5, (10, 2))
    out, moved = augment.translate(img, pts, dx, dy)
    assert out.shape == img.shape and out.dtype == img.dtype
    # content: out[y + dy, x + dx] == img[y, x] wherever both are in the frame; the rest is 0
    ys, xs = np.mgrid[0:H, 0:W]
    src_y, src_x = ys - dy, xs - dx
    inside = (src_y >= 0) & (src_y < H) & (src_x >= 0) & (src_x < W)
    np.testing.assert_array_equal(out[inside], img[src_y[inside], src_x[inside]])
    assert not out[~inside].any()
    # points: moved by exactly (dx, dy), or NaN once outside the frame
    target = pts + [dx, dy]
    in_frame = (target[:, 0] >= 0) & (target[:, 0] <= W - 1) & (target[:, 1] >= 0) & (target[:, 1] <= H - 1)
    np.testing.assert_array_equal(moved[in_frame], target[in_frame])
    assert np.isnan(moved[~in_frame]).all()


def test_translate_keeps_missing_missing_and_refuses_fractions():
    pts = PAPER_EXAMPLE.copy()
    pts[4] = np.nan
    img = np.ones((H, W))
    _, moved = augment.translate(img, pts, 5, -5)
    assert np.isnan(moved[4]).all()
    np.testing.assert_array_equal(moved[0], PAPER_EXAMPLE[0] + [5, -5])
    _, out = augment.translate(img, PAPER_EXAMPLE, -300, 0)  # pushes the leftmost landmarks out
    assert np.isnan(out[index("LSH")]).all() and not np.isnan(out[index("RSH")]).any()
    with pytest.raises(ValueError, match="whole pixels"):
        augment.translate(img, pts, 1.5, 0)
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        augment.translate(img, pts.ravel(), 1, 0)


def test_paper_translations():
    t = augment.paper_translations(20)
    assert t == [("original", 0, 0), ("right", 20, 0), ("left", -20, 0), ("up", 0, -20), ("down", 0, 20)]
    for bad in (0, -3, 2.5):
        with pytest.raises(ValueError, match="shift"):
            augment.paper_translations(bad)


def test_hflip_swaps_left_and_right_and_is_an_involution(rng):
    img = frame(rng, 3)
    pts = PAPER_EXAMPLE.copy()
    pts[7] = np.nan  # RW missing
    out, flipped = augment.hflip(img, pts)
    np.testing.assert_array_equal(out, img[:, ::-1])
    # the subject's left shoulder is now where the mirrored right shoulder was, and vice versa
    np.testing.assert_array_equal(flipped[index("LSH")], [W - 1 - 313, 154])
    np.testing.assert_array_equal(flipped[index("RSH")], [W - 1 - 214, 154])
    np.testing.assert_array_equal(flipped[index("VP")], [W - 1 - 267, 137])  # midline keeps its identity
    assert np.isnan(flipped[index("LW")]).all()  # the missing RW became a missing LW
    assert flipped[index("LSH"), 0] < flipped[index("RSH"), 0]  # left still on the image's left
    back_img, back = augment.hflip(out, flipped)
    np.testing.assert_array_equal(back_img, img)
    np.testing.assert_array_equal(back, pts)  # NaN compares equal in assert_array_equal
    with pytest.raises(ValueError, match="10 landmarks"):
        augment.hflip(img, pts[:5])
    assert len(KEYS) == 10


def test_rotate_scale_identity_and_exact_points(rng):
    img = frame(rng)
    out, same = augment.rotate_scale(img, PAPER_EXAMPLE, 0.0, 1.0)
    np.testing.assert_allclose(out, img, atol=1e-6)
    np.testing.assert_allclose(same, PAPER_EXAMPLE, atol=1e-9)


@pytest.mark.parametrize("angle, scale", [(90.0, 1.0), (-90.0, 1.0), (30.0, 1.0), (0.0, 2.0), (45.0, 0.7)])
def test_rotate_scale_moves_points_with_the_content(angle, scale):
    n = 101  # odd square: the centre is a pixel centre
    img = np.zeros((n, n), np.float32)
    pts = np.array([[60.0, 40.0], [30.0, 70.0], [50.0, 50.0]] + [[50.0, 20.0]] * 7)
    for x, y in pts[:3].astype(int):
        img[y - 1 : y + 2, x - 1 : x + 2] = 1.0  # a small blob on three landmarks
    out, moved = augment.rotate_scale(img, pts, angle, scale)
    for k in range(3):
        x, y = np.round(moved[k]).astype(int)
        win = out[y - 4 : y + 5, x - 4 : x + 5]
        yy, xx = np.mgrid[y - 4 : y + 5, x - 4 : x + 5]
        centroid = np.array([(win * xx).sum(), (win * yy).sum()]) / win.sum()
        np.testing.assert_allclose(centroid, moved[k], atol=0.05)  # the blob went where its point went
    if angle == 90.0:  # counter-clockwise as displayed: right of centre goes up
        np.testing.assert_allclose(moved[0], [50 + (40 - 50), 50 - (60 - 50)], atol=1e-9)


def test_rotate_scale_drops_points_leaving_the_frame():
    img = np.ones((50, 50))
    pts = np.tile([[45.0, 25.0]], (10, 1))
    pts[1] = np.nan
    _, moved = augment.rotate_scale(img, pts, 0.0, 3.0)
    assert np.isnan(moved).all()
    with pytest.raises(ValueError, match="scale"):
        augment.rotate_scale(img, pts, 0.0, 0.0)


def test_depth_noise_only_touches_valid_pixels():
    rng = np.random.default_rng(3)
    img = np.clip(rng.random((40, 60)), 0.05, 0.95).astype(np.float32)
    valid = rng.random((40, 60)) > 0.3
    img[~valid] = 0
    a = augment.depth_noise(img, valid, 0.02, np.random.default_rng(9))
    b = augment.depth_noise(img, valid, 0.02, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)  # seeded
    np.testing.assert_array_equal(a[~valid], 0)
    assert a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    diff = (a - img)[valid]
    assert 0.01 < diff.std() < 0.03
    np.testing.assert_array_equal(augment.depth_noise(img, valid, 0.0, np.random.default_rng(0)), img)
    three = augment.depth_noise(np.repeat(img[..., None], 3, 2), valid, 0.02, np.random.default_rng(9))
    np.testing.assert_array_equal(three[..., 0], three[..., 2])
    with pytest.raises(ValueError, match="differ"):
        augment.depth_noise(img, valid[:10], 0.02, np.random.default_rng(0))
