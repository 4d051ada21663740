"""Preprocessing (paper Sec. 5): denoise, eq. 1, three channels, exact raw <-> input geometry."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backsurface.core.camera import HEIGHT, WIDTH
from backsurface.data import preprocess as pp


def depth_frame(seed=0) -> np.ndarray:
    """A toy back at ~1.5 m (a bulging ellipse), a wall at 2.5 m, dropouts, a small far-ish blob."""
    rng = np.random.default_rng(seed)
    v, u = np.mgrid[0:HEIGHT, 0:WIDTH]
    r2 = ((u - 256) / 110.0) ** 2 + ((v - 230) / 170.0) ** 2
    depth = np.full((HEIGHT, WIDTH), 2500.0)
    body = r2 < 1
    depth[body] = 1450 + 60 * r2[body]
    depth[10:20, 10:20] = 1600  # a small foreground blob (not the torso)
    depth[rng.random(depth.shape) < 0.01] = 0  # dropouts
    return depth.astype(np.uint16)


def test_denoise_thresholds_background_and_invalid_readings():
    d = depth_frame().astype(float)
    d[5, 5] = np.nan
    out, valid = pp.denoise(d, 1700)
    assert out.shape == valid.shape == d.shape and valid.dtype == bool
    assert not valid[d > 1700].any() and not valid[d == 0].any() and not valid[5, 5]
    assert (out[~valid] == 0).all()
    np.testing.assert_array_equal(out[valid], d[valid])
    assert valid.sum() > 50_000


@pytest.mark.parametrize(
    "frame, why",
    [
        (np.full((HEIGHT, WIDTH), 2500, np.uint16), "2500 mm wall only"),
        (np.zeros((HEIGHT, WIDTH), np.uint16), "no reading at all"),
        (np.full((HEIGHT, WIDTH), np.nan), "all NaN"),
    ],
)
def test_empty_foreground_is_a_clear_error_naming_the_frame(frame, why):
    with pytest.raises(pp.PreprocessError, match=r"depth/S007\.png: empty foreground") as err:
        pp.denoise(frame, 1700, name="depth/S007.png")
    assert "1700 mm" in str(err.value), why
    with pytest.raises(pp.PreprocessError, match="S007"):
        pp.preprocess_frame(frame, 1700, 64, name="S007")


def test_denoise_refuses_non_2d():
    with pytest.raises(pp.PreprocessError, match="2-D"):
        pp.denoise(np.ones((4, 4, 3)), name="x")


def test_normalise_is_equation_1_over_valid_pixels():
    d, valid = pp.denoise(depth_frame())
    n = pp.normalise(d, valid)
    assert n.dtype == np.float32 and n.shape == d.shape
    lo, hi = d[valid].min(), d[valid].max()
    np.testing.assert_allclose(n[valid], (d[valid] - lo) / (hi - lo), atol=1e-6)
    assert n[valid].min() == 0 and n[valid].max() == 1  # nearest → 0, farthest → 1, as printed
    assert (n[~valid] == 0).all()


def test_single_valued_frame_is_a_clear_error():
    d = np.zeros((10, 10))
    d[3:6, 3:6] = 1500
    depth, valid = pp.denoise(d)
    with pytest.raises(pp.PreprocessError, match=r"frame7: .*same depth.*max == min"):
        pp.normalise(depth, valid, name="frame7")
    with pytest.raises(pp.PreprocessError, match="differ in shape"):
        pp.normalise(depth, valid[:5])


def test_three_channels():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    y = pp.to_three_channels(x)
    assert y.shape == (3, 4, 3)
    for c in range(3):
        np.testing.assert_array_equal(y[..., c], x)


def test_letterbox_of_the_full_frame():
    t = pp.fit_transform(WIDTH, HEIGHT, 368)
    s = 368 / 512
    assert t.scale_x == t.scale_y == s and (t.in_w, t.in_h) == (368, 368)
    pad = (368 - HEIGHT * s) / 2
    # the raw frame's outer pixel edges land on the input's edges (x) and on the padding (y)
    corners = np.array([[-0.5, -0.5], [WIDTH - 0.5, HEIGHT - 0.5]])
    np.testing.assert_allclose(t.raw_to_input(corners), [[-0.5, pad - 0.5], [367.5, 367.5 - pad]])
    # the frame centre maps to the input centre
    np.testing.assert_allclose(t.raw_to_input([(WIDTH - 1) / 2, (HEIGHT - 1) / 2]), [183.5, 183.5])


def test_crop_box_fills_the_input_along_its_long_side():
    box = (100, 50, 300, 400)  # 200 x 350
    t = pp.fit_transform(WIDTH, HEIGHT, 256, box)
    edges = np.array([[99.5, 49.5], [299.5, 399.5]])
    got = t.raw_to_input(edges)
    np.testing.assert_allclose(got[:, 1], [-0.5, 255.5])
    np.testing.assert_allclose(got[:, 0].mean(), 127.5)  # centred horizontally
    with pytest.raises(ValueError, match="crop_box"):
        pp.fit_transform(WIDTH, HEIGHT, 256, (300, 0, 100, 10))


@settings(max_examples=80, deadline=None)
@given(
    fw=st.integers(8, 700),
    fh=st.integers(8, 700),
    size=st.integers(16, 512),
    box=st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1)),
    use_box=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_raw_to_input_round_trip_is_exact(fw, fh, size, box, use_box, seed):
    crop = None
    if use_box:
        x0, x1 = sorted((int(box[0] * (fw - 1)), int(box[1] * (fw - 1))))
        y0, y1 = sorted((int(box[2] * (fh - 1)), int(box[3] * (fh - 1))))
        crop = (x0, y0, x1 + 1, y1 + 1)
    t = pp.fit_transform(fw, fh, size, crop)
    pts = np.random.default_rng(seed).uniform(-50, max(fw, fh) + 50, (10, 2))
    pts[3] = np.nan
    back = t.input_to_raw(t.raw_to_input(pts))
    assert np.isnan(back[3]).all()
    np.testing.assert_allclose(back[~np.isnan(pts).any(1)], pts[~np.isnan(pts).any(1)], atol=1e-6)
    again = pp.InputTransform.from_dict(t.to_dict())
    assert again == t


def test_transform_dict_is_checked():
    d = pp.fit_transform(WIDTH, HEIGHT, 64).to_dict()
    with pytest.raises(ValueError, match="unknown keys"):
        pp.InputTransform.from_dict({**d, "rotation": 1.0})
    with pytest.raises(ValueError, match="missing keys"):
        pp.InputTransform.from_dict({k: v for k, v in d.items() if k != "scale_x"})


@pytest.mark.parametrize("crop", [None, (120, 40, 380, 420)])
def test_resize_samples_where_the_transform_says(crop):
    v, u = np.mgrid[0:HEIGHT, 0:WIDTH].astype(float)
    ramp = 1.0 + u + 1000.0 * v  # bilinear interpolation reproduces a linear image exactly
    t = pp.fit_transform(WIDTH, HEIGHT, 200, crop)
    out = pp.resize(ramp, t)
    jj, ii = np.meshgrid(np.arange(200), np.arange(200))
    raw = t.input_to_raw(np.stack([jj, ii], -1).astype(float))
    inner = (raw[..., 0] >= 0) & (raw[..., 0] <= WIDTH - 1) & (raw[..., 1] >= 0) & (raw[..., 1] <= HEIGHT - 1)
    np.testing.assert_allclose(out[inner], 1.0 + raw[..., 0][inner] + 1000.0 * raw[..., 1][inner], rtol=1e-9)
    outside = (raw[..., 0] < -0.5) | (raw[..., 0] > WIDTH - 0.5) | (raw[..., 1] < -0.5) | (raw[..., 1] > HEIGHT - 0.5)
    if crop is None:
        assert outside.any()  # the letterbox bands
    assert (out[outside] == 0).all()


def test_a_landmark_blob_lands_where_raw_to_input_puts_it():
    img = np.zeros((HEIGHT, WIDTH))
    pt = np.array([301.3, 187.6])
    v, u = np.mgrid[0:HEIGHT, 0:WIDTH]
    img[:] = np.exp(-((u - pt[0]) ** 2 + (v - pt[1]) ** 2) / (2 * 6.0**2))
    for crop in (None, (200, 100, 420, 300)):
        t = pp.fit_transform(WIDTH, HEIGHT, 160, crop)
        out = pp.resize(img, t)
        yy, xx = np.mgrid[0:160, 0:160]
        centroid = np.array([(out * xx).sum(), (out * yy).sum()]) / out.sum()
        np.testing.assert_allclose(centroid, t.raw_to_input(pt), atol=0.05)


def test_torso_crop_box_picks_the_largest_region():
    _, valid = pp.denoise(depth_frame())
    x0, y0, x1, y1 = pp.torso_crop_box(valid, margin=0.0)
    # the ellipse spans u in (146, 366), v in (60, 400); the small blob at (10..20) is ignored
    assert 140 <= x0 <= 150 and 362 <= x1 <= 372 and 55 <= y0 <= 65 and 395 <= y1 <= 405
    mx0, my0, mx1, my1 = pp.torso_crop_box(valid, margin=0.1)
    assert mx0 < x0 and my0 < y0 and mx1 > x1 and my1 <= HEIGHT
    with pytest.raises(pp.PreprocessError, match="f9: .*empty foreground"):
        pp.torso_crop_box(np.zeros((10, 10), bool), name="f9")


@pytest.mark.parametrize("crop", ["none", "torso", "back"])
def test_preprocess_frame(crop):
    img, t = pp.preprocess_frame(depth_frame(), 1700, 184, crop=crop, name="S1")
    assert img.shape == (184, 184, 3) and img.dtype == np.float32
    assert img.min() >= 0 and img.max() <= 1
    np.testing.assert_array_equal(img[..., 0], img[..., 2])
    assert (t.in_w, t.in_h) == (184, 184)
    # a body pixel away from the nearest point (which eq. 1 maps to 0) stays on the body
    body = t.raw_to_input([336.0, 230.0])
    assert 0.05 < img[int(round(body[1])), int(round(body[0])), 0] < 0.95
    if crop != "none":
        assert t.scale_y > 184 / WIDTH  # zoomed onto the body
    with pytest.raises(pp.PreprocessError, match="crop"):
        pp.preprocess_frame(depth_frame(), 1700, 184, crop="head")


def _room(subject_mm: float, wall_mm: float = 2600.0, centre_px: int = 256) -> np.ndarray:
    """A Kinect v2 frame of a box-shaped back at ``subject_mm`` before a wall and the floor (the renderer's room)."""
    from backsurface.acquisition.synthetic.render import background_depth
    from backsurface.core.camera import KINECT_V2
    depth = background_depth(KINECT_V2, 1100.0, wall_mm)
    yy, xx = np.mgrid[0:424, 0:512]
    body = (np.abs(xx - centre_px) < 60 * 1500 / subject_mm) & (yy > 60) & (yy < 400)
    return np.where(body, subject_mm + 0.002 * (xx - centre_px) ** 2, depth)  # rounder towards the sides


@pytest.mark.parametrize("subject_mm", [1300.0, 1500.0, 1700.0, 1900.0])
@pytest.mark.parametrize("wall_mm", [2400.0, 3500.0])
def test_the_nearest_body_is_found_wherever_the_subject_stands(subject_mm, wall_mm):
    depth = _room(subject_mm, wall_mm)
    cut = pp.background_cut_mm(depth, "nearest", 1700.0, 300.0)
    assert cut == pytest.approx(subject_mm + 300.0, abs=1.0)
    _, valid = pp.denoise(depth, cut)
    body = depth < subject_mm + 100
    assert valid[body].all() and not valid[depth >= wall_mm].any()  # the whole subject, never the wall
    assert pp.background_cut_mm(depth, "fixed", 1700.0, 300.0) == 1700.0  # the paper's cut ignores the frame
    if subject_mm > 1700.0:  # ... and loses a subject beyond it
        with pytest.raises(pp.PreprocessError, match="empty foreground"):
            pp.denoise(np.where(body, depth, 0.0), 1700.0)


def test_stray_readings_in_front_of_the_subject_do_not_move_the_cut():
    depth = _room(1800.0)
    rng = np.random.default_rng(0)
    flat = depth.ravel().copy()
    stray = rng.choice(flat.size, size=int(0.005 * flat.size), replace=False)  # 0.5 % flying pixels at 0.6-1 m
    flat[stray] = rng.uniform(600.0, 1000.0, stray.size)
    assert pp.background_cut_mm(flat.reshape(depth.shape), "nearest", 1700.0, 300.0) == pytest.approx(2100.0, abs=2.0)


@given(st.floats(-300.0, 300.0))
@settings(max_examples=25, deadline=None)
def test_the_nearest_cut_moves_with_the_subject_and_ignores_missing_readings(shift):
    depth = _room(1600.0)
    base = pp.background_cut_mm(depth, "nearest", 1700.0, 300.0)
    assert pp.background_cut_mm(depth + shift, "nearest", 1700.0, 300.0) == pytest.approx(base + shift)
    holes = depth.copy()
    holes[::7, ::5] = 0.0
    holes[1::9, ::3] = np.nan
    assert pp.background_cut_mm(holes, "nearest", 1700.0, 300.0) == pytest.approx(base, abs=2.0)


@pytest.mark.parametrize(("depth", "kw", "message"), [
    (np.zeros((4, 4)), {}, "frame.png: empty foreground.*no subject to find"),
    (np.full((4, 4), np.nan), {}, "frame.png: empty foreground"),
    (np.ones(4), {}, "2-D"),
    (np.ones((4, 4)), {"background": "farthest"}, "background must be one of"),
    (np.ones((4, 4)), {"body_depth_mm": float("inf")}, "body_depth_mm must be a finite number > 0"),
])
def test_a_frame_with_nothing_to_find_is_one_clear_error(depth, kw, message):
    args = {"background": "nearest", "threshold_mm": 1700.0, "body_depth_mm": 300.0} | kw
    with pytest.raises(pp.PreprocessError, match=message):
        pp.background_cut_mm(depth, name="frame.png", **args)


def test_a_partial_body_at_the_edge_of_the_frame_is_found_whole():
    depth = _room(1600.0, centre_px=505)  # the subject at the right edge, nearly half of the back out of view
    body = depth < 1700
    assert 0 < body.sum() < 0.6 * (_room(1600.0) < 1700).sum()
    cut = pp.background_cut_mm(depth, "nearest", 1700.0, 300.0)
    assert cut == pytest.approx(1900.0, abs=1.0)
    _, valid = pp.denoise(depth, cut)
    assert valid[body].all() and not valid[depth >= 2400].any()


@pytest.mark.parametrize("distance_mm, lateral_mm, height", [
    (1300.0, 0.0, 1.0), (1500.0, 0.0, 0.5), (1900.0, 0.0, 0.0), (1900.0, 0.0, 1.0), (1500.0, 250.0, 0.5)])
def test_the_back_crop_holds_every_landmark_wherever_the_subject_stands(synthetic, distance_mm, lateral_mm, height):
    """A rendered subject, tall or short, at 1.3-1.9 m and off-centre: from the depth alone the crop holds all ten
    landmarks at least two output cells (16 input px) inside the input, and spends about twice the whole frame's
    resolution on them (more the farther the subject)."""
    from backsurface.acquisition.synthetic.body import Phenotype, Posture
    from backsurface.acquisition.synthetic.cohort import Subject
    from backsurface.acquisition.synthetic.scene import Placement

    placement = Placement(distance_mm=distance_mm, lateral_mm=lateral_mm)
    who = Subject("T", "M", 27.0, Phenotype(height=height), Posture(arm_abduction_deg=8.0), placement, deformed=False)
    r = synthetic.render(who, np.random.default_rng(0))
    cut = pp.background_cut_mm(r.depth, "nearest", 1700.0, 300.0)
    image, t = pp.preprocess_frame(r.depth, cut, 184, crop="back", name="T")
    seen = np.isfinite(r.landmarks_px).all(axis=1)  # a tall subject at 1.3 m has C7 above the frame
    assert seen.sum() >= 9
    raw = r.landmarks_px[seen]
    pts = t.raw_to_input(raw)
    # at least 16 input px inside the input, or as far inside as the frame itself leaves them (a tall subject near
    # the sensor has its shoulders at the frame's top edge)
    edge_raw = np.minimum(raw + 0.5, np.array([WIDTH, HEIGHT]) - 0.5 - raw)
    need = np.minimum(16.0, edge_raw * t.scale_x)
    inside = np.minimum(pts + 0.5, 184 - 0.5 - pts)
    assert (inside >= need - 1e-6).all(), (pts, need)
    whole = pp.fit_transform(WIDTH, HEIGHT, 184)
    assert t.scale_x / whole.scale_x > 1.8
    np.testing.assert_allclose(t.input_to_raw(pts), r.landmarks_px[seen], atol=0.01)  # the exact raw <-> input map


def test_the_back_crop_scales_with_the_distance_and_keeps_every_row_of_a_body_cut_by_the_frame():
    near, far = _room(1300.0), _room(1900.0)
    boxes = {}
    for name, depth in (("near", near), ("far", far)):
        cut = pp.background_cut_mm(depth, "nearest", 1700.0, 300.0)
        d, valid = pp.denoise(depth, cut)
        boxes[name] = pp.back_crop_box(d, valid, name=name)
    (_, ny0, _, ny1), (_, fy0, _, fy1) = boxes["near"], boxes["far"]
    # the box starts 50 mm and ends 950 mm below the region's top (row 61), converted at the subject's depth
    assert ny0 - 61 == pytest.approx(50 * 365.456 / 1300, abs=2) and fy1 - 61 == pytest.approx(950 * 365.456 / 1900,
                                                                                                 abs=2)
    assert (ny1 - ny0) / (fy1 - fy0) == pytest.approx(1900 / 1300, rel=0.02)
    head_cut = near.copy()
    head_cut[:200] = 0  # no reading above row 200 (not the frame's edge): the first visible row is taken as the top
    d, valid = pp.denoise(head_cut, 1600.0)
    x0, y0, x1, y1 = pp.back_crop_box(d, valid)
    assert y0 == 200 + int(50 * 365.456 / 1300) and y1 == HEIGHT and x0 < 256 < x1
    top_cut = near.copy()  # the subject reaches the frame's first row: the head is above the frame, keep every row
    top_cut[:61] = top_cut[61]
    d, valid = pp.denoise(top_cut, 1600.0)
    assert pp.back_crop_box(d, valid)[1] == 0
    thin = near.copy()  # ... even where the region reaches the first row with a pixel or two only (hair, dropouts)
    thin[:61, 250:252] = 1300.0
    d, valid = pp.denoise(thin, 1600.0)
    assert pp.back_crop_box(d, valid)[1] == 0
    with pytest.raises(pp.PreprocessError, match="f3: cannot crop to the back: empty foreground"):
        pp.back_crop_box(d, np.zeros_like(valid), name="f3")

