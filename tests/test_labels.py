"""Training labels: heatmaps (paper's algorithm), affinity fields (eq. 3-4), validity mask."""

import numpy as np
import pytest

from backsurface.codec import encode as labels
from backsurface.codec import grid
from backsurface.core.landmarks import LINKS, N_LANDMARKS

PAPER_EXAMPLE = np.array(
    [267, 137, 261, 304, 214, 154, 313, 154, 239, 202, 294, 192, 227, 261, 295, 258, 247, 286, 273, 291], float
).reshape(10, 2)
S, STRIDE, SIGMA, TH = 368, 8, 8.0, 4.6


def example_points(rng=None) -> np.ndarray:
    """The paper's example landmarks scaled into a 368 input, with a sub-pixel jitter."""
    pts = PAPER_EXAMPLE * (S / 512) + 10
    if rng is not None:
        pts = pts + rng.uniform(-2, 2, pts.shape)
    return pts


def closed_form(pts, n, stride=STRIDE, sigma=SIGMA, th=TH):
    """exp(-d^2 / 2 sigma^2) at every cell centre, cut where the exponent exceeds th: (n, n, 10)."""
    c = grid.cell_centres(n, stride)
    xx, yy = np.meshgrid(c, c)
    e = ((xx[..., None] - pts[:, 0]) ** 2 + (yy[..., None] - pts[:, 1]) ** 2) / (2 * sigma**2)
    return np.where(e > th, 0.0, np.exp(-e))


def test_output_grid_and_cell_centre_convention():
    assert grid.output_size(368, 8) == 46 and grid.output_size(100, 8) == 13 and grid.output_size(7, 8) == 1
    c = grid.cell_centres(46, 8)
    assert c[0] == 3.5 and c[1] == 11.5  # the centre of input pixels 0..7
    p = np.array([[3.5, 11.5], [0.0, 367.0]])
    np.testing.assert_allclose(grid.input_to_output(p), [[0, 1], [-3.5 / 8, 363.5 / 8]])
    np.testing.assert_allclose(grid.output_to_input(grid.input_to_output(p)), p)
    with pytest.raises(ValueError, match="stride"):
        grid.output_size(368, 0)


def test_heatmaps_equal_the_closed_form_gaussian(rng):
    pts = example_points(rng)
    hm = labels.heatmaps(pts, S, STRIDE, SIGMA, TH)
    assert hm.shape == (46, 46, 11) and hm.dtype == np.float32
    ref = closed_form(pts, 46)
    np.testing.assert_allclose(hm[..., :10], ref, atol=1e-6)
    assert hm.min() >= 0 and hm.max() <= 1
    # cut-off: every non-zero value is at least exp(-th), and the cut removes the tails
    nz = hm[..., :10][hm[..., :10] > 0]
    assert nz.min() >= np.exp(-TH) - 1e-7
    # background = max(0, 1 - max over landmarks)
    np.testing.assert_allclose(hm[..., 10], np.maximum(0, 1 - ref.max(axis=2)), atol=1e-6)


def test_heatmap_peak_sits_on_the_landmark(rng):
    pts = example_points(rng)
    hm = labels.heatmaps(pts, S).astype(np.float64)
    cells = grid.input_to_output(pts)  # landmark in output-cell units
    for k in range(N_LANDMARKS):
        i, j = np.unravel_index(np.argmax(hm[..., k]), hm.shape[:2])
        assert (j, i) == tuple(np.round(cells[k]).astype(int)), k  # argmax = the cell holding the landmark
        # log of a Gaussian is exactly quadratic: a 3-point parabola through the peak finds its centre
        lx = np.log(hm[i, j - 1 : j + 2, k])
        ly = np.log(hm[i - 1 : i + 2, j, k])
        sub = np.array(
            [
                j + 0.5 * (lx[0] - lx[2]) / (lx[0] - 2 * lx[1] + lx[2]),
                i + 0.5 * (ly[0] - ly[2]) / (ly[0] - 2 * ly[1] + ly[2]),
            ]
        )
        np.testing.assert_allclose(sub, cells[k], atol=1e-3)  # << 0.5 output px


@pytest.mark.parametrize("seed", range(12))
def test_vectorised_heatmaps_match_the_papers_loop(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(24, 129))
    stride = int(rng.choice([1, 2, 4, 8]))
    sigma = float(rng.uniform(1.5, 10))
    th = float(rng.uniform(1, 6))
    pts = rng.uniform(-30, size + 30, (10, 2))  # some landmarks near or beyond the edges
    pts[rng.random(10) < 0.2] = np.nan
    if seed % 2:
        pts = np.round(pts)
    fast = labels.heatmaps(pts, size, stride, sigma, th)
    slow = labels.reference_heatmap_loop(pts, size, stride, sigma, th)
    assert fast.shape == slow.shape
    np.testing.assert_allclose(fast, slow, atol=1e-6)


def test_paper_settings_match_the_loop_at_368():
    pts = example_points(np.random.default_rng(5))
    np.testing.assert_allclose(labels.heatmaps(pts, S), labels.reference_heatmap_loop(pts, S), atol=1e-6)


