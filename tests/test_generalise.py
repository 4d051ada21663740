"""Scoring on new cohorts: groups, frames not found, the table, the paragraph and the worst frames."""

import numpy as np
import pytest

from backsurface.core.landmarks import N_LANDMARKS
from backsurface.evaluation import generalise


def _errors(values):
    return np.tile(np.asarray(values, dtype=float)[:, None], (1, N_LANDMARKS))


def test_groups_split_healthy_and_deformed_and_frames_not_found_are_counted_not_averaged():
    inplane = _errors([4.0, 6.0, np.nan, 20.0])
    surface = inplane + 1.0
    deformed = [False, False, True, True]
    found = [True, True, False, True]
    s = generalise.score_cohort(inplane, surface, ["A", "B", "C", "D"], deformed, found, n_boot=50, seed=0)
    assert s["all"]["inplane_mre_mm"] == pytest.approx(10.0)  # (4 + 6 + 20) / 3: the lost frame is not a zero
    assert s["all"]["n_not_found"] == 1 and s["all"]["found_pct"] == pytest.approx(75.0)
    assert s["healthy"]["inplane_mre_mm"] == pytest.approx(5.0) and s["healthy"]["found_pct"] == 100.0
    assert s["deformed"]["inplane_mre_mm"] == pytest.approx(20.0) and s["deformed"]["n_not_found"] == 1
    assert s["all"]["surface_mre_mm"] == pytest.approx(11.0)
    assert s["healthy"]["inplane_sdr_10mm_pct"] == 100.0 and s["deformed"]["inplane_sdr_10mm_pct"] == 0.0
    lo, hi = s["all"]["inplane_mre_mm_ci"]
    assert 4.0 <= lo <= 10.0 <= hi <= 20.0


def test_a_cohort_without_deformed_subjects_has_no_deformed_entry_in_the_json():
    inplane = _errors([4.0, 6.0])
    s = generalise.score_cohort(inplane, inplane, ["A", "B"], [False, False], [True, True], n_boot=20, seed=0)
    out = generalise.metrics_json({"new_people": {"resnet50": s}})
    assert set(out["new_people"]["resnet50"]) >= {"inplane_mre_mm", "inplane_median_mm", "inplane_sdr_10mm_pct",
                                                  "inplane_mre_mm_by_landmark", "surface_mre_mm", "healthy"}
    assert "deformed" not in out["new_people"]["resnet50"]


def test_table_ratio_and_paragraph_read_the_scores():
    near = generalise.score_cohort(_errors([5.0, 7.0]), _errors([5.0, 7.0]), ["A", "B"], [False, True],
                                   [True, True], n_boot=20, seed=0)
    far = generalise.score_cohort(_errors([30.0, np.nan]), _errors([30.0, np.nan]), ["A", "B"], [False, False],
                                  [True, False], n_boot=20, seed=0)
    table = generalise.cohort_table({"near": {"vgg19": near}, "far": {"vgg19": far}}, {"vgg19": 6.0})
    assert "relative mm" not in table.columns  # scored without relative errors: no such column
    rows = table[table["group"] == "all"].set_index("cohort")
    assert rows.loc["near", "× test split"] == pytest.approx(1.0) and rows.loc["far", "× test split"] == 5.0
    text = generalise.generalise_paragraph(table, "vgg19")
    assert "1 of 2 new cohorts (near)" in text and "**far**, 30.0 mm (×5.00)" in text and "far (50% of frames)" in text


def test_worst_frames_skip_frames_without_a_prediction():
    e = _errors([3.0, np.nan, 9.0, 5.0])
    assert generalise.worst_frames(e, 2) == [2, 3]
    assert generalise.worst_frames(e, 10) == [2, 3, 0]


