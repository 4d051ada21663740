"""Posture indices, the spine line and the screening statistics."""

import dataclasses

import numpy as np
import pytest

from backsurface.clinical import indices as clinical
from backsurface.clinical import screening
from backsurface.clinical.spine import lateral_deviation_mm, spine_line
from backsurface.core.landmarks import index

ASYMMETRY = ["imbalance_mm", "coronal_inclination_deg", *[f"{p}_obliquity_deg" for p in clinical.PAIRS],
             *[f"{p}_height_diff_mm" for p in clinical.PAIRS], "ppotsi", "scapular_depth_asym_mm",
             "waist_depth_asym_mm", "pdapi"]


def symmetric():
    """A mirror-symmetric back (subject's left = −X), VP 500 mm above NC."""
    p = np.zeros((10, 3))
    for key, (x, y, z) in {"VP": (0, -350, 1450), "NC": (0, 150, 1360), "LSH": (-170, -270, 1480),
                           "LS": (-70, -150, 1400), "LW": (-160, 15, 1470), "LPSIS": (-55, 125, 1360)}.items():
        p[index(key)] = (x, y, z)
        if key[0] == "L":
            p[index("R" + key[1:])] = (-x, y, z)
    return p


def indices(p, z=None):
    p = np.asarray(p)[None]
    z = p[..., 2] if z is None else np.asarray(z)[None]
    return {k: float(v[0]) for k, v in clinical.compute(p, z).items()}


def test_every_asymmetry_index_is_zero_on_a_symmetric_subject():
    got = indices(symmetric())
    for k in ASYMMETRY:
        assert got[k] == pytest.approx(0.0, abs=1e-12), k
    assert got["trunk_length_mm"] == pytest.approx(np.hypot(500, 90))
    assert got["sagittal_inclination_deg"] == pytest.approx(np.degrees(np.arctan2(90, 500)))


def test_hand_computed_values():
    p = symmetric()
    p[index("VP"), 0] -= 10.0  # 10 mm to the subject's left
    p[index("LSH"), 1] -= 20.0  # left shoulder 20 mm higher
    p[index("RW"), 0] -= 10.0  # right waist 10 mm nearer the midline: d_L = 160, d_R = 150
    got = indices(p)
    assert got["imbalance_mm"] == pytest.approx(10.0)
    assert got["coronal_inclination_deg"] == pytest.approx(np.degrees(np.arctan2(10, 500)))
    assert got["shoulder_height_diff_mm"] == pytest.approx(20.0)
    assert got["shoulder_obliquity_deg"] == pytest.approx(np.degrees(np.arctan2(20, 340)))
    fai_c7, fai_w, hdi_s = 100 * 10 / 500, 100 * 10 / 310, 100 * 20 / 500
    assert got["ppotsi"] == pytest.approx(fai_c7 + fai_w + hdi_s)
    z = p[:, 2].copy()
    z[index("RS")] += 8.0  # left scapula 8 mm nearer the sensor than the right: a left rib hump
    got = indices(p, z)
    assert got["scapular_depth_asym_mm"] == pytest.approx(8.0)
    assert got["pdapi"] == pytest.approx(100 * 8 / 500)


@pytest.mark.parametrize("knob, key", [
    (lambda p, t: p.__setitem__((index("VP"), 0), -t), "imbalance_mm"),
    (lambda p, t: p.__setitem__((index("LSH"), 1), -270 - t), "shoulder_obliquity_deg"),
    (lambda p, t: p.__setitem__((index("LPSIS"), 1), 125 - t), "pelvic_obliquity_deg"),
    (lambda p, t: p.__setitem__((index("LW"), 0), -160 - t), "ppotsi"),
])
def test_indices_grow_monotonically_with_their_knob(knob, key):
    values = []
    for t in (0.0, 5.0, 10.0, 20.0, 40.0):
        p = symmetric()
        knob(p, t)
        values.append(indices(p)[key])
    assert values[0] == pytest.approx(0.0, abs=1e-12) and np.all(np.diff(values) > 0), values


def test_degenerate_inputs_give_nan_with_a_reason():
    p = symmetric()
    p[index("VP")] = p[index("NC")]  # coincident
    p[index("LSH")] = np.nan  # missing
    values = clinical.compute(p[None])
    why = clinical.reasons(p[None], values)[0]
    assert np.isnan(values["imbalance_mm"][0]) and np.isnan(values["ppotsi"][0])
    assert np.isnan(values["shoulder_obliquity_deg"][0]) and "shoulder_obliquity_deg: missing LSH" in why
    assert "imbalance_mm: VP not above NC" in why
    assert "scapular_depth_asym_mm: no depth under LS/RS" in why  # no surface depth given
    assert np.isfinite(values["waist_obliquity_deg"][0]) and "waist_obliquity_deg" not in why
    with pytest.raises(ValueError, match=r"\(N, 10, 3\)"):
        clinical.compute(np.zeros((2, 9, 3)))


