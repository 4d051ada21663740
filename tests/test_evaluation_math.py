"""Decoding and metrics on hand-made cases with known answers (NumPy only)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backsurface.codec import decode
from backsurface.codec import encode as labels
from backsurface.codec.grid import STRIDE
from backsurface.core.camera import KINECT_V2
from backsurface.core.landmarks import KEYS, index
from backsurface.data.surface import points_3d, surface_depth
from backsurface.evaluation import metrics

SIZE = 184


@settings(max_examples=40, deadline=None)
@given(st.floats(24, 160), st.floats(24, 160))
def test_peak_between_cells_is_recovered_within_a_quarter_output_pixel(x, y):
    pts = np.tile([[x, y]], (10, 1))
    h = labels.heatmaps(pts, SIZE)
    got, conf = decode.heatmap_peaks(h)
    err_cells = np.abs(got - pts) / STRIDE
    assert err_cells.max() < 0.25
    assert np.all(conf > 0.5) and np.all(conf <= 1.0)


def test_exact_gaussian_peak_is_exact_and_batches_keep_their_shape():
    pts = np.random.default_rng(0).uniform(30, 150, (3, 10, 2))
    h = np.stack([labels.heatmaps(p, SIZE) for p in pts])
    got, conf = decode.heatmap_peaks(h)
    assert got.shape == (3, 10, 2) and conf.shape == (3, 10)
    np.testing.assert_allclose(got, pts, atol=1e-6)  # log-parabola is exact on an uncut Gaussian peak


def _tilted_gaussians(pts, sigma_major, sigma_minor, angle, size=SIZE):
    """Elongated Gaussian peaks on the output grid, each turned by its ``angle`` (radians)."""
    from backsurface.codec.grid import cell_centres

    c = cell_centres(size // STRIDE, STRIDE)
    xx, yy = np.meshgrid(c, c)
    h = np.zeros((len(c), len(c), 11))
    for j, ((px, py), a) in enumerate(zip(pts, angle)):
        u = (xx - px) * np.cos(a) + (yy - py) * np.sin(a)
        v = -(xx - px) * np.sin(a) + (yy - py) * np.cos(a)
        h[..., j] = np.exp(-0.5 * ((u / sigma_major) ** 2 + (v / sigma_minor) ** 2))
    return h


@settings(max_examples=30, deadline=None)
@given(st.floats(30, 150), st.floats(30, 150), st.floats(0, np.pi))
def test_dark_is_exact_on_a_tilted_elongated_gaussian_where_the_separable_fit_is_not(x, y, angle):
    pts = np.tile([[x, y]], (10, 1))
    h = _tilted_gaussians(pts, 13.0, 8.0, np.full(10, angle))
    dark, conf = decode.heatmap_peaks(h, STRIDE, "dark", sigma_cells=1.0)
    # blurring a Gaussian with a Gaussian keeps its centre; the log is then a quadratic, and the Taylor step
    # with the mixed derivative lands on it (to the grid's sampling of the blur kernel)
    np.testing.assert_allclose(dark, pts, atol=0.01)
    assert np.all(conf > 0.3) and np.all(conf <= 1.0)


def test_the_separable_fit_misses_a_tilted_peak_that_dark_recovers():
    pts = np.array([[91.3, 77.6]] * 10)
    h = _tilted_gaussians(pts, 13.0, 8.0, np.full(10, np.pi / 4))
    separable, _ = decode.heatmap_peaks(h, STRIDE, "logparabola")
    dark, _ = decode.heatmap_peaks(h, STRIDE, "dark", sigma_cells=1.0)
    assert np.abs(separable - pts).max() > 0.5 and np.abs(dark - pts).max() < 0.01


def test_dark_is_exact_on_the_label_gaussian_and_the_methods_are_named():
    pts = np.random.default_rng(2).uniform(30, 150, (3, 10, 2))
    h = np.stack([labels.heatmaps(p, SIZE) for p in pts])
    got, _ = decode.heatmap_peaks(h, STRIDE, "dark", sigma_cells=1.0)
    assert got.shape == (3, 10, 2)
    np.testing.assert_allclose(got, pts, atol=0.01)
    flat, conf = decode.heatmap_peaks(np.zeros((23, 23, 11)), STRIDE, "dark")
    assert np.isfinite(flat).all() and np.all(conf == 0)
    with pytest.raises(ValueError, match="decoding method must be one of"):
        decode.heatmap_peaks(h, STRIDE, "softargmax")


def test_peaks_reject_bad_shapes_and_survive_flat_maps():
    with pytest.raises(ValueError, match="heatmaps must be"):
        decode.heatmap_peaks(np.zeros((23, 23, 5)))
    pts, conf = decode.heatmap_peaks(np.zeros((23, 23, 11)))
    assert np.isfinite(pts).all() and np.all(conf == 0)


def test_to_raw_inverts_the_stored_transform():
    rows = np.array([[0.4, 0.4, 10.0, 20.0, 184, 184], [0.5, 0.5, -3.0, 0.0, 184, 184]])
    raw = np.random.default_rng(1).uniform(0, 400, (2, 10, 2))
    inp = (raw + 0.5) * rows[:, None, :2] - 0.5 + rows[:, None, 2:4]
    np.testing.assert_allclose(decode.to_raw(inp, rows), raw, atol=1e-9)
    with pytest.raises(ValueError, match="NaN"):
        decode.to_raw(inp, np.full_like(rows, np.nan))


def test_link_scores_are_one_on_the_true_fields_and_low_when_reversed():
    pts = np.array([[92, 30], [92, 150], [60, 40], [124, 40], [70, 70], [114, 70], [66, 110], [118, 110],
                    [80, 135], [104, 135]], float)
    pafs = labels.affinity_fields(pts, SIZE)
    assert np.all(decode.link_scores(pafs, pts) > 0.8)  # < 1 only where samples near the ends blend with 0
    swapped = pts.copy()
    swapped[[0, 1]] = swapped[[1, 0]]  # VP <-> NC: the VP-NC link runs backwards
    s = decode.link_scores(pafs, swapped)
    assert s[-1] < -0.8 and np.all(s[:-1] > 0.8)
    assert abs(decode.link_scores(np.zeros_like(pafs), pts)).max() == 0.0
    same = pts.copy()
    same[1] = same[0]
    assert np.isnan(decode.link_scores(pafs, same)[-1])


def _true_mm(n=4):
    rng = np.random.default_rng(2)
    t = np.zeros((n, 10, 3))
    t[..., 2] = 1500.0
    t[..., :2] = rng.uniform(-200, 200, (n, 10, 2))
    return t


def test_pck_threshold_is_strict_and_missing_landmarks_are_excluded():
    e = np.array([[149.9, 150.0, 150.1, np.nan] + [0.0] * 6])
    c = metrics.pck_correct(e, 150.0)
    assert c[0, :3].tolist() == [1.0, 0.0, 0.0] and np.isnan(c[0, 3])
    rates = metrics.per_landmark(c)
    assert rates["VP"] == 100.0 and rates["NC"] == 0.0 and np.isnan(rates[KEYS[3]])
    assert rates["Total"] == pytest.approx(100.0 * 7 / 9)  # 9 evaluable, 7 correct


def test_perfect_predictor_scores_100_everywhere():
    t = _true_mm()
    e = metrics.errors_mm(t, t)
    assert metrics.per_landmark(metrics.pck_correct(e))["Total"] == 100.0
    assert metrics.per_landmark(metrics.pdj_correct(e, t))["Total"] == 100.0
    thr = np.linspace(1, 50, 50)
    assert metrics.curve_auc(metrics.pck_curve(e, thr), thr) == pytest.approx(100.0)
    # at τ = 0 nothing is "below" the threshold, not even a perfect prediction
    assert metrics.pck_curve(e, np.array([0.0]))[0] == 0.0
    assert metrics.error_summary(e)["Total"]["within_5mm"] == 100.0


def test_constant_predictor_scores_what_the_geometry_says():
    """Predicting every landmark at the origin of the torso: correct exactly where |true| < threshold."""
    t = _true_mm(20)
    pred = np.broadcast_to(np.array([0.0, 0.0, 1500.0]), t.shape)
    e = metrics.errors_mm(pred, t)
    expect = 100.0 * (np.linalg.norm(t[..., :2], axis=-1) < 150.0).mean()
    assert metrics.per_landmark(metrics.pck_correct(e, 150.0))["Total"] == pytest.approx(expect)
    diam = np.linalg.norm(t[:, index("LSH")] - t[:, index("RPSIS")], axis=-1)
    expect_pdj = 100.0 * (np.linalg.norm(t[..., :2], axis=-1) < 0.2 * diam[:, None]).mean()
    assert metrics.per_landmark(metrics.pdj_correct(e, t))["Total"] == pytest.approx(expect_pdj)


def test_pdj_without_torso_diameter_is_not_evaluable():
    t = _true_mm(2)
    t[0, index("RPSIS")] = np.nan
    e = np.zeros((2, 10))
    c = metrics.pdj_correct(e, t)
    assert np.isnan(c[0]).all() and (c[1] == 1.0).all()


def test_pck_curve_and_auc_on_known_errors():
    e = np.array([[10.0, 30.0] + [np.nan] * 8])
    thr = np.array([0.0, 20.0, 40.0])
    curve = metrics.pck_curve(e, thr)
    assert curve.tolist() == [0.0, 50.0, 100.0]
    assert metrics.curve_auc(curve, thr) == pytest.approx(50.0)


def test_error_summary_known_values():
    e = np.full((4, 10), np.nan)
    e[:, 0] = [2.0, 8.0, 12.0, 30.0]
    s = metrics.error_summary(e)["VP"]
    assert s["n"] == 4 and s["mean_mm"] == pytest.approx(13.0) and s["median_mm"] == pytest.approx(10.0)
    assert (s["within_2mm"], s["within_5mm"], s["within_10mm"], s["within_20mm"]) == (0.0, 25.0, 50.0, 75.0)
    assert metrics.error_summary(e)["NC"]["n"] == 0


def test_points_3d_reads_the_depth_under_the_pixel_and_ignores_background():
    depth = np.full((424, 512), 1500.0)
    depth[:, 300:] = 2600.0  # wall beyond the 1.7 m threshold
    depth[100, 100] = 0.0  # a dropout: the window median fills it
    uv = np.array([[100.0, 100.0], [450.0, 200.0]])
    p = points_3d(depth, uv, max_mm=1700.0)
    np.testing.assert_allclose(p[0], KINECT_V2.back_project(uv[0], 1500.0))
    assert np.isnan(p[1]).all()


def test_bootstrap_interval_contains_the_estimate_and_shrinks_with_more_subjects():
    rng = np.random.default_rng(3)

    def width(n_subjects):
        groups = np.repeat(np.arange(n_subjects), 5)
        correct = (rng.random((len(groups), 10)) < 0.7).astype(float)
        point, lo, hi = metrics.bootstrap_ci(correct, groups, n_boot=500, seed=1)
        assert lo <= point <= hi
        assert point == pytest.approx(metrics.rate(correct))
        return hi - lo

    assert width(200) < width(20)
    point, lo, hi = metrics.bootstrap_mean(np.array([1.0, 1.0, 3.0, 3.0]), np.array([0, 0, 1, 1]), n_boot=200)
    assert point == 2.0 and 1.0 <= lo <= 2.0 <= hi <= 3.0


def test_per_landmark_keys_follow_the_paper():
    assert list(metrics.per_landmark(np.ones((1, 10))))[:10] == list(KEYS)


def test_surface_depth_falls_back_to_a_wider_window_off_the_silhouette():
    depth = np.full((424, 512), 2600.0)
    depth[:, :300] = 1500.0
    uv = np.array([[305.0, 100.0], [400.0, 100.0]])  # 5 px off the body edge, and far off it
    assert np.isnan(surface_depth(depth, uv, 1700.0)).all()
    z = surface_depth(depth, uv, 1700.0, fallback_window=8)
    assert z[0] == 1500.0 and np.isnan(z[1])


@settings(max_examples=50, deadline=None)
@given(du=st.floats(-50, 50), dv=st.floats(-50, 50), z=st.floats(500, 4000))
def test_inplane_error_is_the_pixel_offset_at_the_true_depth(du, dv, z):
    true = np.array([[256.0, 212.0]])
    e = metrics.inplane_errors_mm(true + [du, dv], true, np.array([z]))
    assert e[0] == pytest.approx(np.hypot(du, dv) * z / KINECT_V2.fx, rel=1e-12, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(du=st.floats(-50, 50), dv=st.floats(-50, 50), seed=st.integers(0, 10_000))
def test_a_shift_shared_by_every_landmark_is_no_relative_error(du, dv, seed):
    rng = np.random.default_rng(seed)
    true = rng.uniform(50, 400, (3, 10, 2))
    z = np.full((3, 10), 1500.0)  # one depth per image: the common pixel shift is a common millimetre shift
    rel = metrics.relative_inplane_errors_mm(true + [du, dv], true, z)
    np.testing.assert_allclose(rel, 0.0, atol=1e-9)
    assert metrics.inplane_errors_mm(true + [du, dv], true, z) == pytest.approx(
        np.full((3, 10), np.hypot(du, dv) * 1500.0 / KINECT_V2.fx), abs=1e-9)


def test_relative_error_known_values_and_a_missing_truth():
    # at z = fx mm one raw pixel is one millimetre (both focal lengths of the Kinect v2 are equal)
    true = np.zeros((1, 10, 2)) + 100.0
    pred = true.copy()
    pred[0, 3, 0] += 10.0  # one landmark 10 mm to the right: the common offset is 1 mm
    z = np.full((1, 10), KINECT_V2.fx)
    rel = metrics.relative_inplane_errors_mm(pred, true, z)
    assert rel[0, 3] == pytest.approx(9.0) and np.delete(rel[0], 3) == pytest.approx(np.ones(9))
    true[0, 7] = np.nan  # a landmark without truth takes no part: the offset is 10/9 mm over the other nine
    rel = metrics.relative_inplane_errors_mm(pred, true, z)
    assert np.isnan(rel[0, 7]) and rel[0, 3] == pytest.approx(10.0 - 10.0 / 9)
    assert np.delete(rel[0], [3, 7]) == pytest.approx(np.full(8, 10.0 / 9))


def test_inplane_error_known_value_and_missing_points():
    # 10 raw px to the right at 1461.824 mm: 10 · 1461.824 / 365.456 = 40 mm exactly
    e = metrics.inplane_errors_mm(np.array([[110.0, 50.0], [np.nan, 1.0]]), np.array([[100.0, 50.0], [1.0, 1.0]]),
                                  np.array([4 * 365.456, 1500.0]))
    assert e[0] == pytest.approx(40.0) and np.isnan(e[1])
