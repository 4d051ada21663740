"""The curve-angle estimate, the tuned screening and the one-subject report (issue 14)."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backsurface.clinical import curve, screening
from backsurface.clinical.reference import Reference, ReferenceError
from backsurface.codec.label_codec import LabelCodec


def _line(theta_deg_of_s, length_mm=500.0, n=300):
    """A spine line from VP (top) down to NC whose tangent tilt along its length is ``theta(s)`` (s in [0, 1])."""
    s = np.linspace(0.0, 1.0, n)
    theta = np.radians(theta_deg_of_s(s))
    ds = length_mm / (n - 1)
    x = np.concatenate([[0.0], np.cumsum(np.sin(theta[1:]) * ds)])
    y = np.concatenate([[0.0], np.cumsum(np.cos(theta[1:]) * ds)])
    return np.stack([x, y], axis=1)


def test_a_straight_spine_has_no_curve():
    found = curve.curve_angles(_line(lambda s: np.zeros_like(s)))
    assert found["thoracic"] == curve.NO_CURVE and found["lumbar"] == curve.NO_CURVE
    tilted = curve.curve_angles(_line(lambda s: np.full_like(s, 7.0)))  # a leaning trunk is not a curve
    assert tilted["thoracic"].angle_deg == 0.0 and tilted["lumbar"].angle_deg == 0.0


@given(st.floats(3.0, 60.0), st.floats(0.15, 0.45), st.sampled_from([-1.0, 1.0]))
@settings(max_examples=30, deadline=None)
def test_a_single_thoracic_curve_is_measured_within_1_degree(angle, apex, side):
    # the tilt rises by `angle` over a curve centred at `apex` (a smooth step), the rest of the line is straight
    line = _line(lambda s: side * angle * (0.5 + 0.5 * np.tanh((s - apex) / 0.06)) - side * angle / 2)
    found = curve.curve_angles(line)
    assert found["thoracic"].angle_deg == pytest.approx(angle, abs=1.0)
    assert found["lumbar"].angle_deg < 1.0
    assert found["thoracic"].apex_share == pytest.approx(apex, abs=0.08)
    # the tilt turning towards +X going down bends the line convex to -X, the subject's left
    assert found["thoracic"].convex == ("left" if side > 0 else "right")


def test_an_s_curve_gives_both_angles_and_opposite_sides():
    # the tilt rises by 32° around the thoracic apex (30% down), then falls by 25° around the lumbar one (72%)
    line = _line(lambda s: 16.0 * np.tanh((s - 0.3) / 0.07) - 25.0 * (0.5 + 0.5 * np.tanh((s - 0.72) / 0.06)))
    found = curve.curve_angles(line)
    assert found["thoracic"].angle_deg == pytest.approx(32.0, abs=1.0)
    assert found["lumbar"].angle_deg == pytest.approx(25.0, abs=1.0)
    assert found["thoracic"].apex_share < 0.5 < found["lumbar"].apex_share
    assert {found["thoracic"].convex, found["lumbar"].convex} == {"left", "right"}


def test_the_calibration_recovers_a_known_line_and_round_trips():
    rng = np.random.default_rng(0)
    surface = {k: rng.uniform(0, 30, 50) for k in curve.KINDS}
    truth = {"thoracic": 2.0 + 1.5 * surface["thoracic"], "lumbar": 1.0 + 1.2 * surface["lumbar"]}
    cal = curve.Calibration.fit(surface, truth)
    assert cal.thoracic[:2] == pytest.approx((2.0, 1.5)) and cal.lumbar[:2] == pytest.approx((1.0, 1.2))
    assert cal.sd("thoracic") == pytest.approx(0.0, abs=1e-9) and cal.n_subjects == 50
    assert curve.Calibration.from_dict(json.loads(json.dumps(cal.to_dict()))) == cal
    np.testing.assert_allclose(cal.apply("thoracic", [10.0, -5.0]), [17.0, 0.0])  # never below 0
    with pytest.raises(ValueError, match="cal.json: a calibration holds"):
        curve.Calibration.from_dict({"thoracic": [1, 2], "lumbar": [1, 2, 3], "n_subjects": 3}, "cal.json")
    few = curve.Calibration.fit(surface, {**truth, "lumbar": np.full(50, np.nan)})  # nothing to fit the lumbar on
    assert few.lumbar[:2] == (0.0, 1.0) and np.isnan(few.sd("lumbar"))
    again = curve.Calibration.from_dict(json.loads(json.dumps(few.to_dict())))
    assert again.lumbar[:2] == (0.0, 1.0) and np.isnan(again.sd("lumbar"))


def test_angle_agreement_known_values():
    est, true = np.array([10.0, 20.0, 30.0, np.nan]), np.array([12.0, 18.0, 33.0, 5.0])
    s = screening.angle_agreement(est, true, n_boot=200, seed=0)
    assert s["n"] == 3 and s["dropped"] == 1
    assert s["mae"] == pytest.approx(7 / 3) and s["rmse"] == pytest.approx(np.sqrt(17 / 3))
    assert s["bias"] == pytest.approx(-1.0) and s["mae_ci"][0] <= s["mae"] <= s["mae_ci"][1]


def test_the_cut_off_is_tuned_on_one_cohort_and_never_sees_the_other():
    rng = np.random.default_rng(1)
    tune_truth = rng.uniform(0, 40, 200)
    tune_score = tune_truth + rng.normal(0, 3, 200)
    shown_truth = rng.uniform(0, 40, 80)
    shown_score = shown_truth + rng.normal(0, 3, 80)
    a = screening.tuned_screen(tune_score, tune_truth > 10, shown_score, shown_truth > 10, n_boot=50)
    # the reported cohort's labels, flipped or shuffled, change its AUC but never the cut-off
    b = screening.tuned_screen(tune_score, tune_truth > 10, shown_score, rng.permutation(shown_truth > 10), n_boot=50)
    assert a["cutoff"] == b["cutoff"] == screening.youden_cutoff(tune_score, tune_truth > 10)
    assert 7.0 < a["cutoff"] < 13.0 and a["auc"] > 0.9 and a["auc_ci_low"] <= a["auc"] <= a["auc_ci_high"]
    ss = screening.sensitivity_specificity(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0, 0, 1, 1]), 2.5)
    assert ss["sensitivity"] == 100.0 and ss["specificity"] == 100.0


def _reference(cal=None):
    return Reference({"ppotsi": (0.0, 10.0), "imbalance_mm": (-15.0, 15.0)}, cal or curve.Calibration.identity(),
                     {"curve_deg>10": 9.0, "curve_deg>20": 18.0}, "resnet50", "a test")


def test_noise_in_the_depth_under_a_straight_line_makes_no_curve():
    rng = np.random.default_rng(0)
    ys = np.arange(80.0, 330.0)
    xs = np.full_like(ys, 276.0)  # 20 px off the optical axis: depth noise moves the line sideways in mm
    for sd in (0.5, 1.0, 2.0):
        z = 1500.0 + rng.normal(0.0, sd, ys.size)
        found = curve.curve_angles(curve.line_mm(ys, xs, curve.smooth_depth(ys, z)))
        assert max(c.angle_deg for c in found.values()) < 0.5


def test_a_reference_round_trips_and_a_bad_one_names_its_file(tmp_path):
    path = _reference().save(tmp_path / "reference.json")
    assert Reference.load(path) == _reference()
    with pytest.raises(ReferenceError, match="nope.json: no clinical reference file there"):
        Reference.load(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    good = _reference().to_dict()
    for text in ("{", json.dumps({"format": 1}), json.dumps({**good, "ranges": {"x": [1]}}),
                 json.dumps({**good, "cutoffs": {"curve_deg>10": float("nan")}}),
                 json.dumps({**good, "cutoffs": {"curve>10": 9.0}}),
                 json.dumps({**good, "calibration": {**good["calibration"], "thoracic": "123"}}),
                 json.dumps({**good, "calibration": {**good["calibration"], "lumbar": [0, 1, -2]}})):
        bad.write_text(text)
        with pytest.raises(ReferenceError, match="bad.json"):
            Reference.load(bad)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from helpers import codec, untrained_model

    from backsurface.net import model_file

    m = untrained_model("resnet50", 32, stages=1, width=8, feature_channels=8)
    path = tmp_path_factory.mktemp("model") / "model.keras"
    model_file.save(m, codec(32), path, card={"backbone": "resnet50", "weights": "none"})
    return path


def test_the_report_command_end_to_end_on_a_frame_it_renders(tiny, synthetic, tmp_path, capsys):
    from backsurface.__main__ import main
    from backsurface.core import contract

    rec = next(iter(synthetic))
    frame = tmp_path / f"{rec.id}.png"
    contract.write_depth(frame, rec.depth)
    from helpers import codec

    ref = Reference(**{**vars(_reference()), "codec": codec(32)}).save(tmp_path / "reference.json")  # tiny's own
    pdf, page = tmp_path / "out" / "report.pdf", tmp_path / "out" / "report.html"
    rc = main(["report", str(frame), "--model", str(tiny), "--out", str(pdf), "--out", str(page),
               "--reference", str(ref)])
    assert rc == 0, capsys.readouterr().err
    assert pdf.read_bytes().startswith(b"%PDF")
    text = page.read_text(encoding="utf-8")
    for expected in ("not a diagnosis", "ppotsi", "healthy 95% range", "resnet50, weights none", "curve &gt; 10°",
                     "thoracic:", "data:image/png;base64,"):
        assert expected in text
    assert sorted(p.name for p in pdf.parent.iterdir()) == ["report.html", "report.pdf"]  # no temporaries left


@pytest.mark.parametrize("case", ["missing reference", "output is the frame", "wrong suffix", "corrupt frame",
                                  "reference of another model", "card not an object", "flip against the reference",
                                  "reference of another crop"])
def test_bad_report_input_is_one_line_exit_2_and_nothing_written(tiny, tmp_path, capsys, case):
    from backsurface.__main__ import main
    from backsurface.core import camera, contract

    frame = tmp_path / "F1.png"
    contract.write_depth(frame, np.full((camera.HEIGHT, camera.WIDTH), 1500, np.uint16))
    ref = _reference().save(tmp_path / "reference.json")
    out = tmp_path / "r.pdf"
    if case == "missing reference":
        ref = tmp_path / "absent.json"
    elif case == "output is the frame":
        out = frame
    elif case == "wrong suffix":
        out = tmp_path / "r.txt"
    elif case == "corrupt frame":
        frame.write_text("not a png")
    elif case == "reference of another model":
        ref = Reference(**{**vars(_reference()), "backbone": "vgg19"}).save(tmp_path / "reference.json")
    elif case == "reference of another crop":
        from helpers import codec

        other = LabelCodec.from_dict({**codec(32).to_dict(), "crop": "torso" if codec(32).crop != "torso" else "back"})
        ref = Reference(**{**vars(_reference()), "codec": other}).save(tmp_path / "reference.json")
    elif case == "card not an object":
        from backsurface.net.model_file import card_path
        card = card_path(tiny)
        saved = card.read_text()
        card.write_text("[1, 2]")
    flags = ["--no-flip-test"] if case == "flip against the reference" else []
    if flags:
        ref = Reference(**{**vars(_reference()), "flip_test": True}).save(tmp_path / "reference.json")
    before = sorted(p.name for p in tmp_path.iterdir())
    rc = main(["report", str(frame), "--model", str(tiny), "--out", str(out), "--reference", str(ref), *flags])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and err.startswith("error: ")
    assert {"missing reference": "absent.json", "output is the frame": "F1.png", "wrong suffix": "r.txt",
            "corrupt frame": "F1.png", "reference of another model": "tuned on 'vgg19'",
            "card not an object": "model.card.json",
            "flip against the reference": "tuned on landmarks predicted with the test-time flip",
            "reference of another crop": "the model's codec has crop"}[case] in err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    if case == "card not an object":
        card.write_text(saved)


def test_a_clinical_cohort_round_trips_through_its_file(tmp_path):
    import pandas as pd

    from backsurface.clinical import cohort_file

    rng = np.random.default_rng(0)
    table = pd.DataFrame({"subject_id": ["S001", "S002"], "sex": ["F", "M"], "deformed": [True, False],
                          "thoracic_cobb_deg": [12.5, 0.0], "age": [30, 41]})
    depths = [rng.integers(0, 4000, (424, 512)).astype(float) for _ in range(2)]
    px = {k: rng.uniform(0, 400, (2, 10, 2)) for k in cohort_file.SOURCES}
    mm = {k: rng.uniform(-500, 2000, (2, 10, 3)) for k in cohort_file.SOURCES}
    priors = [rng.uniform(200, 300, 57), None]
    c = cohort_file.ClinicalCohort(table, depths, px, mm, np.array([1800.0, 1750.5]), priors)
    back = cohort_file.load(cohort_file.save(tmp_path / "validation.npz", c))
    pd.testing.assert_frame_equal(back.table, table.astype({"age": float}))
    for a, b in zip(back.depths, depths):
        np.testing.assert_array_equal(a, b)
    for k in cohort_file.SOURCES:
        np.testing.assert_array_equal(back.px[k], px[k])
        np.testing.assert_array_equal(back.mm[k], mm[k])
    np.testing.assert_array_equal(back.priors[0], priors[0])
    assert back.priors[1] is None and list(back.cuts_mm) == [1800.0, 1750.5]
    with pytest.raises(ValueError, match="the table has 2 subjects, the frames 1"):
        cohort_file.save(tmp_path / "bad.npz", cohort_file.ClinicalCohort(table, depths[:1], px, mm, [1.0], [None]))


def _signs(n, seed):
    """Surface signs of n subjects whose true angle is mostly carried by the rib hump and the bend."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    truth = rng.uniform(0, 40, n)
    table = pd.DataFrame({"thoracic_surface_deg": 0.4 * truth + rng.normal(0, 3, n),
                          "lumbar_surface_deg": rng.uniform(0, 5, n),
                          "spine_max_deviation_mm": 0.3 * truth + rng.normal(0, 4, n),
                          "rib_hump_mm": 0.5 * truth + rng.normal(0, 0.5, n)})
    return table, truth


