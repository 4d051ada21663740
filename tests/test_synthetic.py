"""The synthetic Kinect v2 cohort: anatomy, symmetry, deformity knobs, determinism, sensor model."""

import numpy as np
import pytest

from backsurface.acquisition.synthetic.body import Phenotype, Posture, closed_curve_tilts
from backsurface.acquisition.synthetic.cohort import CohortSpec, Subject
from backsurface.acquisition.synthetic.render import rasterize_depth
from backsurface.acquisition.synthetic.scene import Placement
from backsurface.acquisition.synthetic.sensor import NoiseModel, apply_sensor_model
from backsurface.core import camera
from backsurface.core.landmarks import index

STILL = Posture(arm_abduction_deg=8.0, elbow_flexion_deg=0.0)


def subject(posture=STILL, phenotype=Phenotype(), placement=Placement()):
    return Subject("T", "M", 27.0, phenotype, posture, placement, deformed=False)


def landmarks(source, posture=STILL, phenotype=Phenotype()):
    """(pixels, camera mm) of one noise-free rendering."""
    r = source.render(subject(posture, phenotype), np.random.default_rng(0))
    return r.landmarks_px, r.landmarks_mm


def y(px, key):
    return px[index(key), 1]


def x(px, key):
    return px[index(key), 0]


@pytest.mark.parametrize("phenotype", [Phenotype(gender=0.0), Phenotype(gender=1.0), Phenotype(weight=1.0)])
def test_anatomical_order_top_to_bottom_and_left_on_image_left(synthetic, phenotype):
    px, _ = landmarks(synthetic, phenotype=phenotype)
    for side in "LR":
        assert y(px, "VP") < y(px, f"{side}S") < y(px, f"{side}W") < y(px, f"{side}PSIS") < y(px, "NC")
        assert y(px, "VP") < y(px, f"{side}SH") < y(px, f"{side}S")
    for pair in ("SH", "S", "W", "PSIS"):
        assert x(px, f"L{pair}") < x(px, "VP") < x(px, f"R{pair}")
    # the back faces the sensor: every landmark sits on the near surface of the body
    # (silhouette landmarks such as the acromion: the visible surface within one pixel)
    r = synthetic.render(subject(phenotype=phenotype), np.random.default_rng(0))
    u, v = np.rint(r.landmarks_px).astype(int).T
    around = np.array([r.ideal_mm[v + dv, u + du] for dv in (-1, 0, 1) for du in (-1, 0, 1)])
    assert (np.abs(around - r.landmarks_mm[:, 2]).min(axis=0) < 20.0).all()


def test_symmetric_body_gives_mirror_symmetric_landmarks(synthetic):
    _, mm = landmarks(synthetic)
    for pair in ("SH", "S", "W", "PSIS"):
        left, right = mm[index(f"L{pair}")], mm[index(f"R{pair}")]
        np.testing.assert_allclose(left * [-1, 1, 1], right, atol=2.0, err_msg=pair)
    assert abs(mm[index("VP"), 0]) < 2.0 and abs(mm[index("NC"), 0]) < 2.0


@pytest.mark.parametrize(("angle", "lower", "upper"), [(30.0, 0.14, 0.13), (-12.0, 0.08, 0.07), (45.0, 0.2, 0.1)])
def test_closed_curve_has_the_cobb_angle_and_returns_to_the_line(angle, lower, upper):
    t_lo, t_hi = closed_curve_tilts(angle, lower, upper)
    assert t_hi - t_lo == pytest.approx(angle)
    assert np.sign(t_lo) == -np.sign(angle)
    assert lower * np.sin(np.radians(t_lo)) + upper * np.sin(np.radians(t_hi)) == pytest.approx(0.0, abs=1e-12)


def test_shoulder_and_pelvic_knobs_raise_the_right_side(synthetic):
    px0, _ = landmarks(synthetic)
    px, _ = landmarks(synthetic, Posture(shoulder_tilt_deg=6.0, elbow_flexion_deg=0.0))
    assert y(px, "RSH") < y(px0, "RSH") - 2 and y(px, "RSH") < y(px, "LSH") - 2
    assert y(px0, "RPSIS") == pytest.approx(y(px0, "LPSIS"), abs=0.1)
    rise = []
    for angle in (5.0, 10.0):
        _, mm = landmarks(synthetic, Posture(pelvic_obliquity_deg=angle, elbow_flexion_deg=0.0))
        rise.append(mm[index("LPSIS"), 1] - mm[index("RPSIS"), 1])  # camera Y points down
    assert 1.0 < rise[0] < rise[1]


def test_scoliosis_shifts_the_spine_and_raises_a_rib_hump(synthetic):
    _, mm0 = landmarks(synthetic)
    _, mm = landmarks(synthetic, Posture(thoracic_cobb_deg=30.0, axial_rotation_deg=10.0, elbow_flexion_deg=0.0))
    # a curve convex to the right moves the mid-back (between the scapulae) to the subject's right (+X camera)
    mid0 = (mm0[index("LS"), 0] + mm0[index("RS"), 0]) / 2
    mid = (mm[index("LS"), 0] + mm[index("RS"), 0]) / 2
    assert mid > mid0 + 10
    # the rotation turns the convex (right) side backwards, towards the sensor: the rib hump
    hump = mm[index("LS"), 2] - mm[index("RS"), 2]
    hump0 = mm0[index("LS"), 2] - mm0[index("RS"), 2]
    assert hump > hump0 + 10
    # and the angle grows with the knob
    _, mm_small = landmarks(synthetic, Posture(thoracic_cobb_deg=10.0, elbow_flexion_deg=0.0))
    small = (mm_small[index("LS"), 0] + mm_small[index("RS"), 0]) / 2
    assert mid0 < small < mid