def test_missing_landmark_gives_a_zero_channel_and_a_masked_label():
    pts = example_points()
    pts[3] = np.nan  # RSH missing
    hm, paf, mask = labels.render_labels(pts, S)
    assert not hm[..., 3].any()
    assert hm[..., 2].max() > 0.9
    assert mask.shape == (21,)
    assert mask[3] == 0 and mask[[0, 1, 2, 4, 5, 6, 7, 8, 9]].all()
    assert mask[10] == 0  # background unreliable where the missing landmark is
    link = int(np.flatnonzero((LINKS == 3).any(axis=1))[0])  # (LSH, RSH)
    assert not paf[..., 2 * link : 2 * link + 2].any()
    assert mask[11 + 2 * link] == 0 and mask[12 + 2 * link] == 0
    others = [c for c in range(10) if c // 2 != link]
    assert mask[11 + np.array(others)].all()
    full = labels.validity_mask(example_points())
    assert full.all()


def test_far_away_landmarks_are_harmless():
    pts = example_points()
    pts[0] = [1e6, -1e6]
    pts[1] = [-5e6, 400.0]
    hm = labels.heatmaps(pts, S)
    assert not hm[..., 0].any() and not hm[..., 1].any()
    np.testing.assert_allclose(hm[..., 2:10], closed_form(pts, 46)[..., 2:], atol=1e-6)
    pts[1] = [1e300, 1e300]
    with pytest.raises(ValueError, match="beyond"):
        labels.heatmaps(pts, S)


def test_bad_points_are_refused():
    with pytest.raises(ValueError, match=r"\(10, 2\)"):
        labels.heatmaps(np.zeros((9, 2)), S)
    bad = example_points()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="inf"):
        labels.heatmaps(bad, S)
    half = example_points()
    half[4, 1] = np.nan
    with pytest.raises(ValueError, match="one NaN"):
        labels.affinity_fields(half, S)
    with pytest.raises(ValueError, match="sigma"):
        labels.heatmaps(example_points(), S, sigma=0)
    with pytest.raises(ValueError, match="limb_width"):
        labels.affinity_fields(example_points(), S, limb_width=-1)


def test_affinity_vectors_are_unit_on_the_limb_and_zero_off_it(rng):
    pts = example_points(rng)
    width = 8.0
    paf = labels.affinity_fields(pts, S, STRIDE, width)
    assert paf.shape == (46, 46, 10) and paf.dtype == np.float32
    c = grid.cell_centres(46, STRIDE)
    xx, yy = np.meshgrid(c, c)
    for link, (j1, j2) in enumerate(LINKS):
        a, b = pts[j1], pts[j2]
        v = (b - a) / np.linalg.norm(b - a)
        along = (xx - a[0]) * v[0] + (yy - a[1]) * v[1]
        across = np.abs((xx - a[0]) * v[1] - (yy - a[1]) * v[0])
        on = (along >= 0) & (along <= np.linalg.norm(b - a)) & (across <= width)
        field = paf[..., 2 * link : 2 * link + 2]
        assert on.sum() >= 3, link
        np.testing.assert_allclose(np.linalg.norm(field[on], axis=1), 1.0, atol=1e-6)
        np.testing.assert_allclose(field[on], np.broadcast_to(v, field[on].shape), atol=1e-6)
        assert not field[~on].any()


def test_affinity_channel_order_follows_links():
    pts = example_points()
    pts[0] = [180.0, 60.0]  # VP straight above NC: link (1, 2) is the last link, pointing down
    pts[1] = [180.0, 260.0]
    paf = labels.affinity_fields(pts, S)
    spine = paf[..., 8:10]
    assert (spine[..., 1][np.abs(spine).sum(-1) > 0] == 1).all() and not spine[..., 0].any()
    assert np.abs(spine).sum(-1).astype(bool).sum() >= 20


@pytest.mark.parametrize("seed", range(6))
def test_vectorised_affinity_matches_the_loop(seed):
    rng = np.random.default_rng(100 + seed)
    size = int(rng.integers(32, 160))
    stride = int(rng.choice([2, 4, 8]))
    width = float(rng.uniform(1, 16))
    pts = rng.uniform(-20, size + 20, (10, 2))
    pts[rng.random(10) < 0.15] = np.nan
    if seed % 2:
        pts, width = np.round(pts), float(round(width))  # integer geometry: cells exactly on the boundary
    np.testing.assert_allclose(
        labels.affinity_fields(pts, size, stride, width),
        labels.reference_affinity_loop(pts, size, stride, width),
        atol=1e-6,
    )


def test_coincident_link_ends_give_a_masked_zero_field():
    pts = example_points()
    pts[9] = pts[8]  # LPSIS == RPSIS: link 0 has no direction
    paf = labels.affinity_fields(pts, S)
    mask = labels.validity_mask(pts)
    assert not paf[..., 0:2].any() and paf[..., 2:].any()
    assert mask[11] == 0 and mask[12] == 0 and mask[13:].all()
    assert mask[:11].all()  # both landmarks are present: their heatmaps still count


def test_render_labels_bundles_the_three():
    pts = example_points(np.random.default_rng(1))
    pts[6] = np.nan
    hm, paf, mask = labels.render_labels(pts, S)
    np.testing.assert_array_equal(hm, labels.heatmaps(pts, S))
    np.testing.assert_array_equal(paf, labels.affinity_fields(pts, S))
    np.testing.assert_array_equal(mask, labels.validity_mask(pts))
    assert np.concatenate([hm, paf], axis=-1).shape[-1] == mask.shape[0] == labels.N_CHANNELS