def test_the_angle_model_is_chosen_on_the_tuning_cohort_alone_and_round_trips():
    from backsurface.clinical.angle_model import AngleModel

    table, truth = _signs(80, 0)
    m = AngleModel.fit(table, truth)
    assert m.name == "spine line + deviation + rotation"  # the rib hump carries the angle here
    assert set(m.cv_mae) == {"spine line", "spine line + deviation", "spine line + deviation + rotation"}
    assert m.cv_mae[m.name] == min(m.cv_mae.values()) and m.residual_sd < 3.0
    new, new_truth = _signs(200, 1)  # new subjects: the model holds
    assert np.abs(m.predict(new) - new_truth).mean() < 2.5
    assert (m.predict(new) >= 0).all()
    # the validation cohort's truth never reaches the fit: refitting on tuning alone gives the same model
    assert AngleModel.fit(table, truth) == m
    back = AngleModel.from_dict(json.loads(json.dumps(m.to_dict())))
    assert back == m
    for broken, why in [({"name": "magic"}, "name must be one of"), ({"coef": [1.0]}, "coef must hold"),
                        ({"residual_sd": -1.0}, "residual_sd must be >= 0"), ({"n_subjects": 3}, "n_subjects"),
                        ({"coef": [1.0, float("nan"), 0.0, 0.0, 0.0]}, "coef must be a finite number")]:
        with pytest.raises(ValueError, match=why):
            AngleModel.from_dict(m.to_dict() | broken)
    with pytest.raises(ValueError, match="at least 10 subjects"):
        AngleModel.fit(table.head(5), truth[:5])