def _curved_back(amplitude_px: float):
    """A symmetric rounded back with a spinal groove (8 mm deep) whose midline bends by ``amplitude_px`` (a half
    sine) between rows 80-330.  (Without the groove the profile is a parabola, and a parabola moved sideways is
    the same parabola plus a linear ramp: no symmetry search that allows for a turned trunk can tell them apart.)"""
    h, w = 424, 512
    y, x = np.mgrid[0:h, 0:w].astype(float)
    centre = 256 + amplitude_px * np.sin(np.pi * (y - 80) / 250)
    d = 1400 + (x - centre) ** 2 / 60.0 + 8.0 * np.exp(-((x - centre) / 8.0) ** 2 / 2)
    d[(np.abs(x - centre) > 120) | (y < 60) | (y > 350)] = 2600  # wall
    return d, centre[:, 0]


def test_spine_line_follows_a_curved_symmetric_back():
    d, centre = _curved_back(12.0)
    ys, xs = spine_line(d, np.array([256.0, 80.0]), np.array([256.0, 330.0]), max_mm=1700)
    err = np.abs(xs - centre[ys.astype(int)])
    assert err.max() < 1.5
    dev = lateral_deviation_mm(ys, xs, np.array([256.0, 80.0]), np.array([256.0, 330.0]),
                                        np.full(len(ys), 1400.0))
    assert np.abs(dev).max() == pytest.approx(12.0 * 1400 / 365.456, rel=0.1)
    _, flat = spine_line(*[_curved_back(0.0)[0]], np.array([256.0, 80.0]), np.array([256.0, 330.0]))
    assert np.abs(flat - 256).max() < 1.0
    with pytest.raises(ValueError, match="above NC"):
        spine_line(d, np.array([256.0, 200.0]), np.array([256.0, 201.0]))


def test_a_back_turned_about_the_vertical_keeps_its_spine_line_and_its_curve_angle():
    from backsurface.clinical import curve

    d, centre = _curved_back(12.0)
    x = np.arange(d.shape[1], dtype=float)[None, :]
    turned = np.where(d < 2600, d + 1.2 * (x - 256), d)  # yaw: a linear depth ramp across the back (1.2 mm/px)
    vp, nc = np.array([256.0, 80.0]), np.array([256.0, 330.0])
    ys, xs = spine_line(turned, vp, nc, max_mm=1900)
    assert np.abs(xs - centre[ys.astype(int)]).max() < 1.5
    _, plain = spine_line(turned, vp, nc, max_mm=1900, detrend=False)  # the ramp reads as asymmetry
    assert np.abs(plain - centre[ys.astype(int)]).max() > 5.0
    z = np.full(len(ys), 1400.0)
    straight = curve.curve_angles(curve.line_mm(*spine_line(d, vp, nc, max_mm=1700), z))
    # the limit of allowing for a turn: a back with no groove, a pure parabola, moved sideways is the same parabola
    # plus a ramp, so its midline is found only without detrending
    y, x2 = np.mgrid[0:424, 0:512].astype(float)
    bowl = np.where(np.abs(x2 - 266) < 120, 1400 + (x2 - 266) ** 2 / 60.0, 2600.0)
    _, found = spine_line(bowl, vp, nc, max_mm=1700, detrend=False)
    assert np.abs(found - 266).max() < 1.0
    assert curve.curve_angles(curve.line_mm(ys, xs, z))["thoracic"].angle_deg == pytest.approx(
        straight["thoracic"].angle_deg, abs=1.0)


def test_synthetic_deformity_knobs_move_their_indices(synthetic):
    """Through the body model: more shoulder tilt → more shoulder obliquity; a larger curve → larger pPOTSI."""
    subject = synthetic.subjects[0]
    rng = np.random.default_rng(0)

    def landmarks(**posture):
        s = dataclasses.replace(subject, posture=dataclasses.replace(subject.posture, **posture))
        return synthetic.render(s, rng).landmarks_mm

    base = dict(thoracic_cobb_deg=0.0, lumbar_cobb_deg=0.0, axial_rotation_deg=0.0, shoulder_tilt_deg=0.0,
                pelvic_obliquity_deg=0.0, lean_lateral_deg=0.0, yaw_deg=0.0)
    tilt = [abs(clinical.compute(landmarks(**(base | {"shoulder_tilt_deg": t}))[None])["shoulder_obliquity_deg"][0])
            for t in (0.0, 4.0, 8.0)]
    assert np.all(np.diff(tilt) > 0), tilt
    curve = [clinical.compute(landmarks(**(base | {"thoracic_cobb_deg": c}))[None])["ppotsi"][0]
             for c in (0.0, 15.0, 30.0)]
    assert np.all(np.diff(curve) > 0), curve