def test_kyphosis_brings_the_upper_back_towards_the_sensor(synthetic):
    _, mm0 = landmarks(synthetic)
    _, mm = landmarks(synthetic, Posture(kyphosis_delta_deg=15.0, elbow_flexion_deg=0.0))

    def prominence(m):  # how far the scapulae stand out behind the PSIS (towards the sensor)
        return (m[index("LPSIS"), 2] + m[index("RPSIS"), 2]) / 2 - (m[index("LS"), 2] + m[index("RS"), 2]) / 2

    assert prominence(mm) > prominence(mm0) + 5


def test_same_seed_same_frames_different_seed_different(body):
    from backsurface.acquisition.synthetic.source import SyntheticSource

    def frames(seed):
        src = SyntheticSource(CohortSpec(n_subjects=2, n_female=1, deformity_share=0.5, seed=seed), body=body)
        return list(src)

    a, b, c = frames(5), frames(5), frames(6)
    for ra, rb in zip(a, b):
        np.testing.assert_array_equal(ra.depth, rb.depth)
        np.testing.assert_array_equal(ra.landmarks, rb.landmarks)
        assert ra.subject == rb.subject
    assert not np.array_equal(a[0].depth, c[0].depth)


def test_cohort_draws_the_papers_demographics(body):
    from backsurface.acquisition.synthetic.body import PhenotypePrior
    from backsurface.acquisition.synthetic.cohort import sample_cohort

    subjects = sample_cohort(CohortSpec(n_subjects=105, n_female=50, deformity_share=0.2, seed=1), PhenotypePrior(body))
    assert sum(s.sex == "F" for s in subjects) == 50 and len(subjects) == 105
    assert all(19 <= s.age <= 35 for s in subjects)
    assert sum(s.deformed for s in subjects) == 21
    assert all(s.posture.thoracic_cobb_deg == 0 for s in subjects if not s.deformed)
    assert all(s.phenotype.gender > 0.5 for s in subjects if s.sex == "F")


def test_a_heavier_cohort_squeezes_the_weight_law_and_weight_min_0_changes_nothing(body):
    from backsurface.acquisition.synthetic.body import PhenotypePrior
    from backsurface.acquisition.synthetic.cohort import sample_cohort

    prior = PhenotypePrior(body)
    base = sample_cohort(CohortSpec(n_subjects=30, n_female=15, seed=3), prior)
    same = sample_cohort(CohortSpec(n_subjects=30, n_female=15, weight_min=0.0, seed=3), prior)
    heavy = sample_cohort(CohortSpec(n_subjects=30, n_female=15, weight_min=0.6, seed=3), prior)
    assert base == same
    w, wh = (np.array([s.phenotype.weight for s in c]) for c in (base, heavy))
    np.testing.assert_allclose(wh, 0.6 + 0.4 * w)  # the same draws, squeezed into [0.6, 1]
    assert [s.age for s in heavy] == [s.age for s in base]


def test_frames_look_like_kinect_v2(synthetic):
    rec = next(iter(synthetic))
    assert rec.depth.shape == (camera.HEIGHT, camera.WIDTH) and rec.depth.dtype == np.uint16
    d = rec.depth.astype(float)
    body = (d > 0) & (d < 1700)
    assert 0.05 < body.mean() < 0.5  # the subject fills a good part of the frame
    assert np.median(d[body]) == pytest.approx(1450, abs=120)  # the back at about 1.5 m
    assert (d > 1700).mean() > 0.4  # wall and floor beyond the threshold
    assert 0 < (d == 0).mean() < 0.05  # some dropouts, not many
    assert rec.subject["height_m"] > 1.4 and 15 < rec.subject["bmi"] < 40


def test_sensor_model_noise_flying_pixels_and_range():
    intr = camera.KINECT_V2
    ideal = np.full((intr.height, intr.width), 2600.0)
    ideal[100:300, 200:300] = 1500.0  # a box in front of a wall
    ideal[:5] = np.inf  # nothing in range
    raw = apply_sensor_model(ideal, np.random.default_rng(1), NoiseModel(random_dropout=0.0))
    assert (raw[:5] == 0).all()
    inner = raw[150:250, 220:280].astype(float)
    assert inner.std() == pytest.approx(camera.axial_noise_sigma_mm(1500.0), rel=0.25)
    edge = raw[100:300, 199:201].astype(float)
    assert ((edge > 1600) & (edge < 2500)).any()  # flying pixels between foreground and wall
    clean = apply_sensor_model(ideal, np.random.default_rng(1), NoiseModel(enabled=False))
    assert set(np.unique(clean)) == {0, 1500, 2600}


def test_rasterizer_renders_a_plane_at_its_depth():
    intr = camera.KINECT_V2
    # a square 400 mm wide at 1000 mm, facing the sensor
    v = np.array([[-200, -200, 1000], [200, -200, 1000], [200, 200, 1000], [-200, 200, 1000]], float)
    f = np.array([[0, 1, 2], [0, 2, 3]])
    d = rasterize_depth(v, f, intr)
    covered = np.isfinite(d)
    np.testing.assert_allclose(d[covered], 1000.0)
    expected = (400 / 1000 * intr.fx) * (400 / 1000 * intr.fy)
    assert covered.sum() == pytest.approx(expected, rel=0.02)
    # the nearer of two overlapping surfaces wins
    v2 = np.vstack([v, v * [0.5, 0.5, 0.8]])
    d2 = rasterize_depth(v2, np.vstack([f, f + 4]), intr)
    assert d2[int(intr.cy), int(intr.cx)] == pytest.approx(800.0)