def test_a_reference_keeps_its_angle_model_and_an_older_file_reads_without_one(tmp_path):
    from backsurface.clinical.angle_model import AngleModel

    table, truth = _signs(40, 2)
    ref = Reference({"ppotsi": (1.0, 9.0)}, curve.Calibration.identity(), {"curve_deg>10": 9.5}, "resnet50", "test",
                    AngleModel.fit(table, truth))
    assert Reference.load(ref.save(tmp_path / "reference.json")) == ref
    old = ref.to_dict() | {"format": 1}
    del old["angle_model"]
    (tmp_path / "old.json").write_text(json.dumps(old))
    assert Reference.load(tmp_path / "old.json").angle_model is None
    flipped = Reference(**{**vars(ref), "flip_test": True})
    assert Reference.load(flipped.save(tmp_path / "flip.json")).flip_test is True
    before_flip = flipped.to_dict() | {"format": 2}
    del before_flip["flip_test"]
    (tmp_path / "v2.json").write_text(json.dumps(before_flip))
    assert Reference.load(tmp_path / "v2.json").flip_test is False  # format 2 predates the flip: tuned without it
    from helpers import codec

    with_codec = Reference(**{**vars(ref), "codec": codec(32)})
    assert Reference.load(with_codec.save(tmp_path / "codec.json")) == with_codec
    before_codec = with_codec.to_dict() | {"format": 3}
    del before_codec["codec"]
    (tmp_path / "v3.json").write_text(json.dumps(before_codec))
    assert Reference.load(tmp_path / "v3.json").codec is None  # format 3 predates the codec: not checked
    (tmp_path / "codec_bad.json").write_text(json.dumps(with_codec.to_dict() | {"codec": {"format": 2, "crop": 1}}))
    with pytest.raises(ReferenceError, match="codec_bad.json: not a clinical reference .*codec"):
        Reference.load(tmp_path / "codec_bad.json")
    (tmp_path / "flip_bad.json").write_text(json.dumps(flipped.to_dict() | {"flip_test": "yes"}))
    with pytest.raises(ReferenceError, match="flip_bad.json: not a clinical reference .*flip_test must be true"):
        Reference.load(tmp_path / "flip_bad.json")
    bad = ref.to_dict()
    bad["angle_model"]["names"] = ["rib_hump_mm"]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    with pytest.raises(ReferenceError, match="bad.json: not a clinical reference .*names must be"):
        Reference.load(tmp_path / "bad.json")


def test_a_tuning_cohort_too_small_for_the_angle_model_gives_none():
    from backsurface.clinical import angle_model

    table, truth = _signs(8, 3)
    assert angle_model.usable(table, truth) == 8 and angle_model.fit_if_enough(table, truth) is None
    table, truth = _signs(30, 3)
    table.loc[:25, "rib_hump_mm"] = np.nan  # no depth under the scapulae: 4 usable subjects left
    assert angle_model.fit_if_enough(table, truth) is None
    assert angle_model.fit_if_enough(*_signs(30, 4)) is not None


def test_the_angle_model_tables_list_every_candidate_and_the_chosen_coefficients():
    from backsurface.clinical import angle_model

    m = angle_model.AngleModel.fit(*_signs(40, 5))
    choice, chosen = angle_model.tables({"predicted": m, "true": None})
    assert len(choice) == len(angle_model.CANDIDATES) and choice["chosen"].sum() == 1
    assert list(chosen["intercept"]) == [m.coef[0]] and chosen["candidate"].item() == m.name
    empty_choice, empty_chosen = angle_model.tables({"predicted": None})
    assert empty_choice.empty and list(empty_chosen.columns) == ["landmarks", "candidate", "residual_sd_deg"]