def test_screening_statistics_on_known_cases():
    truth = np.array([1.0, 2.0, 3.0, 4.0, np.nan])
    ba = screening.bland_altman(truth + 2.0, truth)
    assert ba["bias"] == pytest.approx(2.0) and ba["sd"] == pytest.approx(0.0) and ba["dropped"] == 1
    a = screening.association(2 * truth + 1, truth)
    assert a["pearson_r"] == pytest.approx(1.0) and a["slope"] == pytest.approx(2.0)
    r = screening.roc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([False, False, True, True]))
    assert r["auc"] == 1.0
    assert np.isnan(screening.roc(np.array([0.1, 0.2]), np.array([True, True]))["auc"])


def test_frontal_plane_indices_ignore_a_wrong_depth_under_a_silhouette_landmark():
    """The measured failure: a shoulder on the silhouette gets the depth of whatever lies beside it, and through
    Y = (v − c_y)·Z/f that depth moves its height.  Level shoulders in the image stay level in the frontal plane."""
    from backsurface.clinical import cohort as assessment
    from backsurface.core.camera import KINECT_V2

    p = symmetric()
    px = KINECT_V2.project(p)[None]
    wrong = p.copy()
    z_true = wrong[index("RSH"), 2]
    wrong[index("RSH")] = KINECT_V2.back_project(px[0, index("RSH")][None], np.array([z_true + 150.0]))[0]
    three_d = {k: float(v[0]) for k, v in clinical.compute(wrong[None]).items()}
    assert abs(three_d["shoulder_obliquity_deg"]) > 3.0  # the lookup tilts the shoulders in 3D
    depth = assessment.back_depth_mm(p[None, :, 2], wrong[None])
    frontal = clinical.frontal_points(px, depth)
    got = {k: float(v[0]) for k, v in clinical.compute(wrong[None], None, frontal).items()}
    assert got["shoulder_obliquity_deg"] == pytest.approx(0.0, abs=1e-9)
    assert got["shoulder_height_diff_mm"] == pytest.approx(0.0, abs=1e-9)
    assert got["ppotsi"] == pytest.approx(0.0, abs=1e-9)
    # a real tilt is still seen: the left shoulder 10 px higher in the image is higher in the frontal plane
    px2 = px.copy()
    px2[0, index("LSH"), 1] -= 10.0
    got = clinical.compute(wrong[None], None, clinical.frontal_points(px2, depth))
    want = 10.0 * depth[0] / KINECT_V2.fy
    assert float(got["shoulder_height_diff_mm"][0]) == pytest.approx(want)
    with pytest.raises(ValueError, match="frontal points need"):
        clinical.frontal_points(px[0], depth)


def test_substitution_names_the_landmark_whose_error_moves_an_index():
    """True landmarks with one landmark at a time swapped for its prediction: only the swapped landmark that is
    wrong changes the index."""
    from backsurface.clinical import cohort as assessment
    from backsurface.core.camera import KINECT_V2

    p = symmetric()
    true_px = KINECT_V2.project(p)[None]
    depth = np.zeros((424, 512))
    depth[20:400, 100:420] = 1450.0  # a flat back under every landmark
    pred_px = true_px.copy()
    pred_px[0, index("LSH"), 1] -= 12.0  # the predicted left shoulder 12 px too high: a shoulder-height term
    mm = KINECT_V2.back_project(pred_px[0], np.full(10, 1450.0))[None]
    true_mm = KINECT_V2.back_project(true_px[0], np.full(10, 1450.0))[None]
    got = assessment.substitution([depth], true_px, true_mm, pred_px, mm, 3000.0, "ppotsi")
    assert set(got) == {"none", "all", *[k for k in ("VP", "NC", "LSH", "RSH", "LS", "RS", "LW", "RW", "LPSIS",
                                                          "RPSIS")]}
    assert got["none"][0] == pytest.approx(0.0, abs=1e-9)
    assert got["LSH"][0] == pytest.approx(got["all"][0]) and got["LSH"][0] > 1.0
    for key in ("VP", "NC", "RSH", "LW", "RW", "LS", "RS", "LPSIS", "RPSIS"):
        assert got[key][0] == pytest.approx(0.0, abs=1e-9), key