def test_the_test_split_is_scored_healthy_and_deformed_apart_from_the_cohort_table():
    from types import SimpleNamespace

    import pandas as pd
    table = pd.DataFrame({"subject_id": ["S1", "S2", "S3"], "deformed": [False, "True", "0"]})
    flags = generalise.deformed_by_subject(table)
    assert flags == {"S1": False, "S2": True, "S3": False}
    assert generalise.deformed_by_subject(table.drop(columns="deformed")) is None
    with pytest.raises(ValueError, match=r"cohort.csv: subject 'S2': deformed must be true or false, got 'yes'"):
        generalise.deformed_by_subject(table.assign(deformed=[False, "yes", False]))
    inplane = np.array([[2.0] * N_LANDMARKS, [9.0] * N_LANDMARKS, [4.0] * N_LANDMARKS])
    loc = SimpleNamespace(subject_ids=np.array(["S1", "S2", "S3"]), inplane_errors_mm=inplane,
                          surface_errors_mm=inplane + 1.0, relative_inplane_errors_mm=inplane / 2.0)
    groups = generalise.health_groups(loc, flags, n_boot=20, seed=0)
    assert groups["deformed"]["inplane_relative_mre_mm"] == pytest.approx(4.5)
    assert groups["healthy"]["inplane_mre_mm"] == pytest.approx(3.0)
    assert groups["deformed"]["inplane_mre_mm"] == pytest.approx(9.0)
    assert groups["all"]["n_frames"] == 3 and groups["all"]["found_pct"] == 100.0
    with pytest.raises(ValueError, match=r"no deformed flag for subjects \['S9'\]"):
        generalise.health_groups(SimpleNamespace(**{**vars(loc), "subject_ids": np.array(["S1", "S2", "S9"])}),
                                 flags, n_boot=20, seed=0)


def test_score_on_cohort_scores_a_predictor_over_rendered_frames_and_counts_a_frame_it_misses():
    from types import SimpleNamespace

    from backsurface.codec.label_codec import LabelCodec
    from backsurface.core.camera import KINECT_V2
    from backsurface.core.params import load_study
    from backsurface.core.paths import project_root

    codec = LabelCodec.from_params(load_study("params.yaml", "profiles/smoke.yaml", project_root()))
    rng = np.random.default_rng(0)
    depth = np.full((424, 512), 1500.0)
    records = []
    for n in range(3):
        px = np.column_stack([rng.uniform(200, 300, N_LANDMARKS), rng.uniform(100, 300, N_LANDMARKS)])
        records.append(SimpleNamespace(id=f"S{n}", depth=depth, landmarks=px,
                                       landmarks_mm=KINECT_V2.back_project(px, np.full(N_LANDMARKS, 1500.0)),
                                       subject={"subject_id": f"S{n}", "deformed": n == 2}))
    offset = np.array([3.0, 4.0])  # 5 raw pixels off on every landmark of S0

    class Predictor:  # the predictor's interface: S0 5 px off, S1 exact, S2 not found
        def __init__(self):
            self.codec = codec

        def predict_found(self, frames):
            assert set(frames) == {"S0", "S1", "S2"}
            return ({"S0": SimpleNamespace(points_raw=records[0].landmarks + offset),
                     "S1": SimpleNamespace(points_raw=records[1].landmarks)}, {"S2": "no subject"})

    scores, pred_raw, inplane = generalise.score_on_cohort(Predictor(), records, n_boot=20, seed=0)
    assert np.isnan(pred_raw[2]).all() and np.isnan(inplane[2]).all()
    assert np.allclose(inplane[1], 0.0)
    assert np.allclose(inplane[0], 5.0 * 1500.0 / KINECT_V2.fx, rtol=0.02)  # 5 px at 1.5 m, in millimetres
    assert scores["all"]["n_not_found"] == 1 and scores["deformed"]["found_pct"] == 0.0
    assert scores["healthy"]["inplane_mre_mm"] == pytest.approx(np.mean(inplane[:2]))
    assert scores["healthy"]["inplane_relative_mre_mm"] == pytest.approx(0.0, abs=1e-9)  # S0's offset is common
    assert np.isnan(scores["deformed"]["inplane_relative_mre_mm"])  # nothing found, nothing scored


def test_the_relative_error_is_averaged_per_group_and_tabled_beside_the_in_plane_error():
    inplane, relative = _errors([4.0, 6.0, 8.0]), _errors([1.0, 3.0, np.nan])
    s = generalise.score_cohort(inplane, inplane, ["A", "B", "C"], [False, True, True], [True, True, False],
                                n_boot=20, seed=0, relative=relative)
    assert s["all"]["inplane_relative_mre_mm"] == pytest.approx(2.0)
    assert s["healthy"]["inplane_relative_mre_mm"] == pytest.approx(1.0)
    assert s["deformed"]["inplane_relative_mre_mm"] == pytest.approx(3.0)
    table = generalise.cohort_table({"c": {"resnet50": s}}).set_index("group")
    assert table.loc["all", "relative mm"] == pytest.approx(2.0)
    assert list(table.columns).index("relative mm") == list(table.columns).index("within 10 mm %") + 1
